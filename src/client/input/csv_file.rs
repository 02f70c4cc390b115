//! CSV input: one mfp id per line (optional `id`/`ids` header), or accounts under a header
//! row naming account fields.

use anyhow::{bail, Context};
use csv::StringRecord;
use serde_json::Value;

use super::account_columns::{self, Column};
use super::{Api, Input, Row, Shape};

pub(super) fn parse(text: &str, asked: Option<Api>) -> anyhow::Result<Input> {
    let records = read_records(text)?;
    let Some(first) = records.first() else {
        bail!("the file has no rows to submit");
    };
    let api = asked.unwrap_or_else(|| detect(first));
    match api {
        Api::Mfp => parse_ids(records),
        Api::Accounts => parse_accounts(records),
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

/// Every record that has a non-blank cell; the csv crate handles quoting and byte-order marks.
fn read_records(text: &str) -> anyhow::Result<Vec<StringRecord>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = Vec::new();
    for record in reader.records() {
        let record = record.context("malformed CSV")?;
        if record.iter().any(|cell| !cell.trim().is_empty()) {
            records.push(record);
        }
    }
    Ok(records)
}

/// The 1-based line a record starts on.
fn line_of(record: &StringRecord) -> u64 {
    record.position().map_or(0, |p| p.line())
}

fn parse_ids(records: Vec<StringRecord>) -> anyhow::Result<Input> {
    let mut records = records.into_iter().peekable();
    let header = records.next_if(is_id_header);
    let rows = records
        .map(|record| {
            if record.len() != 1 {
                bail!(
                    "line {}: expected one id per line, found {} fields",
                    line_of(&record),
                    record.len()
                );
            }
            Ok(Row {
                payload: Value::String(record[0].trim().to_owned()),
                cells: Some(record),
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Input {
        api: Api::Mfp,
        shape: Shape::Csv { header },
        rows,
        source: None,
    })
}

fn is_id_header(record: &StringRecord) -> bool {
    record.len() == 1
        && (record[0].trim().eq_ignore_ascii_case("id")
            || record[0].trim().eq_ignore_ascii_case("ids"))
}

fn parse_accounts(records: Vec<StringRecord>) -> anyhow::Result<Input> {
    let mut records = records.into_iter();
    let Some(header) = records.next() else {
        bail!("the file has no rows to submit");
    };
    let columns: Vec<Column> = account_columns::parse_header(&header)
        .with_context(|| format!("line {}: bad header", line_of(&header)))?;
    let rows = records
        .map(|record| {
            if record.len() != header.len() {
                bail!(
                    "line {}: found {} fields, but the header has {}",
                    line_of(&record),
                    record.len(),
                    header.len()
                );
            }
            let account = account_columns::account(&columns, &record)
                .with_context(|| format!("line {}", line_of(&record)))?;
            Ok(Row {
                payload: Value::Object(account),
                cells: Some(record),
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Input {
        api: Api::Accounts,
        shape: Shape::Csv {
            header: Some(header),
        },
        rows,
        source: None,
    })
}
