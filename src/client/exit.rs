//! The operator client's exit statuses: one per outcome a script must tell apart, after the
//! conventions of the Salesforce and AWS command-line tools (2 is a usage error, as clap
//! makes it; 130 is the shell's code for SIGINT).

use std::process::ExitCode;

/// How a client command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// `submit`/`wait`: the job completed and every row succeeded. Other commands: done.
    Success,
    /// Any other error: an unexpected answer (404 for an unknown job, 409 to cancel a
    /// finished one, a malformed body), or a local failure.
    Error,
    /// The command line is wrong (clap's own code), or asks what the API cannot do.
    Usage,
    /// The job completed, but some rows failed.
    RowsFailed,
    /// The job was cancelled, or failed as a whole.
    JobNotCompleted,
    /// `--timeout-secs` passed first; the job keeps running on the server.
    Timeout,
    /// The input file, `--failed` or the request was refused before any job ran (by the
    /// client's checks, or the server's 400/413/415).
    Input,
    /// The token was refused (401) or lacks a permission (403).
    Auth,
    /// No answer from the server (connection refused, DNS, timeouts), retries included.
    Unreachable,
    /// Ctrl-C (SIGINT): the client stopped; the job keeps running.
    Interrupted,
}

impl Exit {
    /// Every status, in code order.
    pub const ALL: [Exit; 10] = [
        Exit::Success,
        Exit::Error,
        Exit::Usage,
        Exit::RowsFailed,
        Exit::JobNotCompleted,
        Exit::Timeout,
        Exit::Input,
        Exit::Auth,
        Exit::Unreachable,
        Exit::Interrupted,
    ];

    pub const fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Error => 1,
            Exit::Usage => 2,
            Exit::RowsFailed => 3,
            Exit::JobNotCompleted => 4,
            Exit::Timeout => 5,
            Exit::Input => 6,
            Exit::Auth => 7,
            Exit::Unreachable => 8,
            Exit::Interrupted => 130,
        }
    }

    /// The name in `--json` output (`"outcome"`, `"error.kind"`).
    pub const fn name(self) -> &'static str {
        match self {
            Exit::Success => "success",
            Exit::Error => "error",
            Exit::Usage => "usage",
            Exit::RowsFailed => "rowsFailed",
            Exit::JobNotCompleted => "jobNotCompleted",
            Exit::Timeout => "timeout",
            Exit::Input => "input",
            Exit::Auth => "auth",
            Exit::Unreachable => "unreachable",
            Exit::Interrupted => "interrupted",
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit.code())
    }
}

/// The table shown by `--help` (kept equal to [`Exit`] by a test).
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
    0  success: the job completed and every row succeeded (submit, wait); done (others)
    1  any other error (an unknown job, a job already finished, an unexpected answer)
    2  usage: the command line is wrong, or asks what the API cannot do
    3  the job completed, but some rows failed
    4  the job was cancelled, or failed as a whole
    5  --timeout-secs passed first; the job keeps running
    6  input: the file, --failed or the request was refused; no job ran
    7  auth: the token was refused (401) or lacks a permission (403)
    8  the server is unreachable (after retries)
  130  interrupted (Ctrl-C); the job keeps running";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_the_help_lists_each() {
        let mut codes: Vec<u8> = Exit::ALL.iter().map(|e| e.code()).collect();
        codes.dedup();
        assert_eq!(codes.len(), Exit::ALL.len());
        let listed: Vec<u8> = EXIT_CODES_HELP
            .lines()
            .skip(1)
            .filter_map(|line| line.split_whitespace().next()?.parse().ok())
            .collect();
        assert_eq!(listed, codes);
        assert_eq!((Exit::Usage.code(), Exit::Interrupted.code()), (2, 130));
    }
}
