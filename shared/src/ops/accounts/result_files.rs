//! ADD_ACCOUNTS rows in the result files: each row as its upload's `rows` route shows it; a
//! failed row as the account it was (its echo: `uploadIndex` and the model, never a secret), a
//! line of a staged account file as it stands. The CSV's columns are the operator client's
//! ([`super::columns`]), with one `platformAccountProperties.<key>` column per key any failed
//! row has: the first pass collects them.

use indexmap::IndexSet;
use serde_json::Value;

use super::columns::{self, Column};
use super::model::{NESTED_FIELDS, TEXT_FIELDS};
use super::results::result_item;
use super::rows::row_item;
use crate::error::StoreError;
use crate::results::{ResultLine, ResultRow, ResultRows};

/// The result files' shape of account rows.
#[derive(Default)]
pub struct AccountResultRows {
    /// The platform property keys of the failed rows, in order of first appearance.
    properties: IndexSet<String>,
    /// The CSV's columns, fixed once the first pass is over.
    columns: std::sync::OnceLock<Vec<Column>>,
}

impl AccountResultRows {
    fn columns(&self) -> &[Column] {
        self.columns.get_or_init(|| self.all_columns())
    }

    fn all_columns(&self) -> Vec<Column> {
        let text = TEXT_FIELDS
            .iter()
            .filter(|field| **field != "secret")
            .map(|field| Column::Text(field));
        let nested = NESTED_FIELDS
            .iter()
            .map(|&(object, field, boolean)| Column::Nested {
                object,
                field,
                boolean,
            });
        let properties = self.properties.iter().cloned().map(Column::Property);
        std::iter::once(Column::UploadIndex)
            .chain(text)
            .chain(nested)
            .chain(properties)
            .collect()
    }
}

impl ResultRows for AccountResultRows {
    fn wants_first_pass(&self) -> bool {
        true
    }

    fn observe(&mut self, row: &ResultRow<'_>) -> Result<(), StoreError> {
        if !row.is_failed() {
            return Ok(());
        }
        if let Some(Value::Object(properties)) = row.outcome()?.item.get(super::model::PROPERTIES) {
            for key in properties.keys() {
                if !self.properties.contains(key) {
                    self.properties.insert(key.clone());
                }
            }
        }
        Ok(())
    }

    fn row(&self, row: &ResultRow<'_>) -> Result<ResultLine, StoreError> {
        Ok(ResultLine::Shaped(row_item(row.outcome()?.clone())))
    }

    fn failed_input(&self, row: &ResultRow<'_>) -> Result<Value, StoreError> {
        Ok(Value::Object(row.outcome()?.item.clone()))
    }

    fn failed_csv_header(&self) -> Vec<String> {
        self.columns().iter().map(Column::name).collect()
    }

    fn failed_csv_record(&self, row: &ResultRow<'_>) -> Result<Vec<String>, StoreError> {
        Ok(columns::cells(self.columns(), &row.outcome()?.item))
    }

    fn succeeded(&self, row: &ResultRow<'_>) -> Result<ResultLine, StoreError> {
        Ok(ResultLine::Shaped(Value::Object(result_item(
            row.outcome()?.clone(),
        ))))
    }
}
