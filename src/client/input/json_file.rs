//! JSON input: `{"ids": [...]}`, `{"source", "accountsList": [...]}`, or a bare array of ids
//! (strings) or accounts (objects).

use anyhow::{bail, Context};
use serde_json::{Map, Value};

use super::{agree, Api, Input, Row, Shape};

pub(super) fn parse(text: &str, asked: Option<Api>) -> anyhow::Result<Input> {
    // serde_json's error names the line and column of a syntax error.
    let value: Value = serde_json::from_str(text).context("malformed JSON")?;
    match value {
        Value::Object(object) => parse_object(object, asked),
        Value::Array(items) => parse_array(items, asked),
        _ => bail!("expected a JSON object with ids or accountsList, or an array"),
    }
}

fn parse_object(mut object: Map<String, Value>, asked: Option<Api>) -> anyhow::Result<Input> {
    let (api, list_key) = match (
        object.contains_key("ids"),
        object.contains_key("accountsList"),
    ) {
        (true, false) => (agree(Api::Mfp, asked, "an object with ids")?, "ids"),
        (false, true) => (
            agree(Api::Accounts, asked, "an object with accountsList")?,
            "accountsList",
        ),
        (true, true) => bail!("the object has both ids and accountsList; keep one"),
        (false, false) => bail!("the object has neither ids nor accountsList"),
    };
    let Some(Value::Array(items)) = object.insert(list_key.to_owned(), Value::Null) else {
        bail!("{list_key} must be an array");
    };
    let source = match object.get("source") {
        None | Some(Value::Null) => None,
        Some(Value::String(source)) => Some(source.clone()),
        Some(_) => bail!("source must be a string"),
    };
    let rows = rows_of(items, api, list_key)?;
    Ok(Input {
        api,
        shape: Shape::JsonObject { object, list_key },
        rows,
        source,
    })
}

fn parse_array(items: Vec<Value>, asked: Option<Api>) -> anyhow::Result<Input> {
    let api = match items.first() {
        None => bail!("the file has no rows to submit"),
        Some(Value::String(_)) => agree(Api::Mfp, asked, "an array of strings")?,
        Some(Value::Object(_)) => agree(Api::Accounts, asked, "an array of objects")?,
        Some(_) => bail!("[0] must be an id (string) or an account (object)"),
    };
    Ok(Input {
        api,
        shape: Shape::JsonArray,
        rows: rows_of(items, api, "")?,
        source: None,
    })
}

/// Checks every item has the type the API takes; `list` prefixes the index in messages.
fn rows_of(items: Vec<Value>, api: Api, list: &str) -> anyhow::Result<Vec<Row>> {
    items
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            let fits = match api {
                Api::Mfp => item.is_string(),
                Api::Accounts => item.is_object(),
            };
            if !fits {
                let expected = match api {
                    Api::Mfp => "an id (string)",
                    Api::Accounts => "an account (object)",
                };
                bail!("{list}[{index}] must be {expected}");
            }
            Ok(Row {
                payload: item,
                cells: None,
            })
        })
        .collect()
}
