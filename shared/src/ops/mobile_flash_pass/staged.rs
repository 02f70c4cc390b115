//! SEND_MFP rows from a staged file: one enrollment id per line, as CSV (an optional `id`
//! header, the id bare or quoted) or as JSON Lines (`"<id>"` or `{"id": "<id>"}`). A line that
//! holds no id is read as the id it spells and fails as one (INVALID_ENROLLMENT_ID, with why);
//! duplicates point at their first occurrence, as in a request.

use serde_json::Value;

use super::MfpRowInput;
use crate::enrollment::EnrollmentRef;
use crate::model::ChunkRow;
use crate::staged::{FileError, FirstSeen, Line, StagedRows};

/// The rows of one staged flash pass file.
#[derive(Default)]
pub struct MfpFileRows {
    /// First row of each enrollment.
    first_row: FirstSeen<u32>,
}

impl StagedRows for MfpFileRows {
    fn header(&mut self, line: &Line) -> Result<bool, FileError> {
        let text = line.text.trim().trim_matches('"');
        Ok(text.eq_ignore_ascii_case("id") || text.eq_ignore_ascii_case("ids"))
    }

    fn row(&mut self, row: u32, line: &Line) -> (ChunkRow, Option<String>) {
        let id = id_of(line.text.trim());
        let duplicate_of = EnrollmentRef::from_id(&id)
            .ok()
            .and_then(|enrollment| self.first_row.first(&[&enrollment.key()], row));
        (ChunkRow::new(row, &MfpRowInput { id, duplicate_of }), None)
    }
}

/// The id a line holds: a JSON string, a JSON object's `id`, else the line itself.
fn id_of(text: &str) -> String {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::String(id)) => id,
        Ok(Value::Object(mut object)) => match object.remove("id") {
            Some(Value::String(id)) => id,
            _ => text.to_owned(),
        },
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> Line {
        Line {
            number: 1,
            text: text.to_owned(),
            cut: false,
        }
    }

    #[test]
    fn every_spelling_of_an_id_reads_as_it() {
        for text in ["abc", " abc ", "\"abc\"", "{\"id\": \"abc\", \"other\": 1}"] {
            assert_eq!(id_of(text.trim()), "abc", "{text}");
        }
        assert_eq!(
            id_of("{\"ids\": 1}"),
            "{\"ids\": 1}",
            "no id: the line itself"
        );
        assert_eq!(id_of("a,b"), "a,b");
        let mut rows = MfpFileRows::default();
        assert!(rows.header(&line("ID")).unwrap());
        assert!(rows.header(&line("\"id\"")).unwrap());
        assert!(!rows.header(&line("abc")).unwrap());
    }
}
