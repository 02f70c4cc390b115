//! The operator client: `bulkops submit FILE` sends a bulk request read from a JSON or CSV
//! file to either API, follows the job with a progress bar, and writes the rows that failed
//! back in the file's own shape so they can be fixed and resubmitted; `status`, `wait`,
//! `results`, `cancel` and `list` come back to jobs. Every command has `--json` and
//! `--quiet`, and ends with one of the exit statuses of [`Exit`].
//!
//! One concern per file: `args` (command lines), `exit` (exit statuses), `error` (why a
//! command failed), `input` (reading and checking files), `http` and `http_error` (the
//! routes), `retry` (backoff), `status` (one view of both status documents), `wait`
//! (polling), `progress` (display), `follow` and `outcome` (a job's end), `failures` and
//! `failed_file` (failed rows), `summary` (the report), `output` (stdout and stderr),
//! `interrupt` and `resume` (Ctrl-C); the commands: `submit`, `jobs`, `results`, `list`;
//! `request` queues an event-driven request on the local server.

mod args;
mod error;
mod exit;
mod failed_file;
mod failures;
mod follow;
mod http;
mod http_error;
mod input;
mod interrupt;
mod jobs;
mod list;
mod outcome;
mod output;
mod progress;
pub mod request;
mod results;
mod resume;
mod retry;
mod status;
mod submit;
mod summary;
mod wait;

#[cfg(test)]
mod run_tests;
#[cfg(test)]
mod test_server;

pub use args::{Api, Command, SubmitArgs};
pub use exit::{Exit, EXIT_CODES_HELP};
pub use summary::{FailedRow, Summary};

use error::ClientError;
use interrupt::Interrupt;
use output::Output;
use resume::{Context, Tracker};

/// Runs one client command to its exit status; Ctrl-C stops it and says how to come back
/// to the job.
pub async fn run(command: Command) -> Exit {
    let (out, context) = setting(&command);
    let tracker = Tracker::new(context);
    let work = execute(&command, &out, &tracker);
    let result = match Interrupt::install() {
        Ok(mut interrupt) => tokio::select! {
            result = work => Some(result),
            () = interrupt.recv() => None,
        },
        Err(error) => {
            out.note(&format!(
                "Ctrl-C cannot be caught ({error}); it will end the client"
            ));
            Some(work.await)
        }
    };
    match result {
        None => out.interrupted(&tracker),
        Some(Ok(exit)) => exit,
        Some(Err(error)) => out.error(&error),
    }
}

/// The output flags, and what a resume command has to repeat.
fn setting(command: &Command) -> (Output, Context) {
    match command {
        Command::Submit(a) => (
            a.output.into(),
            Context::new(&a.server.url, Some(&a.file), a.failed.as_deref()).submitting(),
        ),
        Command::Wait(a) => (
            a.job.output.into(),
            Context::new(&a.job.server.url, a.input.as_deref(), a.failed.as_deref()),
        ),
        Command::Results(a) => (
            a.job.output.into(),
            Context::new(&a.job.server.url, None, None),
        ),
        Command::Status(a) | Command::Cancel(a) => {
            (a.output.into(), Context::new(&a.server.url, None, None))
        }
        Command::List(a) => (a.output.into(), Context::new(&a.server.url, None, None)),
    }
}

async fn execute(command: &Command, out: &Output, tracker: &Tracker) -> Result<Exit, ClientError> {
    match command {
        Command::Submit(args) => submit::run(args, out, tracker).await,
        Command::Status(args) => jobs::status(args, out).await,
        Command::Wait(args) => jobs::wait(args, out, tracker).await,
        Command::Results(args) => results::results(args, out).await,
        Command::Cancel(args) => jobs::cancel(args, out).await,
        Command::List(args) => list::list(args, out).await,
    }
}
