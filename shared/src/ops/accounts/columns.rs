//! Accounts as CSV: a header row of BulkAccountModel field names, plain columns for the
//! top-level fields, dotted columns for the nested objects
//! (`secretManagement.automaticManagementEnabled`, `platformAccountProperties.LogonDomain`,
//! ...). The operator client reads its CSV input with these columns, and a staged account
//! file's rows are read with them too, so both take the same files.

use csv::StringRecord;
use serde_json::{Map, Value};

// The account's properties are the model's: one list for the API's binding and these columns.
use super::model::{NESTED_FIELDS, PROPERTIES, TEXT_FIELDS};

/// What one CSV column holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    Text(&'static str),
    UploadIndex,
    /// A key of `platformAccountProperties` (kept as written: platform properties are
    /// case-sensitive).
    Property(String),
    Nested {
        object: &'static str,
        field: &'static str,
        boolean: bool,
    },
}

impl Column {
    /// The canonical dotted name, to spot duplicates and for messages.
    pub fn name(&self) -> String {
        match self {
            Column::Text(field) => (*field).to_owned(),
            Column::UploadIndex => "uploadIndex".to_owned(),
            Column::Property(key) => format!("{PROPERTIES}.{key}"),
            Column::Nested { object, field, .. } => format!("{object}.{field}"),
        }
    }
}

/// Field names are matched case-insensitively, so `safename` is not silently dropped; an
/// unknown column is an error for the same reason.
fn column(name: &str) -> Option<Column> {
    let name = name.trim();
    if name.eq_ignore_ascii_case("uploadIndex") {
        return Some(Column::UploadIndex);
    }
    if let Some(field) = TEXT_FIELDS.iter().find(|f| f.eq_ignore_ascii_case(name)) {
        return Some(Column::Text(field));
    }
    let (object, field) = name.split_once('.')?;
    if object.eq_ignore_ascii_case(PROPERTIES) && !field.trim().is_empty() {
        return Some(Column::Property(field.trim().to_owned()));
    }
    NESTED_FIELDS
        .iter()
        .find(|(o, f, _)| o.eq_ignore_ascii_case(object) && f.eq_ignore_ascii_case(field))
        .map(|&(object, field, boolean)| Column::Nested {
            object,
            field,
            boolean,
        })
}

/// A header cell that is not a column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// `number` is 1-based.
    #[error(
        "unknown column {name:?} in the header; the accepted columns are: {}",
        accepted().join(", ")
    )]
    Unknown { number: usize, name: String },
    #[error("column {number}: {name} appears twice in the header")]
    Twice { number: usize, name: String },
}

/// Every column name a header may use (nested ones dotted), for the unknown-column error.
pub fn accepted() -> Vec<String> {
    std::iter::once("uploadIndex".to_owned())
        .chain(TEXT_FIELDS.iter().map(|f| (*f).to_owned()))
        .chain(std::iter::once(format!("{PROPERTIES}.<key>")))
        .chain(NESTED_FIELDS.iter().map(|(o, f, _)| format!("{o}.{f}")))
        .collect()
}

/// Maps every header cell to its column.
pub fn parse_header(header: &StringRecord) -> Result<Vec<Column>, HeaderError> {
    let mut columns: Vec<Column> = Vec::with_capacity(header.len());
    for (index, name) in header.iter().enumerate() {
        let number = index + 1;
        let Some(column) = column(name) else {
            return Err(HeaderError::Unknown {
                number,
                name: name.trim().to_owned(),
            });
        };
        if columns.iter().any(|c| c.name() == column.name()) {
            return Err(HeaderError::Twice {
                number,
                name: column.name(),
            });
        }
        columns.push(column);
    }
    Ok(columns)
}

/// A cell whose text is not of its column's type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}, got {cell:?}", self.without_value())]
pub struct CellError {
    /// 1-based.
    pub number: usize,
    pub column: String,
    pub expected: &'static str,
    pub cell: String,
}

