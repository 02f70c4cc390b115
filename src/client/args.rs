//! The `bulkops submit` command line.

use std::path::PathBuf;

/// Which bulk API a file is submitted to.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    /// Mobile flash pass (Entrust-style): `POST /api/web/v2/mobileFlashPass` with `{"ids": [...]}`.
    Mfp,
    /// Bulk account upload (CyberArk-style): `POST /PasswordVault/API/BulkActions/Accounts`.
    Accounts,
}

impl std::fmt::Display for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Api::Mfp => "mfp",
            Api::Accounts => "accounts",
        })
    }
}

/// Submit a bulk request from a file, follow it to the end and write the rows that failed.
#[derive(clap::Args, Debug, Clone)]
pub struct SubmitArgs {
    /// The input: JSON (`{"ids": [...]}`, `{"source", "accountsList": [...]}`, or a bare array)
    /// or CSV (one id per line, or a header row naming account fields).
    pub file: PathBuf,

    /// Base URL of the API: the local server or a deployed API Gateway URL.
    #[arg(long, env = "BULKOPS_URL", default_value = "http://127.0.0.1:3000")]
    pub url: String,

    /// Bearer token sent as `Authorization: Bearer <token>`.
    #[arg(long, env = "BULKOPS_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// The API to use; detected from the file when omitted.
    #[arg(long, value_enum)]
    pub api: Option<Api>,

    /// The `source` of an account upload (default: the file's own `source`, else its name).
    #[arg(long)]
    pub source: Option<String>,

    /// Where to write the failed rows (default: `<stem>.failed.<ext>` next to the input).
    #[arg(long, value_name = "PATH")]
    pub failed: Option<PathBuf>,

    /// How often to poll the job, in milliseconds.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..))]
    pub poll_ms: u64,

    /// Give up waiting after this many seconds (the job keeps running on the server).
    #[arg(long, default_value_t = 3600)]
    pub timeout_secs: u64,

    /// Show no progress bar or progress lines; the summary is still printed.
    #[arg(long)]
    pub no_progress: bool,
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        submit: SubmitArgs,
    }

    #[test]
    fn flags_and_defaults() {
        let args = Cli::try_parse_from(["bulkops", "in.csv"]).unwrap().submit;
        assert_eq!(args.file, PathBuf::from("in.csv"));
        assert_eq!(
            (args.poll_ms, args.timeout_secs, args.no_progress),
            (500, 3600, false)
        );
        assert_eq!(args.api, None);

        let args = Cli::try_parse_from([
            "bulkops",
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
        ])
        .unwrap()
        .submit;
        assert_eq!(args.api, Some(Api::Accounts));
        assert_eq!(args.failed, Some(PathBuf::from("f.json")));
        assert!(args.no_progress);
        assert!(Cli::try_parse_from(["bulkops", "a", "--poll-ms", "0"]).is_err());
        assert!(Cli::try_parse_from(["bulkops", "a", "--api", "other"]).is_err());
    }
}
