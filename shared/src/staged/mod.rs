//! Staged files: jobs far larger than a request body, read from a file as a stream (issue 11).
//! [`lines`] reads the file one line at a time; an operation's [`StagedRows`] turns each line
//! into a row (a line that is not a valid row becomes a row that fails, with its reason, never
//! a refused job); [`split`] fills chunks as the rows come, parks them all beside the job,
//! then sets the job's totals, releases it and queues its first window of chunks. On AWS the
//! file is an object of the upload bucket ([`s3`]), and its creation reaches the splitter
//! function through the split queue ([`notifications`]).

pub mod expiry;
pub mod lines;
pub mod notifications;
pub mod s3;
pub mod split;
pub mod upload;

pub use expiry::expire_if_overdue;
pub use lines::{FileError, Line, Lines};
pub use notifications::Splitter;
pub use s3::S3Uploads;
pub use split::{split, split_upload, SplitDeps, SplitError};
pub use upload::{UploadReader, UploadStore, UploadTarget, UPLOAD_URL_SECONDS};

use hashbrown::hash_table::Entry;
use hashbrown::HashTable;
use sha2::{Digest, Sha256};

use crate::model::ChunkRow;

/// The largest staged file: 1 GB.
pub const MAX_FILE_BYTES: u64 = 1_000_000_000;
/// The most rows a job may have (see the README's row limit per job).
pub const MAX_JOB_ROWS: u32 = 10_000_000;

/// How one operation reads its rows from a staged file, one line at a time.
pub trait StagedRows: Send {
    /// Called with the file's first line: whether it is a header (not a row). An operation
    /// whose file needs a header says what is wrong with this one.
    fn header(&mut self, line: &Line) -> Result<bool, FileError>;
    /// Row `row` (1-based, in file order) read from `line`: its input and its secret, if any.
    fn row(&mut self, row: u32, line: &Line) -> (ChunkRow, Option<String>);
    /// Whether the record begun on `line` goes on at the next line of the file (a CSV field
    /// quoted across a line break): the split then appends that line to it and asks again.
    fn continues(&self, _line: &Line) -> bool {
        false
    }
}

/// The first occurrence of each key in a file, to point duplicates at it. A key is kept as
/// 128 bits of its SHA-256 beside its value in one table slot: 20 bytes for a row number
/// (a `HashMap<u128, u32>` pads its slots to 32), so a million rows take 40 MiB of slots
/// (2^21 of them), 60 MiB while the table grows, instead of 64 and 96.
pub struct FirstSeen<T> {
    first: HashTable<([u8; 16], T)>,
}

impl<T> Default for FirstSeen<T> {
    fn default() -> Self {
        Self {
            first: HashTable::new(),
        }
    }
}

impl<T: Copy> FirstSeen<T> {
    /// What was recorded for the first occurrence of the key made of `parts`; `None` when
    /// this is the first, whose `value` is recorded.
    pub fn first(&mut self, parts: &[&str], value: T) -> Option<T> {
        let mut digest = Sha256::new();
        for part in parts {
            // Length-prefixed, so that ("ab", "c") and ("a", "bc") differ.
            digest.update((part.len() as u64).to_be_bytes());
            digest.update(part.as_bytes());
        }
        let digest = digest.finalize();
        let mut fingerprint = [0u8; 16];
        fingerprint.copy_from_slice(&digest[..16]);
        let matches = |(key, _): &([u8; 16], T)| *key == fingerprint;
        match self
            .first
            .entry(table_hash(&fingerprint), matches, |(key, _)| {
                table_hash(key)
            }) {
            Entry::Occupied(first) => Some(first.get().1),
            Entry::Vacant(slot) => {
                slot.insert((fingerprint, value));
                None
            }
        }
    }
}

// The slot size the comment on `FirstSeen` counts on.
const _: () = assert!(std::mem::size_of::<([u8; 16], u32)>() == 20);

/// A fingerprint's bits are already uniform (SHA-256's), so 64 of them are its table hash:
/// no hasher runs over them again.
fn table_hash(fingerprint: &[u8; 16]) -> u64 {
    u128::from_be_bytes(*fingerprint) as u64
}

#[cfg(test)]
mod tests {
    use super::FirstSeen;

    #[test]
    fn the_first_occurrence_is_remembered() {
        let mut seen = FirstSeen::default();
        assert_eq!(seen.first(&["a", "bc"], 1), None);
        assert_eq!(
            seen.first(&["ab", "c"], 2),
            None,
            "parts are not run together"
        );
        assert_eq!(seen.first(&["a", "bc"], 3), Some(1));
        assert_eq!(seen.first(&["ab", "c"], 4), Some(2));
    }

    #[test]
    fn every_key_keeps_its_first_value_as_the_table_grows() {
        let mut seen = FirstSeen::default();
        let keys: Vec<String> = (0..50_000).map(|i| format!("key-{i}")).collect();
        for (row, key) in keys.iter().enumerate() {
            assert_eq!(seen.first(&[key], row as u32), None, "{key} seen before");
        }
        for (row, key) in keys.iter().enumerate() {
            assert_eq!(seen.first(&[key], u32::MAX), Some(row as u32), "{key}");
        }
    }
}