impl CellError {
    /// The message without the cell's text, for messages the service keeps (a misaligned
    /// row could put any value, a secret too, in a typed column).
    pub fn without_value(&self) -> String {
        format!(
            "column {} ({}): expected {}",
            self.number, self.column, self.expected
        )
    }
}

/// Builds the account of one record; empty cells are left out.
pub fn account(columns: &[Column], record: &StringRecord) -> Result<Map<String, Value>, CellError> {
    let mut account = Map::new();
    let mut objects = NestedObjects::default();
    for (index, (column, cell)) in columns.iter().zip(record.iter()).enumerate() {
        if cell.trim().is_empty() {
            continue;
        }
        let wrong = |expected| CellError {
            number: index + 1,
            column: column.name(),
            expected,
            cell: cell.to_owned(),
        };
        match column {
            Column::Text(field) => {
                account.insert((*field).to_owned(), Value::String(cell.to_owned()));
            }
            Column::UploadIndex => {
                let number: i64 = cell.trim().parse().map_err(|_| wrong("an integer"))?;
                account.insert("uploadIndex".to_owned(), Value::from(number));
            }
            Column::Property(key) => {
                objects
                    .get(PROPERTIES)
                    .insert(key.clone(), Value::String(cell.to_owned()));
            }
            Column::Nested {
                object,
                field,
                boolean,
            } => {
                let value = match (boolean, parse_bool(cell)) {
                    (false, _) => Value::String(cell.to_owned()),
                    (true, Some(flag)) => Value::Bool(flag),
                    (true, None) => return Err(wrong("true or false")),
                };
                objects.get(object).insert((*field).to_owned(), value);
            }
        }
    }
    for (key, object) in objects.0 {
        account.insert(key.to_owned(), Value::Object(object));
    }
    Ok(account)
}

/// The cells of `account` (an account as a JSON object, as [`account`] builds and rows echo
/// it) under `columns`: the inverse of [`account`], absent values as empty cells.
pub fn cells(columns: &[Column], account: &Map<String, Value>) -> Vec<String> {
    let text = |value: Option<&Value>| match value {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    let nested = |object: &str, field: &str| account.get(object).and_then(|o| o.get(field));
    columns
        .iter()
        .map(|column| match column {
            Column::Text(field) => text(account.get(*field)),
            Column::UploadIndex => text(account.get("uploadIndex")),
            Column::Property(key) => text(nested(PROPERTIES, key)),
            Column::Nested { object, field, .. } => text(nested(object, field)),
        })
        .collect()
}

fn parse_bool(cell: &str) -> Option<bool> {
    let cell = cell.trim();
    if cell.eq_ignore_ascii_case("true") {
        Some(true)
    } else if cell.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// The nested objects of one account, in the order their first column appears.
#[derive(Default)]
struct NestedObjects(Vec<(&'static str, Map<String, Value>)>);

impl NestedObjects {
    fn get(&mut self, key: &'static str) -> &mut Map<String, Value> {
        let position = match self.0.iter().position(|(k, _)| *k == key) {
            Some(position) => position,
            None => {
                self.0.push((key, Map::new()));
                self.0.len() - 1
            }
        };
        &mut self.0[position].1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_errors_name_the_column() {
        let unknown = parse_header(&StringRecord::from(vec!["safeName", "platfromId"]));
        let text = unknown.unwrap_err().to_string();
        assert!(
            text.starts_with("unknown column \"platfromId\" in the header; the accepted columns are: uploadIndex, name,"),
            "{text}"
        );
        let twice = parse_header(&StringRecord::from(vec!["safeName", "SAFENAME"]));
        assert_eq!(
            twice.unwrap_err().to_string(),
            "column 2: safeName appears twice in the header"
        );
    }

    #[test]
    fn a_cell_error_can_leave_the_value_out() {
        let columns = parse_header(&StringRecord::from(vec![
            "safeName",
            "secretManagement.automaticManagementEnabled",
        ]))
        .unwrap();
        let error = account(&columns, &StringRecord::from(vec!["s", "hunter2"])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "column 2 (secretManagement.automaticManagementEnabled): expected true or false, got \"hunter2\""
        );
        assert!(!error.without_value().contains("hunter2"));
    }
}
