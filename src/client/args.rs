//! The client's command lines: `submit`, `status`, `wait`, `results`, `cancel`, `list`.

use std::path::PathBuf;

use super::exit::EXIT_CODES_HELP;

/// The local server's address, the default of `--url`.
pub const DEFAULT_URL: &str = "http://127.0.0.1:3000";

/// Which bulk API a file or job belongs to.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    /// Mobile flash pass (Entrust-style): `POST /api/web/v2/mobileFlashPass` with `{"ids": [...]}`.
    Mfp,
    /// Bulk account upload (CyberArk-style): `POST /PasswordVault/API/BulkActions/Accounts`.
    Accounts,
}

impl Api {
    /// The API of a job id: account uploads have numbers, flash pass jobs UUIDs.
    pub fn of_job(id: &str) -> Api {
        if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
            Api::Accounts
        } else {
            Api::Mfp
        }
    }
}

impl std::fmt::Display for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Api::Mfp => "mfp",
            Api::Accounts => "accounts",
        })
    }
}

/// The client's commands.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum Command {
    /// Submit a bulk request from a file (JSON, or CSV with one id/account per line), wait
    /// for it with a progress bar, print a summary and write the failed rows to a file
    /// shaped like the input. The whole file is checked before anything is sent.
    #[command(after_help = EXIT_CODES_HELP)]
    Submit(SubmitArgs),
    /// Print a job's state and counts once.
    #[command(after_help = EXIT_CODES_HELP)]
    Status(JobArgs),
    /// Follow a job to its end with the same progress bar and summary as `submit`; with
    /// `--input`, write its failed rows as `submit` does.
    #[command(after_help = EXIT_CODES_HELP)]
    Wait(WaitArgs),
    /// Print every row's outcome; with `--input` and `--failed`, write the failed and skipped
    /// rows in the input's shape.
    #[command(after_help = EXIT_CODES_HELP)]
    Results(ResultsArgs),
    /// Cancel a flash pass job (rows not yet run are skipped; the account upload API has no
    /// cancel).
    #[command(after_help = EXIT_CODES_HELP)]
    Cancel(JobArgs),
    /// List jobs, newest first: all flash pass jobs (the tenant's), or your own uploads.
    #[command(after_help = EXIT_CODES_HELP)]
    List(ListArgs),
}

/// Where the API is and who calls it.
#[derive(clap::Args, Debug, Clone)]
pub struct ServerArgs {
    /// Base URL of the API: the local server (`bulkops serve --port N` → http://127.0.0.1:N)
    /// or a deployed API Gateway URL.
    #[arg(long, env = "BULKOPS_URL", default_value = DEFAULT_URL)]
    pub url: String,

    /// Bearer token sent as `Authorization: Bearer <token>` (`bulkops token` mints one for
    /// the local server, with the same --data-dir as `serve`).
    #[arg(long, env = "BULKOPS_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// How results are shown.
#[derive(clap::Args, Debug, Clone, Copy, Default)]
pub struct OutputArgs {
    /// Print exactly one JSON document on stdout (errors too); progress stays on stderr.
    #[arg(long)]
    pub json: bool,

    /// Nothing on stderr but errors and the Ctrl-C message: no job id line, progress or
    /// retry notes.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// How to wait for a job.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct WaitFlags {
    /// How often to poll the job, in milliseconds.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..))]
    pub poll_ms: u64,

    /// Give up waiting after this many seconds (the job keeps running on the server; exit 5).
    #[arg(long, default_value_t = 3600)]
    pub timeout_secs: u64,

    /// Show no progress bar or progress lines; the summary is still printed.
    #[arg(long)]
    pub no_progress: bool,
}

#[derive(clap::Args, Debug, Clone)]
pub struct SubmitArgs {
    /// The input: JSON (`{"ids": [...]}`, `{"source", "accountsList": [...]}`, or a bare array)
    /// or CSV (one id per line under an optional `id` header, or a header row naming account
    /// fields).
    pub file: PathBuf,

    /// The API to use; detected from the file when omitted.
    #[arg(long, value_enum)]
    pub api: Option<Api>,

    /// The `source` of an account upload (default: the file's own `source`, else its name).
    #[arg(long)]
    pub source: Option<String>,

    /// Where to write the failed (and skipped) rows (default: `<stem>.failed.<ext>` next to
    /// the input). Checked before anything is sent; removed after a clean run.
    #[arg(long, value_name = "PATH")]
    pub failed: Option<PathBuf>,

    /// Print the job id (stdout) once it is accepted, and do not wait.
    #[arg(long)]
    pub no_wait: bool,

    #[command(flatten)]
    pub wait: WaitFlags,

