//! `bulkops`: operator commands for the bulkops service.

use std::path::PathBuf;

use anyhow::Context;
use bulkops::reference::{load_enrollments, load_vault, EnrollmentInput, VaultInput};
use bulkops_shared::aws::{load_sdk_config, AwsClients};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "bulkops",
    version,
    about = "Operator commands for the bulkops service"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load enrollments (reference data) from a JSON file into the table and print their ids.
    ///
    /// The file is a JSON array of `{"workflowId": "<uuid>", "whereClause": {"KEY": "value"}, ...}`;
    /// other fields are stored as attributes of the enrollment. The AWS endpoint, region and
    /// credentials come from the standard AWS environment (`AWS_ENDPOINT_URL` for moto/LocalStack).
    LoadEnrollments {
        /// The table (the stack's `TableName` output).
        #[arg(long, env = "TABLE_NAME")]
        table: String,
        /// JSON file with the enrollments.
        file: PathBuf,
    },
    /// Load vault reference data (safes with their members' rights, platforms) for bulk
    /// account uploads.
    ///
    /// The file is `{"safes": [{"safeName", "safeId", "members": {"<sub>": {"addAccounts": true}}}],
    /// "platforms": [{"platformId", "requiredProperties": ["address", "userName"]}]}`.
    LoadVault {
        /// The table (the stack's `TableName` output).
        #[arg(long, env = "TABLE_NAME")]
        table: String,
        /// JSON file with the safes and platforms.
        file: PathBuf,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::LoadEnrollments { table, file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let inputs: Vec<EnrollmentInput> = serde_json::from_str(&text)
                .with_context(|| format!("parsing {}", file.display()))?;
            let clients = AwsClients::new(&load_sdk_config().await);
            let count = inputs.len();
            let ids = load_enrollments(&clients.record_store(&table), inputs).await?;
            for id in ids {
                println!("{id}");
            }
            eprintln!("loaded {count} enrollments into {table}");
        }
        Command::LoadVault { table, file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let vault: VaultInput = serde_json::from_str(&text)
                .with_context(|| format!("parsing {}", file.display()))?;
            let clients = AwsClients::new(&load_sdk_config().await);
            let (safes, platforms) = load_vault(&clients.record_store(&table), vault).await?;
            eprintln!("loaded {safes} safes and {platforms} platforms into {table}");
        }
    }
    Ok(())
}
