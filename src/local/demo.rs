//! Demo reference data for trying the service: enrollments for the flash pass API, a vault
//! (safes, members, platforms) for the account upload API, and ready-to-submit example
//! files for `bulkops submit`. Loading twice changes nothing.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use bulkops_shared::store::RecordStore;
use serde_json::{json, Value};

use crate::reference::{load_enrollments, load_vault, EnrollmentInput, VaultInput};

/// The workflow of the demo enrollments.
pub const WORKFLOW: uuid::Uuid = uuid::uuid!("925090aa-decc-40fe-b3e4-16021c6592b0");

/// Enrollment number `n` (its primary key is padded so every id has the same length, 139 chars).
pub fn enrollment(n: usize) -> EnrollmentInput {
    EnrollmentInput {
        workflow_id: WORKFLOW,
        where_clause: [("QUICKSTARTPRIMARYKEY".to_owned(), json!(format!("{n:08}")))].into(),
        attributes: [("userId".to_owned(), json!(format!("user-{n}")))]
            .into_iter()
            .collect(),
    }
}

/// The id of enrollment `n`, whether or not it is loaded.
pub fn enrollment_id(n: usize) -> String {
    let reference = json!({ "workflowId": WORKFLOW.to_string(), "whereClause": { "QUICKSTARTPRIMARYKEY": format!("{n:08}") } });
    bulkops_shared::enrollment::encode_id(&reference)
}

/// Enrollments loaded for the demo (numbered 0..DEMO_ENROLLMENTS).
pub const DEMO_ENROLLMENTS: usize = 2_000;

/// The demo vault: `alice` may add accounts to the Unix and Windows safes, not to the Oracle
/// one (as in the CyberArk sample), `bob` only to the Unix safe.
pub fn demo_vault() -> Value {
    json!({
        "safes": [
            {"safeName": "UnixAdminPasswords", "safeId": 24,
             "members": {"alice": {"addAccounts": true}, "bob": {"addAccounts": true}}},
            {"safeName": "WindowsPasswords", "safeId": 31, "members": {"alice": {"addAccounts": true}}},
            {"safeName": "OracleAdminPasswords", "safeId": 40, "members": {"dba": {"addAccounts": true}}},
        ],
        "platforms": [
            {"platformId": "UnixTelnet", "requiredProperties": ["address", "userName"]},
            {"platformId": "UnixSSH", "requiredProperties": ["address", "userName"]},
            {"platformId": "WinDesktopLocal", "requiredProperties": ["address", "userName"]},
            {"platformId": "Oracle", "requiredProperties": ["address", "userName"]},
        ],
    })
}

/// Loads the demo data into `records` and writes example requests into `examples`.
pub async fn load_demo(
    records: &Arc<dyn RecordStore>,
    examples: &Path,
) -> anyhow::Result<Vec<PathBuf>> {
    let enrollments = (0..DEMO_ENROLLMENTS).map(enrollment).collect();
    load_enrollments(records, enrollments).await?;
    let vault: VaultInput = serde_json::from_value(demo_vault())?;
    load_vault(records, vault).await?;
    write_examples(examples)
}

/// Example request files: 1,000 flash pass ids (ten of them unknown enrollments) as JSON
/// and CSV, and the CyberArk sample upload as JSON and CSV.
fn write_examples(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let ids: Vec<String> = (0..1_000)
        .map(|n| {
            if n % 100 == 99 {
                enrollment_id(5_000_000 + n)
            } else {
                enrollment_id(n)
            }
        })
        .collect();
    let accounts = json!([
        {"uploadIndex": 1, "userName": "Root", "address": "92.168.11.99", "safeName": "UnixAdminPasswords",
         "platformId": "UnixTelnet", "groupName": "UnixAdmins", "secretType": "password", "secret": "S3cr3t-root!",
         "secretManagement": {"automaticManagementEnabled": true}},
        {"uploadIndex": 2, "userName": "Administrator", "address": "JSmith.exFinance.com", "safeName": "WindowsPasswords",
         "platformId": "WinDesktopLocal", "secretType": "password", "secret": "W1nd0ws-admin!",
         "secretManagement": {"automaticManagementEnabled": true},
         "platformAccountProperties": {"LogonDomain": "192.168.50.31"}},
        {"uploadIndex": 3, "userName": "OracleAdmin", "address": "192.168.53.12", "safeName": "OracleAdminPasswords",
         "platformId": "Oracle", "secretType": "password", "secret": "0racle-break-glass!",
         "secretManagement": {"automaticManagementEnabled": false, "manualManagementReason": "Oracle Admin - Break Glass user"}},
    ]);
    let accounts_csv = "\
uploadIndex,userName,address,safeName,platformId,groupName,secretType,secret,secretManagement.automaticManagementEnabled,secretManagement.manualManagementReason,platformAccountProperties.LogonDomain
1,Root,92.168.11.99,UnixAdminPasswords,UnixTelnet,UnixAdmins,password,S3cr3t-root!,true,,
2,Administrator,JSmith.exFinance.com,WindowsPasswords,WinDesktopLocal,,password,W1nd0ws-admin!,true,,192.168.50.31
3,OracleAdmin,192.168.53.12,OracleAdminPasswords,Oracle,,password,0racle-break-glass!,false,Oracle Admin - Break Glass user,
";
    let files = [
        ("mfp-request.json", json!({ "ids": ids }).to_string()),
        ("mfp-ids.csv", format!("id\n{}\n", ids.join("\n"))),
        (
            "accounts.json",
            serde_json::to_string_pretty(
                &json!({"source": "sample.csv", "accountsList": accounts}),
            )?,
        ),
        ("accounts.csv", accounts_csv.to_owned()),
    ];
    let mut written = Vec::new();
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}
