//! A staged account file (issue 11): a CSV file and a JSON Lines file of accounts with
//! secrets, bad lines and duplicates, split into parked chunks and run through the real
//! processor handler, every message delivered 3×, on moto (window 2) and on the embedded
//! store (more rows): every row once, in file order, with its outcome; bad lines failed as rows
//! naming their line, without a secret staged; created accounts carry their secrets and the
//! staged secrets are gone; the failed accounts (not the bad lines) can be retried. A header
//! no row can be read under fails the job.

#[path = "../common/mod.rs"]
mod common;

use bulkops::reference::{load_vault, VaultInput};
use bulkops_shared::model::{Job, JobState, JobType, RowOutcome};
use bulkops_shared::ops::accounts::model::parse_account;
use bulkops_shared::ops::accounts::staged::AccountFileRows;
use bulkops_shared::ops::accounts::{account_key, codes};
use bulkops_shared::staged::split;
use bulkops_shared::store::RecordKey;
use bulkops_testkit::{ApiCall, PumpOptions};
use common::backends::{embedded, moto, Backend};
use common::body_json;
use serde_json::{json, Value};

mod runs;

const CSV_HEADER: &str = "uploadIndex,safeName,platformId,userName,address,secret,\
platformAccountProperties.Port,platformAccountProperties.Comment,\
secretManagement.automaticManagementEnabled";

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Csv,
    JsonLines,
}

/// What one row must end as.
struct Expected {
    upload_index: i64,
    /// None: created.
    code: Option<&'static str>,
    /// Part of its error message.
    message: String,
    /// The row's account (null for a line that is none), and the secret a created one holds.
    account: Value,
    secret: Option<String>,
}

/// alice may add to Unix, not to Windows; UnixTelnet needs an address and a userName.
async fn vault(b: &Backend) {
    let vault: VaultInput = serde_json::from_value(json!({
        "safes": [
            {"safeName": "Unix", "safeId": 24, "members": {"alice": {"addAccounts": true}}},
            {"safeName": "Windows", "safeId": 31, "members": {}},
        ],
        "platforms": [{"platformId": "UnixTelnet", "requiredProperties": ["address", "userName"]}],
    }))
    .unwrap();
    load_vault(&b.records, vault).await.expect("load the vault");
}

/// A job waiting for its file, as the staged upload route will create it (numbered like an
/// upload, created now: its secrets live 4 days from its creation).
async fn awaiting(b: &Backend, id: &str) {
    let now = bulkops_shared::time::now_ms();
    let mut job = Job::new(id.into(), JobType::AddAccounts, "alice".into(), 0, now);
    job.state = JobState::AwaitingData;
    job.source = Some("staged".into());
    b.jobs.create_job(&job).await.expect("create the job");
}

/// The account of row `i` (0-based): a comma and a quote in some fields, a secret over
/// several lines in some, a padded comment so that a chunk holds ≈100 rows.
fn account(i: usize, safe: &str, user: &str, address: Option<&str>, secret: bool) -> Value {
    let mut account = json!({"safeName": safe, "platformId": "UnixTelnet", "userName": user,
        "platformAccountProperties": {"Port": "22", "Comment": format!("row {i}, \"{}\"", "x".repeat(300))},
        "secretManagement": {"automaticManagementEnabled": i.is_multiple_of(2)}});
    if let Some(address) = address {
        account["address"] = json!(address);
    }
    if i.is_multiple_of(4) {
        account["uploadIndex"] = json!(10_000 + i);
    }
    if secret && i % 7 == 2 {
        // A key over several lines (a blank one too): a CSV record then spans lines.
        account["secret"] = json!(format!("pw-{i}\n-----KEY-----\n\nend"));
    } else if secret {
        account["secret"] = json!(format!("pw-{i}"));
    }
    account
}

/// One line of `account` in `format`.
fn line_of(format: Format, account: &Value) -> String {
    match format {
        Format::JsonLines => account.to_string(),
        Format::Csv => {
            let text = |path: &[&str]| {
                let mut value = account;
                for key in path {
                    value = value.get(key).unwrap_or(&Value::Null);
                }
                match value {
                    Value::Null => String::new(),
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                }
            };
            let mut writer = csv::WriterBuilder::new()
                .terminator(csv::Terminator::Any(b'\n'))
                .from_writer(Vec::new());
            writer
                .write_record([
                    text(&["uploadIndex"]),
                    text(&["safeName"]),
                    text(&["platformId"]),
                    text(&["userName"]),
                    text(&["address"]),
                    text(&["secret"]),
                    text(&["platformAccountProperties", "Port"]),
                    text(&["platformAccountProperties", "Comment"]),
                    text(&["secretManagement", "automaticManagementEnabled"]),
                ])
                .unwrap();
            let bytes = writer.into_inner().unwrap();
            String::from_utf8(bytes).unwrap().trim_end().to_owned()
        }
    }
}