    #[command(flatten)]
    pub server: ServerArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(clap::Args, Debug, Clone)]
pub struct JobArgs {
    /// The job id `submit` printed: a UUID (flash pass) or a number (account upload).
    pub id: String,

    /// The job's API (default: from the id's form).
    #[arg(long, value_enum)]
    pub api: Option<Api>,

    #[command(flatten)]
    pub server: ServerArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

impl JobArgs {
    pub fn api(&self) -> Api {
        self.api.unwrap_or_else(|| Api::of_job(&self.id))
    }
}

#[derive(clap::Args, Debug, Clone)]
pub struct WaitArgs {
    #[command(flatten)]
    pub job: JobArgs,

    /// The file the job was submitted from: the failed rows are written in its shape.
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,

    /// Where to write the failed rows (default: `<stem>.failed.<ext>` next to --input).
    #[arg(long, value_name = "PATH", requires = "input")]
    pub failed: Option<PathBuf>,

    #[command(flatten)]
    pub wait: WaitFlags,
}

#[derive(clap::Args, Debug, Clone)]
pub struct ResultsArgs {
    #[command(flatten)]
    pub job: JobArgs,

    /// The file the job was submitted from (needed for --failed).
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,

    /// Write the failed and skipped rows here, in the shape of --input.
    #[arg(long, value_name = "PATH", requires = "input")]
    pub failed: Option<PathBuf>,
}

#[derive(clap::Args, Debug, Clone)]
pub struct ListArgs {
    /// Which API's jobs.
    #[arg(long, value_enum)]
    pub api: Api,

    /// At most this many jobs (1-1000; accounts: the server's `limit`, default 10; mfp: the
    /// first of the server's newest 1,000).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: Option<u32>,

    /// Accounts only: uploads in this status (the server's `filter=status eq <STATUS>`:
    /// Pending, inProgress, completedSuccessfully, completedWithErrors, failed, completed).
    #[arg(long)]
    pub status: Option<String>,

    #[command(flatten)]
    pub server: ServerArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        Cli::try_parse_from(std::iter::once("bulkops").chain(args.iter().copied()))
            .map(|cli| cli.command)
    }

    #[test]
    fn submit_flags_and_defaults() {
        let Ok(Command::Submit(args)) = parse(&["submit", "in.csv"]) else {
            panic!("submit");
        };
        assert_eq!(args.file, PathBuf::from("in.csv"));
        let wait = args.wait;
        assert_eq!(
            (wait.poll_ms, wait.timeout_secs, wait.no_progress),
            (500, 3600, false)
        );
        assert_eq!(
            (args.api, args.no_wait, args.output.json),
            (None, false, false)
        );

        let Ok(Command::Submit(args)) = parse(&[
            "submit",
            "a.json",
            "--url",
            "https://x.example/",
            "--token",
            "t",
            "--api",
            "accounts",
            "--source",
            "hr.csv",
            "--failed",
            "f.json",
            "--poll-ms",
            "50",
            "--timeout-secs",
            "9",
            "--no-progress",
            "--json",
            "-q",
            "--no-wait",
        ]) else {
            panic!("submit");
        };
        assert_eq!(args.api, Some(Api::Accounts));
        assert_eq!(args.failed, Some(PathBuf::from("f.json")));
        assert!(args.wait.no_progress && args.output.json && args.output.quiet && args.no_wait);
        assert!(parse(&["submit", "a", "--poll-ms", "0"]).is_err());
        assert!(parse(&["submit", "a", "--api", "other"]).is_err());
    }

    #[test]
    fn job_commands_take_an_id_and_infer_the_api() {
        let Ok(Command::Status(job)) = parse(&["status", "17"]) else {
            panic!("status");
        };
        assert_eq!(job.api(), Api::Accounts);
        let Ok(Command::Cancel(job)) = parse(&["cancel", "9f1c2d3e-0000-4000-8000-000000000000"])
        else {
            panic!("cancel");
        };
        assert_eq!(job.api(), Api::Mfp);
        // --failed needs the input whose shape it takes.
        assert!(parse(&["results", "17", "--failed", "f.csv"]).is_err());
        assert!(parse(&["wait", "17", "--input", "a.csv", "--failed", "f.csv"]).is_ok());
    }

    #[test]
    fn list_needs_an_api_and_bounds_the_limit() {
        assert!(parse(&["list"]).is_err());
        assert!(parse(&["list", "--api", "mfp", "--limit", "0"]).is_err());
        let Ok(Command::List(list)) = parse(&[
            "list", "--api", "accounts", "--status", "failed", "--limit", "5",
        ]) else {
            panic!("list");
        };
        assert_eq!(
            (list.limit, list.status.as_deref()),
            (Some(5), Some("failed"))
        );
    }
}
