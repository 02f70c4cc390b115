//! Reading an input file into the rows to submit, keeping each row as the file had it (and
//! the line it is on) so the failed rows can be written back in the file's own shape. The
//! whole file is checked against the API's rules before anything is sent.

mod csv_file;
mod json_file;
mod problems;
mod validate;

use std::path::Path;

use serde_json::{json, Map, Value};

use super::args::Api;
pub use problems::{Fault, InputError, Problem};

/// A parsed input file.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    pub api: Api,
    /// How the file was laid out, so failed rows can be written the same way.
    pub shape: Shape,
    pub rows: Vec<Row>,
    /// The `source` of a `{"source", "accountsList"}` file.
    pub source: Option<String>,
}

/// The layout of the input file.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// A JSON object holding the row list under `list_key` (`ids` or `accountsList`). The list
    /// itself is replaced by `null`, keeping the key's position for writing.
    JsonObject {
        object: Map<String, Value>,
        list_key: &'static str,
    },
    /// A bare JSON array of rows.
    JsonArray,
    /// CSV; `header` is the header row as read (always present for accounts, optional for
    /// mfp ids).
    Csv { header: Option<csv::StringRecord> },
}

/// One input row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// What is sent: an id string (mfp) or an account object (accounts).
    pub payload: Value,
    /// The CSV cells exactly as read; `None` for JSON input, whose rows are their payload.
    pub cells: Option<csv::StringRecord>,
    /// The 1-based line of the file the row starts on.
    pub line: Option<u64>,
}

impl Input {
    /// The request body of the submit call.
    pub fn request_body(&self, source: &str) -> Value {
        let list: Vec<Value> = self.rows.iter().map(|row| row.payload.clone()).collect();
        match self.api {
            Api::Mfp => json!({ "ids": list }),
            Api::Accounts => json!({ "source": source, "accountsList": list }),
        }
    }

    /// Whether any row carries a secret (an account's `secret`, in any spelling), so that a
    /// file of these rows must be readable by its owner only.
    pub fn has_secrets(&self, indexes: &[usize]) -> bool {
        indexes
            .iter()
            .filter_map(|&i| self.rows.get(i))
            .filter_map(|row| row.payload.as_object())
            .flat_map(|account| account.iter())
            .any(|(key, value)| {
                key.eq_ignore_ascii_case("secret") && value.as_str().is_some_and(|s| !s.is_empty())
            })
    }

    /// How a row is named in messages: `ids[3]` in a JSON object, `[3]` in a bare array,
    /// nothing for CSV (whose line number says it).
    fn label(&self, index: usize) -> Option<String> {
        match &self.shape {
            Shape::JsonObject { list_key, .. } => Some(format!("{list_key}[{index}]")),
            Shape::JsonArray => Some(format!("[{index}]")),
            Shape::Csv { .. } => None,
        }
    }
}

/// The file's format, from its extension or, without a known one, from its first character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
}

fn format_of(path: &Path, text: &str) -> Format {
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match extension.as_deref() {
        Some("json") => Format::Json,
        Some("csv") => Format::Csv,
        _ if text.trim_start().starts_with(['{', '[']) => Format::Json,
        _ => Format::Csv,
    }
}

/// Reads, parses and checks `path`; `api` forces the API instead of detecting it.
pub fn read_input(path: &Path, api: Option<Api>) -> Result<Input, InputError> {
    let error = |fault| InputError {
        path: path.to_path_buf(),
        fault,
    };
    let bytes = std::fs::read(path).map_err(|e| error(Fault::Read(e)))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
        error(Fault::NotUtf8(line as u64))
    })?;
    parse_input(path, &text, api)
}

/// Parses and checks the text of an input file (`path` decides the format by its extension
/// and names the file in errors). Every row the API would refuse is an error, all at once.
pub fn parse_input(path: &Path, text: &str, api: Option<Api>) -> Result<Input, InputError> {
    // Spreadsheet tools often save a byte-order mark; neither parser wants it.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    parse(text, format_of(path, text), api).map_err(|fault| InputError {
        path: path.to_path_buf(),
        fault,
    })
}

fn parse(text: &str, format: Format, api: Option<Api>) -> Result<Input, Fault> {
    let (input, mut problems) = match format {
        Format::Json => json_file::parse(text, api)?,
        Format::Csv => csv_file::parse(text, api)?,
    };
    problems.extend(validate::row_problems(&input));
    if !problems.is_empty() {
        problems.sort_by_key(|p| p.line.unwrap_or(u64::MAX));
        return Err(Fault::BadRows(problems));
    }
    if input.rows.is_empty() {
        return Err(Fault::Invalid("the file has no rows to submit".into()));
    }
    Ok(input)
}

/// Checks a detected API against the one asked for on the command line.
fn agree(detected: Api, asked: Option<Api>, what: &str) -> Result<Api, Fault> {
    match asked {
        Some(asked) if asked != detected => Err(Fault::Invalid(format!(
            "the file is {what}, which is for the {detected} API, but --api {asked} was given"
        ))),
        _ => Ok(detected),
    }
}

/// The 1-based line of any byte offset of a text, found in the offsets of its line breaks
/// (one pass over the text, then a binary search per row).
struct Lines(Vec<usize>);

impl Lines {
    fn of(text: &str) -> Self {
        Self(
            text.bytes()
                .enumerate()
                .filter_map(|(i, b)| (b == b'\n').then_some(i))
                .collect(),
        )
    }

    fn line(&self, offset: usize) -> u64 {
        self.0.partition_point(|&newline| newline < offset) as u64 + 1
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
#[test]
fn lines_are_counted_from_one() {
    let lines = Lines::of("a\nbc\n\nd");
    let found: Vec<u64> = [0, 1, 2, 4, 5, 6, 7]
        .iter()
        .map(|&o| lines.line(o))
        .collect();
    assert_eq!(found, [1, 1, 2, 2, 3, 4, 4]);
}
#[cfg(test)]
mod whole_file_tests;
