//! JSON input: `{"ids": [...]}`, `{"source", "accountsList": [...]}`, or a bare array of ids
//! (strings) or accounts (objects).

use std::collections::HashMap;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::{agree, Api, Fault, Input, Lines, Problem, Row, Shape};

pub(super) fn parse(text: &str, asked: Option<Api>) -> Result<(Input, Vec<Problem>), Fault> {
    // serde_json's error names the line and column of a syntax error.
    let value: Value =
        serde_json::from_str(text).map_err(|e| Fault::Invalid(format!("malformed JSON: {e}")))?;
    match value {
        Value::Object(object) => parse_object(text, object, asked),
        Value::Array(items) => parse_array(text, items, asked),
        _ => Err(Fault::Invalid(
            "expected a JSON object with ids or accountsList, or an array".into(),
        )),
    }
}

fn parse_object(
    text: &str,
    mut object: Map<String, Value>,
    asked: Option<Api>,
) -> Result<(Input, Vec<Problem>), Fault> {
    let invalid = |message: &str| Fault::Invalid(message.to_owned());
    let (api, list_key) = match (
        object.contains_key("ids"),
        object.contains_key("accountsList"),
    ) {
        (true, false) => (agree(Api::Mfp, asked, "an object with ids")?, "ids"),
        (false, true) => (
            agree(Api::Accounts, asked, "an object with accountsList")?,
            "accountsList",
        ),
        (true, true) => {
            return Err(invalid(
                "the object has both ids and accountsList; keep one",
            ))
        }
        (false, false) => return Err(invalid("the object has neither ids nor accountsList")),
    };
    let Some(Value::Array(items)) = object.insert(list_key.to_owned(), Value::Null) else {
        return Err(Fault::Invalid(format!("{list_key} must be an array")));
    };
    let source = match object.get("source") {
        None | Some(Value::Null) => None,
        Some(Value::String(source)) => Some(source.clone()),
        Some(_) => return Err(invalid("source must be a string")),
    };
    let lines = element_lines(text, Some(list_key));
    let (rows, problems) = rows_of(items, &lines, api, list_key);
    let input = Input {
        api,
        shape: Shape::JsonObject { object, list_key },
        rows,
        source,
    };
    Ok((input, problems))
}

fn parse_array(
    text: &str,
    items: Vec<Value>,
    asked: Option<Api>,
) -> Result<(Input, Vec<Problem>), Fault> {
    let api = match items.first() {
        None => return Err(Fault::Invalid("the file has no rows to submit".into())),
        Some(Value::String(_)) => agree(Api::Mfp, asked, "an array of strings")?,
        Some(Value::Object(_)) => agree(Api::Accounts, asked, "an array of objects")?,
        Some(_) => {
            return Err(Fault::Invalid(
                "[0] must be an id (string) or an account (object)".into(),
            ))
        }
    };
    let lines = element_lines(text, None);
    let (rows, problems) = rows_of(items, &lines, api, "");
    let input = Input {
        api,
        shape: Shape::JsonArray,
        rows,
        source: None,
    };
    Ok((input, problems))
}

/// Keeps every item of the type the API takes; each other one is a problem. `list` prefixes
/// the index in messages.
fn rows_of(items: Vec<Value>, lines: &[u64], api: Api, list: &str) -> (Vec<Row>, Vec<Problem>) {
    let (mut rows, mut problems) = (Vec::new(), Vec::new());
    for (index, item) in items.into_iter().enumerate() {
        let line = lines.get(index).copied();
        let (fits, expected) = match api {
            Api::Mfp => (item.is_string(), "an id (string)"),
            Api::Accounts => (item.is_object(), "an account (object)"),
        };
        if fits {
            rows.push(Row {
                payload: item,
                cells: None,
                line,
            });
        } else {
            problems.push(Problem::at(
                line,
                format!("{list}[{index}] must be {expected}"),
            ));
        }
    }
    (rows, problems)
}

/// The line each element of the row list starts on: the raw elements borrow the text, so
/// their position in it is their offset. Empty if the text cannot be read that way.
fn element_lines(text: &str, list_key: Option<&str>) -> Vec<u64> {
    let list: Option<&RawValue> = match list_key {
        None => serde_json::from_str(text).ok(),
        Some(key) => serde_json::from_str::<HashMap<String, &RawValue>>(text)
            .ok()
            .and_then(|object| object.get(key).copied()),
    };
    let Some(items) = list.and_then(|l| serde_json::from_str::<Vec<&RawValue>>(l.get()).ok())
    else {
        return Vec::new();
    };
    let (start, lines) = (text.as_ptr() as usize, Lines::of(text));
    items
        .iter()
        .map(|item| lines.line((item.get().as_ptr() as usize).saturating_sub(start)))
        .collect()
}
