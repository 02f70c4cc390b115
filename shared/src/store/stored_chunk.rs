//! A chunk's stored row outcomes, parsed whole or read as stored.

use crate::error::StoreError;
use crate::model::{RowOutcome, StoredOutcome};

/// One chunk's stored row outcomes, in row order.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredChunk {
    /// The 0-based chunk number: every row of chunk `n` comes before every row of `n + 1`.
    pub chunk: u32,
    pub outcomes: Vec<RowOutcome>,
}

/// One chunk's stored row outcomes as stored: the JSON array of them.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredChunkJson {
    pub chunk: u32,
    pub json: String,
}

impl StoredChunkJson {
    /// Its outcomes as stored, each with its row and outcome read, in row order.
    pub fn outcomes(&self) -> Result<Vec<StoredOutcome<'_>>, StoreError> {
        self.in_row_order(|o: &StoredOutcome<'_>| o.row)
    }

    /// The chunk with its outcomes parsed whole, in row order.
    pub fn parse(&self) -> Result<StoredChunk, StoreError> {
        Ok(StoredChunk {
            chunk: self.chunk,
            outcomes: self.in_row_order(|o: &RowOutcome| o.row)?,
        })
    }

    /// The stored array read as `T`s, sorted by their row.
    fn in_row_order<'a, T: serde::Deserialize<'a>>(
        &'a self,
        row: impl Fn(&T) -> u32,
    ) -> Result<Vec<T>, StoreError> {
        let mut outcomes: Vec<T> =
            serde_json::from_str(&self.json).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        outcomes.sort_by_key(row);
        Ok(outcomes)
    }
}
