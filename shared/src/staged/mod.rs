//! Staged files: jobs far larger than a request body, read from a file as a stream (issue 11).
//! [`lines`] reads the file one line at a time; an operation's [`StagedRows`] turns each line
//! into a row (a line that is not a valid row becomes a row that fails, with its reason, never
//! a refused job); [`split`] fills chunks as the rows come, parks them all beside the job,
//! then sets the job's totals, releases it and queues its first window of chunks. On AWS the
//! file is an object of the upload bucket ([`s3`]), and its creation reaches the splitter
//! function through the split queue ([`notifications`]).

pub mod lines;
pub mod notifications;
pub mod s3;
pub mod split;
pub mod upload;

pub use lines::{FileError, Line, Lines};
pub use notifications::Splitter;
pub use s3::S3Uploads;
pub use split::{split, split_upload, SplitDeps, SplitError};
pub use upload::{UploadReader, UploadStore, UploadTarget, UPLOAD_URL_SECONDS};

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
}
