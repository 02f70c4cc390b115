//! A stored row outcome read for its row and outcome only, its fields left as stored.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use super::{Outcome, RowOutcome};

/// A row outcome as stored (its JSON, borrowed from the chunk that holds it), with the two
/// fields every reader needs read. A reader that writes rows as stored (the result files of
/// most rows) never builds the echo and result trees; one that needs them calls
/// [`StoredOutcome::parse`].
#[derive(Clone, Copy, Debug)]
pub struct StoredOutcome<'a> {
    pub row: u32,
    pub outcome: Outcome,
    /// The outcome's JSON, as [`RowOutcome`] serializes it.
    pub json: &'a RawValue,
}

/// The fields read at once; serde passes over the rest.
#[derive(Deserialize)]
struct Head {
    row: u32,
    outcome: Outcome,
}

impl<'a> StoredOutcome<'a> {
    pub fn is_failed(&self) -> bool {
        self.outcome == Outcome::Failed
    }

    /// The whole outcome.
    pub fn parse(&self) -> Result<RowOutcome, serde_json::Error> {
        serde_json::from_str(self.json.get())
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for StoredOutcome<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = <&'a RawValue>::deserialize(deserializer)?;
        let head: Head = serde_json::from_str(json.get()).map_err(D::Error::custom)?;
        Ok(Self {
            row: head.row,
            outcome: head.outcome,
            json,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Map};

    use super::*;

    fn outcomes() -> Vec<RowOutcome> {
        let item = |id: &str| match json!({ "id": id, "note": {"row": 1, "outcome": "FAILED"} }) {
            serde_json::Value::Object(map) => map,
            _ => Map::new(),
        };
        vec![
            RowOutcome::succeeded(7, item("a\"b"), Some(json!({ "outcome": "FAILED" }))),
            RowOutcome::failed(8, item("ü\n"), "ENROLLMENT_NOT_FOUND", "not found"),
        ]
    }

    #[test]
    fn reads_row_and_outcome_and_keeps_the_stored_bytes() {
        let stored = serde_json::to_string(&outcomes()).expect("serialize");
        let read: Vec<StoredOutcome<'_>> = serde_json::from_str(&stored).expect("read");
        let heads: Vec<(u32, Outcome)> = read.iter().map(|o| (o.row, o.outcome)).collect();
        assert_eq!(heads, [(7, Outcome::Succeeded), (8, Outcome::Failed)]);
        for (read, outcome) in read.iter().zip(outcomes()) {
            assert_eq!(
                read.json.get(),
                serde_json::to_string(&outcome).expect("json")
            );
            assert_eq!(read.parse().expect("parse"), outcome);
        }
    }

    #[test]
    fn an_outcome_without_its_row_is_an_error() {
        let read = serde_json::from_str::<Vec<StoredOutcome<'_>>>(r#"[{"outcome":"FAILED"}]"#);
        assert!(read.is_err());
    }
}
