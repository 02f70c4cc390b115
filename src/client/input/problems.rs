//! What is wrong with an input file. Every bad row is found before anything is sent and
//! reported at once by the file's line number, so the operator fixes the file in one go.

use std::fmt;
use std::path::PathBuf;

/// How many bad rows an error lists; the others are counted.
pub const LISTED_PROBLEMS: usize = 20;

/// One bad row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The 1-based line of the file where the row starts (`None` when it is not known).
    pub line: Option<u64>,
    /// What is wrong, naming the column or property.
    pub message: String,
}

impl Problem {
    pub fn at(line: Option<u64>, message: impl Into<String>) -> Self {
        Self {
            line,
            message: message.into(),
        }
    }
}

/// A file that cannot be submitted; nothing was sent.
#[derive(Debug, thiserror::Error)]
#[error("{}: {fault}", path.display())]
pub struct InputError {
    pub path: PathBuf,
    pub fault: Fault,
}

/// Why a file cannot be submitted.
#[derive(Debug, thiserror::Error)]
pub enum Fault {
    #[error("cannot be read: {0}")]
    Read(#[source] std::io::Error),
    #[error("line {0} is not UTF-8 (save the file as UTF-8)")]
    NotUtf8(u64),
    /// The file as a whole is not a request: malformed JSON or CSV, no rows, the wrong list.
    #[error("{0}")]
    Invalid(String),
    /// A header cell that names no field (it would otherwise be sent as data).
    #[error(
        "line {line}: unknown column {name:?} in the header; the accepted columns are: {}",
        accepted.join(", ")
    )]
    UnknownHeader {
        line: u64,
        name: String,
        accepted: Vec<String>,
    },
    /// Rows the API would refuse, every one of them.
    #[error("{}", BadRows(.0))]
    BadRows(Vec<Problem>),
    #[error(
        "the staged file is {size} bytes, over the {api} API's limit of {limit} bytes: split \
         the input into files of about {rows_per_file} rows"
    )]
    TooLarge {
        api: super::Api,
        size: usize,
        limit: usize,
        rows_per_file: usize,
    },
}

/// The bad rows, the first [`LISTED_PROBLEMS`] listed.
struct BadRows<'a>(&'a [Problem]);

impl fmt::Display for BadRows<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.0.len();
        let rows = if count == 1 { "row" } else { "rows" };
        write!(
            f,
            "{count} bad {rows}; nothing was sent (fix them and submit again):"
        )?;
        for problem in self.0.iter().take(LISTED_PROBLEMS) {
            match problem.line {
                Some(line) => write!(f, "\n  line {line}: {}", problem.message)?,
                None => write!(f, "\n  {}", problem.message)?,
            }
        }
        if count > LISTED_PROBLEMS {
            write!(f, "\n  ... and {} more", count - LISTED_PROBLEMS)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_rows_are_listed_up_to_the_cap_and_counted() {
        let problems: Vec<Problem> = (1..=25)
            .map(|n| Problem::at(Some(n + 1), format!("ids[{n}] is bad")))
            .collect();
        let error = InputError {
            path: PathBuf::from("ids.csv"),
            fault: Fault::BadRows(problems),
        };
        let text = error.to_string();
        assert!(
            text.starts_with("ids.csv: 25 bad rows; nothing was sent"),
            "{text}"
        );
        assert!(text.contains("\n  line 2: ids[1] is bad"), "{text}");
        assert!(text.contains("\n  line 21: ids[20] is bad"), "{text}");
        assert!(!text.contains("line 22:"), "{text}");
        assert!(text.ends_with("\n  ... and 5 more"), "{text}");
        let one = Fault::BadRows(vec![Problem::at(None, "[0] must be a string")]).to_string();
        assert_eq!(
            one,
            "1 bad row; nothing was sent (fix them and submit again):\n  [0] must be a string"
        );
    }
}
