//! Mapping an accounts CSV header to BulkAccountModel fields: plain columns for the top-level
//! fields, dotted columns for the nested objects (`secretManagement.automaticManagementEnabled`,
//! `platformAccountProperties.LogonDomain`, ...).

use csv::StringRecord;
use serde_json::{Map, Value};

// The account's properties are the model's: one list for the API's binding and these columns.
use bulkops_shared::ops::accounts::model::{NESTED_FIELDS, PROPERTIES, TEXT_FIELDS};

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
    fn name(&self) -> String {
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderError {
    /// `number` is 1-based.
    Unknown {
        number: usize,
        name: String,
    },
    Twice {
        number: usize,
        name: String,
    },
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

/// Builds the account of one record; empty cells are left out.
pub fn account(columns: &[Column], record: &StringRecord) -> Result<Map<String, Value>, String> {
    let mut account = Map::new();
    let mut objects = NestedObjects::default();
    for (index, (column, cell)) in columns.iter().zip(record.iter()).enumerate() {
        if cell.trim().is_empty() {
            continue;
        }
        let at = || format!("column {} ({})", index + 1, column.name());
        match column {
            Column::Text(field) => {
                account.insert((*field).to_owned(), Value::String(cell.to_owned()));
            }
            Column::UploadIndex => {
                let number: i64 = cell
                    .trim()
                    .parse()
                    .map_err(|_| format!("{}: expected an integer, got {cell:?}", at()))?;
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
                    (true, None) => {
                        return Err(format!("{}: expected true or false, got {cell:?}", at()))
                    }
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
