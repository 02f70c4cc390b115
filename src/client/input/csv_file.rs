//! CSV input: one mfp id per line (optional `id`/`ids` header), or accounts under a header
//! row naming account fields. A header cell that names nothing known is an error, never
//! sent as data.

use bulkops_shared::enrollment::EnrollmentRef;
use bulkops_shared::ops::accounts::columns::{self as account_columns, Column, HeaderError};
use csv::StringRecord;
use serde_json::Value;

use super::{Api, Fault, Input, Lines, Problem, Row, Shape};

/// The header cells an mfp id file may have.
const ID_HEADERS: [&str; 2] = ["id", "ids"];

pub(super) fn parse(text: &str, asked: Option<Api>) -> Result<(Input, Vec<Problem>), Fault> {
    let records = read_records(text)?;
    let Some(first) = records.first() else {
        return Err(Fault::Invalid("the file has no rows to submit".into()));
    };
    let api = asked.unwrap_or_else(|| detect(first));
    match api {
        Api::Mfp => parse_ids(&Lines::of(text), text, records),
        Api::Accounts => parse_accounts(&Lines::of(text), text, records),
    }
}

/// A header naming either required account field marks an accounts file.
fn detect(first: &StringRecord) -> Api {
    let is_account_field = |cell: &str| {
        let cell = cell.trim();
        cell.eq_ignore_ascii_case("safeName") || cell.eq_ignore_ascii_case("platformId")
    };
    if first.iter().any(is_account_field) {
        Api::Accounts
    } else {
        Api::Mfp
    }
}

/// Every record that has a non-blank cell; the csv crate handles quoting.
fn read_records(text: &str) -> Result<Vec<StringRecord>, Fault> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| Fault::Invalid(format!("malformed CSV: {e}")))?;
        if record.iter().any(|cell| !cell.trim().is_empty()) {
            records.push(record);
        }
    }
    Ok(records)
}

/// The 1-based line a record starts on. The csv crate's own line count leaves out empty
/// lines, and its byte offset points before them: skip them from there.
fn line_of(lines: &Lines, text: &str, record: &StringRecord) -> u64 {
    let offset = record
        .position()
        .and_then(|p| usize::try_from(p.byte()).ok())
        .unwrap_or(0);
    let rest = text.get(offset..).unwrap_or_default();
    let blank = rest.len() - rest.trim_start_matches(['\r', '\n']).len();
    lines.line(offset + blank)
}

fn parse_ids(
    lines: &Lines,
    text: &str,
    records: Vec<StringRecord>,
) -> Result<(Input, Vec<Problem>), Fault> {
    let mut records = records.into_iter().peekable();
    let header = records.next_if(is_id_header);
    if header.is_none() {
        if let Some(first) = records.peek() {
            if let Some(name) = first.iter().find(|cell| names_a_column(cell)) {
                return Err(Fault::UnknownHeader {
                    line: line_of(lines, text, first),
                    name: name.trim().to_owned(),
                    accepted: ID_HEADERS.map(str::to_owned).to_vec(),
                });
            }
        }
    }
    let (mut rows, mut problems) = (Vec::new(), Vec::new());
    for record in records {
        let line = Some(line_of(lines, text, &record));
        if record.len() != 1 {
            let message = format!("expected one id per line, found {} fields", record.len());
            problems.push(Problem::at(line, message));
            continue;
        }
        rows.push(Row {
            payload: Value::String(record[0].trim().to_owned()),
            cells: Some(record),
            line,
        });
    }
    let input = Input {
        api: Api::Mfp,
        shape: Shape::Csv { header },
        rows,
        source: None,
    };
    Ok((input, problems))
}

fn is_id_header(record: &StringRecord) -> bool {
    record.len() == 1
        && ID_HEADERS
            .iter()
            .any(|h| record[0].trim().eq_ignore_ascii_case(h))
}

/// A cell that reads as a column name (`enrollmentId`, `user id`) rather than an enrollment id.
fn names_a_column(cell: &str) -> bool {
    let cell = cell.trim();
    cell.starts_with(|c: char| c.is_ascii_alphabetic())
        && cell
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ' '))
        && EnrollmentRef::from_id(cell).is_err()
}

fn parse_accounts(
    lines: &Lines,
    text: &str,
    records: Vec<StringRecord>,
) -> Result<(Input, Vec<Problem>), Fault> {
    let mut records = records.into_iter();
    let Some(header) = records.next() else {
        return Err(Fault::Invalid("the file has no rows to submit".into()));
    };
    let line = line_of(lines, text, &header);
    let columns: Vec<Column> = account_columns::parse_header(&header).map_err(|e| match e {
        HeaderError::Unknown { name, .. } => Fault::UnknownHeader {
            line,
            name,
            accepted: account_columns::accepted(),
        },
        twice @ HeaderError::Twice { .. } => Fault::Invalid(format!("line {line}: {twice}")),
    })?;
    let (mut rows, mut problems) = (Vec::new(), Vec::new());
    for record in records {
        let line = Some(line_of(lines, text, &record));
        if record.len() != header.len() {
            let message = format!(
                "found {} fields, but the header has {}",
                record.len(),
                header.len()
            );
            problems.push(Problem::at(line, message));
            continue;
        }
        match account_columns::account(&columns, &record) {
            Ok(account) => rows.push(Row {
                payload: Value::Object(account),
                cells: Some(record),
                line,
            }),
            Err(error) => problems.push(Problem::at(line, error.to_string())),
        }
    }
    let input = Input {
        api: Api::Accounts,
        shape: Shape::Csv {
            header: Some(header),
        },
        rows,
        source: None,
    };
    Ok((input, problems))
}
