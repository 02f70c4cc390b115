//! The chunked, count-once job engine.
//!
//! Submit: validate everything, create the job, split rows into chunks, enqueue them.
//! Process (per chunk, at least once): run the rows, store the chunk's outcomes under a
//! deterministic key, lower `firstFailedRow`, then record the chunk's counts on the job with
//! one conditional update that succeeds once per chunk; whoever brings the counts to the total
//! moves the job to COMPLETED with a second conditional update that succeeds once per job.
//! Every step is idempotent, so a crash between any two of them is healed by redelivery.

mod events;
mod operation;
mod process;
mod recovered;
mod secrets;
mod siblings;
pub mod sqs;
mod staged;
mod submit;
mod units;

pub use events::{EventFlush, NoFlush};
pub use operation::{Operations, Recovery, RowOperation, Secrets};
pub use process::{dead_letter_chunk, process_chunk, process_group, ChunkDisposition, Worker};
pub use recovered::DEAD_LETTER_CODE;
pub use siblings::Siblings;
pub use submit::{resume_job, start_job, JobId, NewJob, SubmitError};
pub use units::MAX_GROUP;
