//! The runs themselves: each file split and processed on moto and on the embedded store, its
//! outcomes and accounts checked, its failed accounts retried; a bad header fails the job.

use super::*;

/// Every row once, in file order, with its outcome; no secret outside the accounts.
fn check_outcomes(outcomes: &[RowOutcome], expected: &[Expected]) {
    assert_eq!(outcomes.len(), expected.len());
    for (index, (outcome, wanted)) in outcomes.iter().zip(expected).enumerate() {
        let row = index + 1;
        assert_eq!(outcome.row as usize, row, "in file order");
        assert_eq!(outcome.error_code.as_deref(), wanted.code, "row {row}");
        let message = outcome.error_message.as_deref().unwrap_or_default();
        assert!(message.contains(&wanted.message), "row {row}: {message}");
        assert_eq!(
            outcome.item.get("uploadIndex"),
            Some(&json!(wanted.upload_index)),
            "row {row}"
        );
    }
    let shown = serde_json::to_string(outcomes).unwrap();
    assert!(!shown.contains("pw-"), "an outcome shows a secret");
}

/// The created accounts hold their secrets, and record this job and row.
async fn check_accounts(b: &Backend, id: &str, expected: &[Expected]) {
    let created: Vec<(usize, RecordKey)> = expected
        .iter()
        .enumerate()
        .filter(|(_, e)| e.code.is_none())
        .map(|(index, e)| {
            let account = parse_account(&e.account, "").expect("an account").model;
            (index + 1, account_key(&account))
        })
        .collect();
    let keys: Vec<RecordKey> = created.iter().map(|(_, key)| key.clone()).collect();
    let mut found = std::collections::HashMap::new();
    for keys in keys.chunks(100) {
        found.extend(b.records.get_many(keys).await.expect("read accounts"));
    }
    assert_eq!(found.len(), created.len(), "every created account is there");
    for (row, key) in &created {
        let record = &found[key];
        assert_eq!(record["bulkId"], json!(id), "row {row}");
        assert_eq!(record["uploadRow"], json!(row), "row {row}");
        let secret = expected[row - 1].secret.as_deref();
        assert_eq!(
            record.get("secret").and_then(Value::as_str),
            secret,
            "row {row}"
        );
    }
}

async fn runs_every_row_once(b: &Backend, format: Format, rows: usize) -> (String, Vec<Expected>) {
    vault(b).await;
    let id = match format {
        Format::Csv => "900001",
        Format::JsonLines => "900002",
    };
    awaiting(b, id).await;
    let (text, expected) = file(format, rows);
    let rows_of = &mut AccountFileRows::default();
    let done = b.split_and_run(id, text.as_bytes(), rows_of, rows).await;
    let failed = expected.iter().filter(|e| e.code.is_some()).count() as u32;
    assert_eq!(done.state, JobState::Completed);
    assert_eq!(
        (done.rows_processed, done.rows_failed, done.rows_skipped),
        (rows as u32 - failed, failed, 0)
    );
    check_outcomes(&b.jobs.row_outcomes(id).await.unwrap(), &expected);
    check_accounts(b, id, &expected).await;
    for chunk in 0..done.chunk_count {
        let staged = b.jobs.chunk_secrets(id, chunk).await.unwrap();
        assert!(
            staged.is_empty(),
            "chunk {chunk}'s staged secrets are deleted"
        );
    }
    if let Some(fx) = b.fixture() {
        for item in fx.scan_all().await {
            let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok());
            let sk = text("sk").cloned().unwrap_or_default();
            assert!(!sk.starts_with("SECRETS#"), "a staged secret is left: {sk}");
            // A secret lives in its account, or kept for a retry; nowhere else.
            if !sk.starts_with("ACCOUNT#") && !sk.starts_with("KEPT#") {
                assert!(!format!("{item:?}").contains("pw-"), "a secret in {sk}");
            }
        }
    }
    (id.to_owned(), expected)
}

/// A retry sends the failed accounts again, not the lines that were none.
async fn retries_the_failed_accounts(b: &Backend, id: &str, expected: &[Expected]) {
    let call = ApiCall::new(
        "POST",
        &format!("/PasswordVault/API/BulkActions/Accounts/{id}/retry"),
    )
    .user("alice", "");
    let response = submit::handler(&b.submit, call.request()).await.unwrap();
    assert_eq!(response.status(), 202, "{}", body_json(&response));
    let retry_id = body_json(&response)
        .as_i64()
        .expect("a bulk id")
        .to_string();
    let retry = b.jobs.get_job(&retry_id).await.unwrap().unwrap();
    let accounts = expected
        .iter()
        .filter(|e| e.code.is_some() && !e.account.is_null())
        .count();
    assert_eq!(retry.total_rows as usize, accounts);
    assert_eq!(retry.retry_of.as_deref(), Some(id));
}

async fn a_bad_header_fails_the_job(b: Backend) {
    for (id, text, reason) in [
        (
            "900011",
            "safeName,platfromId\nUnix,UnixTelnet\n",
            "line 1: unknown column \"platfromId\" in the header; the accepted columns are: uploadIndex,",
        ),
        (
            "900012",
            "\nsafeName,platformId,secret,SECRET\nUnix,UnixTelnet,a,b\n",
            "line 2: column 4: secret appears twice in the header",
        ),
        (
            "900013",
            "safeName,userName\nUnix,root\n",
            "line 1: the CSV header has no platformId column",
        ),
    ] {
        awaiting(&b, id).await;
        let job = split(b.split_deps(), id, text.as_bytes(), &mut AccountFileRows::default())
            .await
            .unwrap();
        assert_eq!(job.state, JobState::Failed, "{id}");
        let message = job.error_message.unwrap_or_default();
        assert!(
            message.starts_with("The uploaded file could not be read as rows: "),
            "{message}"
        );
        assert!(message.contains(reason), "{id}: {message}");
    }
    assert_eq!(b.process_all(PumpOptions::default()).await.deliveries, 0);
}

#[tokio::test]
async fn a_staged_csv_file_of_accounts_runs_every_row_once_on_moto() {
    runs_every_row_once(&moto(2).await, Format::Csv, 450).await;
}

#[tokio::test]
async fn a_staged_json_lines_file_of_accounts_runs_every_row_once_on_moto() {
    runs_every_row_once(&moto(2).await, Format::JsonLines, 450).await;
}

#[tokio::test]
async fn a_staged_csv_file_of_accounts_runs_every_row_once_and_is_retried_embedded() {
    let b = embedded(4);
    let (id, expected) = runs_every_row_once(&b, Format::Csv, 5_000).await;
    retries_the_failed_accounts(&b, &id, &expected).await;
}

#[tokio::test]
async fn a_staged_json_lines_file_of_accounts_runs_every_row_once_embedded() {
    runs_every_row_once(&embedded(4), Format::JsonLines, 5_000).await;
}

#[tokio::test]
async fn a_bad_header_fails_the_job_on_moto() {
    a_bad_header_fails_the_job(moto(2).await).await;
}

#[tokio::test]
async fn a_bad_header_fails_the_job_embedded() {
    a_bad_header_fails_the_job(embedded(2)).await;
}
