//! ADD_ACCOUNTS rows from a staged file (issue 11): the accounts of a bulk upload far larger
//! than a request body, read one line at a time.
//!
//! **Formats**, told apart by the file's first non-blank line:
//! - **JSON Lines** (it starts with `{`): one account object per line, exactly what an element
//!   of a request's `accountsList` is (property names in any case, `secret`, an optional
//!   `uploadIndex`). No header.
//! - **CSV** (anything else): the first line is a header of field names, nested fields dotted
//!   (`secretManagement.automaticManagementEnabled`, `platformAccountProperties.LogonDomain`),
//!   the columns the operator client reads ([`super::columns`]); then one account a line. A
//!   header naming an unknown column, a column twice, or lacking `safeName` or `platformId`
//!   fails the job ([`FileError::BadHeader`]): no row of it could be read.
//!
//! **CSV records.** A quoted field may hold commas, doubled quotes (`"Smith, ""J"""`) and line
//! breaks (a multi-line secret, such as an SSH key, as spreadsheet tools write it): a record
//! goes on over the next lines until its quote closes, and is one row, numbered as a row and
//! reported at its first line. A line break inside a field reads as `\n`, whatever the file
//! used. A record longer than a row may be is cut and fails, and the lines after the cut are
//! read as rows of their own: so a quote never closed fails as one row what follows it, up to
//! the end of the file or that limit.
//!
//! **Rows.** Each row is built as a request's is (`uploadIndex` the caller's, else the row
//! number; the secret kept apart; a duplicate of an earlier row's safe, userName and address
//! pointing at that row's uploadIndex). A line that is not an account (malformed JSON, a
//! property of the wrong type, no `safeName`, a CSV line with the wrong number of fields, a
//! line cut for its length) is a row all the same: it carries why
//! ([`AccountRowInput::rejected`], `line 12: safeName is required`), fails with INVALID_FIELDS
//! when its chunk runs, and never stages a secret.

use std::io::Cursor;

use csv::StringRecord;
use serde_json::Value;

use super::columns::{self, Column};
use super::model::{parse_account, ParsedAccount};
use super::{account_key, AccountRowInput};
use crate::chunking::MAX_ROW_BYTES;
use crate::model::ChunkRow;
use crate::staged::{FileError, FirstSeen, Line, StagedRows};

/// The rows of one staged account file.
#[derive(Default)]
pub struct AccountFileRows {
    format: Format,
    csv: CsvLine,
    /// The uploadIndex of the first row of each account key.
    first_index: FirstSeen<i64>,
}

/// What the file's first line said it is.
#[derive(Default)]
enum Format {
    /// No header read yet: lines are read as JSON Lines.
    #[default]
    Unknown,
    JsonLines,
    Csv(Vec<Column>),
}

impl StagedRows for AccountFileRows {
    fn header(&mut self, line: &Line) -> Result<bool, FileError> {
        let text = without_bom(&line.text);
        if text.trim_start().starts_with('{') {
            self.format = Format::JsonLines;
            return Ok(false);
        }
        let bad = |reason: String| FileError::BadHeader {
            line: line.number,
            reason,
        };
        if line.cut {
            return Err(bad(format!("the CSV header is over {MAX_ROW_BYTES} bytes")));
        }
        if ends_in_quotes(text) {
            return Err(bad(
                "a quoted field of the CSV header is not closed on its line".to_owned(),
            ));
        }
        let header = self.csv.read(text).map_err(&bad)?;
        let columns = columns::parse_header(header).map_err(|e| bad(e.to_string()))?;
        if let Some(missing) = ["safeName", "platformId"]
            .into_iter()
            .find(|required| !columns.contains(&Column::Text(required)))
        {
            return Err(bad(format!(
                "the CSV header has no {missing} column, which every account needs"
            )));
        }
        self.format = Format::Csv(columns);
        Ok(true)
    }

    fn continues(&self, line: &Line) -> bool {
        matches!(self.format, Format::Csv(_)) && ends_in_quotes(&line.text)
    }

