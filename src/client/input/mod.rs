//! Reading an input file into the rows to submit, keeping each row as the file had it so
//! the failed rows can be written back in the file's own shape.

mod account_columns;
mod csv_file;
mod json_file;

use std::path::Path;

use anyhow::{bail, Context};
use serde_json::{json, Map, Value};

use super::args::Api;

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

/// Reads and parses `path`; `api` forces the API instead of detecting it from the content.
pub fn read_input(path: &Path, api: Option<Api>) -> anyhow::Result<Input> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
        anyhow::anyhow!(
            "{}: line {line} is not UTF-8 (save the file as UTF-8)",
            path.display()
        )
    })?;
    parse_input(path, &text, api).with_context(|| format!("parsing {}", path.display()))
}

/// Parses the text of an input file (`path` only decides the format by its extension).
pub fn parse_input(path: &Path, text: &str, api: Option<Api>) -> anyhow::Result<Input> {
    // Spreadsheet tools often save a byte-order mark; neither parser wants it.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let input = match format_of(path, text) {
        Format::Json => json_file::parse(text, api)?,
        Format::Csv => csv_file::parse(text, api)?,
    };
    if input.rows.is_empty() {
        bail!("the file has no rows to submit");
    }
    Ok(input)
}

/// Checks a detected API against the one asked for on the command line.
fn agree(detected: Api, asked: Option<Api>, what: &str) -> anyhow::Result<Api> {
    match asked {
        Some(asked) if asked != detected => {
            bail!(
                "the file is {what}, which is for the {detected} API, but --api {asked} was given"
            )
        }
        _ => Ok(detected),
    }
}

#[cfg(test)]
mod tests;