/// A bad line of row `i` (each with a secret that must go nowhere) and what its error says.
fn bad_line(format: Format, i: usize) -> (String, String) {
    let secret = format!("pw-{i}");
    let cases: [(String, &str); 4] = match format {
        Format::JsonLines => [
            (
                format!(
                    r#"{{"safeName": "Unix", "platformId": "UnixTelnet", "secret": "{secret}""#
                ),
                "malformed JSON at column",
            ),
            (
                format!(
                    r#"{{"safeName": ["Unix"], "platformId": "UnixTelnet", "secret": "{secret}"}}"#
                ),
                "safeName must be a string",
            ),
            (
                format!(r#"{{"safeName": "Unix", "secret": "{secret}"}}"#),
                "platformId is required",
            ),
            (
                format!(r#"["Unix", "{secret}"]"#),
                "the line is not a JSON object",
            ),
        ],
        Format::Csv => [
            (
                format!(",Unix,UnixTelnet,u{i},h{i},{secret}"),
                "found 6 fields, but the header has 9",
            ),
            // Misaligned: the secret falls into the uploadIndex column.
            (
                format!("{secret},Unix,UnixTelnet,u{i},h{i},,22,c,true"),
                "column 1 (uploadIndex): expected an integer",
            ),
            (
                format!(",,UnixTelnet,u{i},h{i},{secret},22,c,true"),
                "safeName is required",
            ),
            // Misaligned: the secret falls into the boolean column, and is not quoted.
            (
                format!(",Unix,UnixTelnet,u{i},h{i},,22,c,{secret}"),
                "column 9 (secretManagement.automaticManagementEnabled): expected true or false",
            ),
        ],
    };
    let (line, message) = &cases[(i / 100) % 4];
    (line.clone(), (*message).to_owned())
}

/// A file of `rows` rows (blank lines and CRLF here and there) and what each must end as.
fn file(format: Format, rows: usize) -> (String, Vec<Expected>) {
    let mut text = String::new();
    let mut line = 0u64;
    if format == Format::Csv {
        text.push_str(CSV_HEADER);
        text.push('\n');
        line += 1;
    }
    let mut expected: Vec<Expected> = Vec::new();
    for i in 0..rows {
        line += 1;
        let row = i as i64 + 1;
        let user = if i.is_multiple_of(3) {
            format!("user, {i}")
        } else {
            format!("user{i}")
        };
        let host = format!("host{i}");
        let with_secret = i % 5 != 3;
        let fails = |code, message: String| (Some(code), message);
        let (account, (code, message)) = match i % 100 {
            13 => {
                let (bad, message) = bad_line(format, i);
                text.push_str(&bad);
                let message = format!("line {line}: {message}");
                expected.push(Expected {
                    upload_index: row,
                    code: Some(codes::INVALID_FIELDS),
                    message,
                    account: Value::Null,
                    secret: None,
                });
                text.push('\n');
                continue;
            }
            29 => {
                let first = &expected[i - 1];
                let message = format!("(uploadIndex {} of this upload)", first.upload_index);
                let mut twin = first.account.clone();
                twin["userName"] = json!(twin["userName"].as_str().unwrap().to_uppercase());
                twin.as_object_mut().unwrap().remove("uploadIndex");
                (twin, fails(codes::ACCOUNT_ALREADY_EXISTS, message))
            }
            41 => (
                account(i, "Unix", &user, None, with_secret),
                fails(
                    codes::INVALID_FIELDS,
                    "missing the property address required by platform UnixTelnet".into(),
                ),
            ),
            61 => (
                account(i, "Nowhere", &user, Some(&host), with_secret),
                fails(codes::SAFE_NOT_FOUND, "Safe Nowhere was not found".into()),
            ),
            n if n % 50 == 7 => (
                account(i, "Windows", &user, Some(&host), with_secret),
                fails(
                    codes::NOT_AUTHORIZED,
                    "not authorized to create object in safe Windows".into(),
                ),
            ),
            77 => {
                // Longer than a row may be: cut, and failed as a line that is no account.
                let mut long = account(i, "Unix", &user, Some(&host), with_secret);
                long["platformAccountProperties"]["Comment"] = json!("y".repeat(140_000));
                let message = format!("line {line}: the line is over 131072 bytes");
                (long, fails(codes::INVALID_FIELDS, message))
            }
            _ => (
                account(i, "Unix", &user, Some(&host), with_secret),
                (None, String::new()),
            ),
        };
        let record = line_of(format, &account);
        line += record.matches('\n').count() as u64;
        text.push_str(&record);
        if i.is_multiple_of(17) {
            text.push_str("\r\n\n");
            line += 1;
        } else {
            text.push('\n');
        }
        let secret = account["secret"].as_str().map(str::to_owned);
        expected.push(match i % 100 {
            77 => Expected {
                upload_index: row,
                code,
                message,
                account: Value::Null,
                secret: None,
            },
            _ => Expected {
                upload_index: account["uploadIndex"].as_i64().unwrap_or(row),
                code,
                message,
                account,
                secret: secret.filter(|_| code.is_none()),
            },
        });
    }
    (text, expected)
}