    fn row(&mut self, row: u32, line: &Line) -> (ChunkRow, Option<String>) {
        match self.account(line) {
            Ok(parsed) => {
                let mut input = AccountRowInput::new(row, parsed.upload_index, parsed.model);
                let key = account_key(&input.account);
                input.duplicate_of = self
                    .first_index
                    .first(&[&key.pk, &key.sk], input.upload_index);
                (input.into_row(row), parsed.secret)
            }
            Err(reason) => {
                let reason = format!("line {}: {reason}", line.number);
                (AccountRowInput::rejected(row, reason).into_row(row), None)
            }
        }
    }
}

impl AccountFileRows {
    /// The account on `line`, bound as a request's is, or why it is not one. No reason
    /// quotes the line: a misplaced secret must not end up in a row's error.
    fn account(&mut self, line: &Line) -> Result<ParsedAccount, String> {
        if line.cut {
            return Err(format!(
                "the line is over {MAX_ROW_BYTES} bytes, the most a row may hold"
            ));
        }
        let text = without_bom(&line.text);
        let value = match &self.format {
            Format::Csv(columns) => {
                let record = self.csv.read(text)?;
                if record.len() != columns.len() {
                    return Err(format!(
                        "found {} fields, but the header has {}",
                        record.len(),
                        columns.len()
                    ));
                }
                let account = columns::account(columns, record).map_err(|e| e.without_value())?;
                Value::Object(account)
            }
            Format::JsonLines | Format::Unknown => json_object(text)?,
        };
        parse_account(&value, "").map_err(|error| error.message)
    }
}

/// One JSON Lines line's account object.
fn json_object(text: &str) -> Result<Value, String> {
    match serde_json::from_str::<Value>(text) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err("the line is not a JSON object (one account a line)".to_owned()),
        Err(error) => {
            // serde_json's message ends with the position in the text it was given: one line.
            let message = error.to_string();
            let message = message
                .rsplit_once(" at line ")
                .map_or(message.as_str(), |(message, _)| message);
            Err(format!(
                "malformed JSON at column {}: {message}",
                error.column()
            ))
        }
    }
}

/// A spreadsheet tool's byte-order mark before the first line.
fn without_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// Reads one CSV line at a time with one reader: a reader built for each line costs ≈40
/// times as much (≈13 µs a line).
struct CsvLine {
    reader: csv::Reader<Cursor<Vec<u8>>>,
    record: StringRecord,
}

impl Default for CsvLine {
    fn default() -> Self {
        Self {
            reader: Self::reader(),
            record: StringRecord::new(),
        }
    }
}

impl CsvLine {
    fn reader() -> csv::Reader<Cursor<Vec<u8>>> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            // Only the line break the reader is given ends a record; a lone `\r` is text.
            .terminator(csv::Terminator::Any(b'\n'))
            .from_reader(Cursor::new(Vec::new()))
    }

    /// The fields of one record (its line breaks, if any, inside quoted fields).
    fn read(&mut self, line: &str) -> Result<&StringRecord, String> {
        let cursor = self.reader.get_mut();
        let mut bytes = std::mem::take(cursor.get_mut());
        bytes.clear();
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        *cursor = Cursor::new(bytes);
        let read = self.reader.read_record(&mut self.record);
        // A quoted field still open at the end took the record's last line break in.
        let open = ends_in_quotes(line);
        match read {
            Ok(true) if !open => Ok(&self.record),
            outcome => {
                // Whatever the reader holds of this line must not reach the next one.
                self.reader = Self::reader();
                Err(match outcome {
                    Err(error) => format!("malformed CSV: {error}"),
                    Ok(false) => "the line holds no fields".to_owned(),
                    Ok(true) => {
                        "a quoted field is not closed before the end of the file".to_owned()
                    }
                })
            }
        }
    }
}

/// Whether CSV text ends inside a quoted field, as the `csv` crate reads it: a quote opens a
/// field only at its start, `""` inside one is a quote, and a quote elsewhere is text.
fn ends_in_quotes(text: &str) -> bool {
    let (mut quoted, mut field_start) = (false, true);
    let mut bytes = text.bytes().peekable();
    while let Some(byte) = bytes.next() {
        if quoted {
            if byte == b'"' && bytes.next_if_eq(&b'"').is_none() {
                quoted = false;
            }
            field_start = false;
        } else {
            quoted = byte == b'"' && field_start;
            field_start = matches!(byte, b',' | b'\n');
        }
    }
    quoted
}

#[cfg(test)]
mod tests;
