//! The operator client as scripts use it: the real `bulkops` binary against `bulkops serve`
//! (a child process), one exit status per outcome, `--json` parsed, every bad line of a file
//! reported at once, and the failed-rows files (named, moded, replaced, removed).

#[path = "operator_client/support.rs"]
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use bulkops::local::demo::enrollment_id;
use bulkops_testkit::server::{fresh_dir, token, ServerProcess};
use support::*;

/// 0 when every row succeeded, 3 when some failed; the JSON summary; the failed-rows file
/// next to the input (0644, or 0600 when it holds secrets), a stale one removed after a
/// clean run; status, results, list and wait on the jobs.
#[test]
fn outcomes_exit_0_and_3_with_json_and_failed_files() {
    let root = fresh_dir("client-outcomes");
    let data = root.path().join("data");
    let server = ServerProcess::start(Path::new(BINARY), &data, &["--demo"]);
    let client = Client::of(&server);
    let work = root.path();

    // 0: every row succeeded, and the failed file of an earlier run is removed.
    let clean = clean_ids(work, "clean.csv", 20);
    let stale = work.join("clean.failed.csv");
    std::fs::write(&stale, "id\nfrom-an-earlier-run\n").unwrap();
    let ran = client.run(&["submit", "--json", &clean.to_string_lossy()]);
    assert_eq!(ran.code, 0, "{ran:?}");
    let summary = ran.json();
    assert_eq!(
        (&summary["outcome"], &summary["exitCode"], &summary["state"]),
        (&"success".into(), &0.into(), &"COMPLETED".into())
    );
    assert_eq!(
        (&summary["succeeded"], &summary["failed"]),
        (&20.into(), &0.into())
    );
    assert!(summary["failedFile"].is_null(), "{summary}");
    assert_eq!(
        summary["removedStaleFailedFile"],
        stale.to_string_lossy().as_ref()
    );
    assert!(!stale.exists());
    let clean_id = summary["jobId"].as_str().expect("jobId").to_owned();
    assert!(
        ran.stderr
            .contains(&format!("job {clean_id} accepted (mfp, 20 rows)")),
        "the id is said at once: {ran:?}"
    );

    // 3: ten unknown enrollments; their rows go to <stem>.failed.<ext>, readable by all.
    let ids = data.join("demo/mfp-ids.csv");
    let ran = client.run(&["submit", "--json", &ids.to_string_lossy()]);
    assert_eq!(ran.code, 3, "{ran:?}");
    let summary = ran.json();
    assert_eq!(summary["outcome"], "rowsFailed");
    assert_eq!(
        (&summary["succeeded"], &summary["failed"]),
        (&990.into(), &10.into())
    );
    let failed = data.join("demo/mfp-ids.failed.csv");
    assert_eq!(summary["failedFile"], failed.to_string_lossy().as_ref());
    assert_eq!(summary["failedFileHasSecrets"], false);
    assert_eq!(
        std::fs::read_to_string(&failed).unwrap().lines().count(),
        11
    );
    #[cfg(unix)]
    assert_eq!(mode(&failed), 0o644);
    // Row 100 of the file is on line 101 (under the header).
    let first = &summary["firstFailures"][0];
    assert_eq!((&first["row"], &first["line"]), (&100.into(), &101.into()));
    assert_eq!(first["code"], "ENROLLMENT_NOT_FOUND");
    let mfp_id = summary["jobId"].as_str().expect("jobId").to_owned();

    // The account sample, as a person reads it: its failed row holds a secret, so 0600.
    let accounts = data.join("demo/accounts.csv");
    let ran = client.run(&["submit", &accounts.to_string_lossy()]);
    assert_eq!(ran.code, 3, "{ran:?}");
    let failed = data.join("demo/accounts.failed.csv");
    assert!(
        ran.stdout.contains(&format!(
            "1 failed rows written to {} (mode 0600: it holds secrets)",
            failed.display()
        )),
        "{ran:?}"
    );
    #[cfg(unix)]
    assert_eq!(mode(&failed), 0o600);
    assert!(std::fs::read_to_string(&failed)
        .unwrap()
        .contains("0racle-break-glass!"));

    // Coming back to the jobs.
    let status = client.run(&["status", &mfp_id, "--json"]).json();
    assert_eq!(
        (
            &status["state"],
            &status["final"],
            &status["total"],
            &status["failed"]
        ),
        (&"COMPLETED".into(), &true.into(), &1000.into(), &10.into())
    );
    let results = client.run(&["results", &mfp_id, "--json"]);
    assert_eq!(results.code, 0, "{results:?}");
    assert_eq!(results.json()["rows"].as_array().map(Vec::len), Some(1000));
    let again = work.join("again.csv");
    let results = client.run(&[
        "results",
        &mfp_id,
        "--json",
        "--input",
        &ids.to_string_lossy(),
        "--failed",
        &again.to_string_lossy(),
    ]);
    assert_eq!(
        results.json()["failedFile"],
        again.to_string_lossy().as_ref()
    );
    assert_eq!(std::fs::read_to_string(&again).unwrap().lines().count(), 11);
    let listed = client.run(&["list", "--api", "mfp", "--json"]).json();
    let listed: Vec<&str> = listed["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .filter_map(|j| j["jobId"].as_str())
        .collect();
    assert_eq!(listed, [mfp_id.as_str(), clean_id.as_str()], "newest first");
    let uploads = client.run(&[
        "list",
        "--api",
        "accounts",
        "--status",
        "completedWithErrors",
        "--json",
    ]);
    assert_eq!(
        uploads.json()["jobs"].as_array().map(Vec::len),
        Some(1),
        "{uploads:?}"
    );
    let none = client.run(&[
        "list",
        "--api",
        "accounts",
        "--status",
        "completedSuccessfully",
        "--json",
    ]);
    assert_eq!(
        none.json()["jobs"].as_array().map(Vec::len),
        Some(0),
        "{none:?}"
    );
    // `wait` on a finished job reports it at once, with the same exit status.
    assert_eq!(client.run(&["wait", &mfp_id, "--json"]).code, 3);
    assert_eq!(client.run(&["wait", &clean_id, "--quiet"]).code, 0);
    server.stop();
}

/// 6: every bad line of a dirty file at once, by line number; an unknown header with the
/// accepted ones; an unusable --failed path; nothing sent. 2: what the API cannot do.
#[test]
fn input_errors_exit_6_before_anything_is_sent_and_usage_2() {
    let root = fresh_dir("client-input");
    let data = root.path().join("data");
    let server = ServerProcess::start(Path::new(BINARY), &data, &[]);
    let client = Client::of(&server);
    let work = root.path();

    let dirty = work.join("dirty.csv");
    let text = format!(
        "id\n{}\n!!\n{}\nnot base64?\na,b\n\n***\n",
        enrollment_id(1),
        enrollment_id(2)
    );
    std::fs::write(&dirty, text).unwrap();
    let ran = client.run(&["submit", &dirty.to_string_lossy()]);
    assert_eq!(ran.code, 6, "{ran:?}");
    assert!(
        ran.stderr.contains("4 bad rows; nothing was sent"),
        "{ran:?}"
    );
    for line in [
        "line 3: \"!!\" is not a valid Base64 enrollment id",
        "line 5: \"not base64?\" is not a valid Base64 enrollment id",
        "line 6: expected one id per line, found 2 fields",
        "line 8: \"***\" is not a valid Base64 enrollment id",
    ] {
        assert!(ran.stderr.contains(line), "{line}: {ran:?}");
    }
    let error = client
        .run(&["submit", "--json", &dirty.to_string_lossy()])
        .json();
    assert_eq!(
        (&error["error"]["kind"], &error["error"]["exitCode"]),
        (&"input".into(), &6.into())
    );

    let header = work.join("header.csv");
    std::fs::write(&header, format!("enrollmentId\n{}\n", enrollment_id(1))).unwrap();
    let ran = client.run(&["submit", &header.to_string_lossy()]);
    assert_eq!(ran.code, 6, "{ran:?}");
    assert!(
        ran.stderr
            .contains("line 1: unknown column \"enrollmentId\""),
        "{ran:?}"
    );
    assert!(
        ran.stderr.contains("the accepted columns are: id, ids"),
        "{ran:?}"
    );

    let clean = clean_ids(work, "clean.csv", 3);
    let nowhere = work.join("missing/clean.failed.csv");
    let ran = client.run(&[
        "submit",
        &clean.to_string_lossy(),
        "--failed",
        &nowhere.to_string_lossy(),
    ]);
    assert_eq!(ran.code, 6, "{ran:?}");
    assert!(ran.stderr.contains("is not a directory"), "{ran:?}");

    let listed = client.run(&["list", "--api", "mfp", "--json"]).json();
    assert_eq!(
        listed["jobs"].as_array().map(Vec::len),
        Some(0),
        "no job was created: {listed}"
    );

    // Usage: the upload API cannot cancel or filter flash pass jobs; clap's own errors.
    assert_eq!(client.run(&["cancel", "17"]).code, 2);
    assert_eq!(
        client
            .run(&["list", "--api", "mfp", "--status", "failed"])
            .code,
        2
    );
    assert_eq!(client.run(&["submit"]).code, 2);
    server.stop();
}

/// 7 for a refused token (401, including one minted with another data dir's key) or a
/// missing permission (403); 8 when nothing answers, soon, with where to look; 1 for an
/// unknown job.
#[test]
fn auth_errors_exit_7_unreachable_8_unknown_job_1() {
    let root = fresh_dir("client-auth");
    let data = root.path().join("data");
    let server = ServerProcess::start(Path::new(BINARY), &data, &[]);
    let client = Client::of(&server);
    let ids = clean_ids(root.path(), "ids.csv", 2);
    let job = "9f1c2d3e-0000-4000-8000-000000000000";

    let ran = client.run(&["submit", &ids.to_string_lossy(), "--token", "not-a-jwt"]);
    assert_eq!(ran.code, 7, "{ran:?}");
    assert!(ran.stderr.contains("401"), "{ran:?}");
    // `bulkops token` run with another data dir signs with another key.
    let elsewhere = token(
        Path::new(BINARY),
        &root.path().join("other"),
        "alice",
        ALL,
        3600,
    );
    let ran = client.run(&["status", job, "--token", &elsewhere]);
    assert_eq!(ran.code, 7, "{ran:?}");
    let viewer = server.token("alice", "");
    let ran = client.run(&["status", job, "--token", &viewer, "--json"]);
    assert_eq!(ran.code, 7, "{ran:?}");
    assert_eq!(ran.json()["error"]["kind"], "auth");

    let ran = client.run(&["status", job]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(ran.stderr.contains("404"), "{ran:?}");

    let nobody = Client {
        url: format!("http://127.0.0.1:{}", closed_port()),
        token: client.token.clone(),
    };
    let started = Instant::now();
    let ran = nobody.run(&["status", job]);
    assert_eq!(ran.code, 8, "{ran:?}");
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(
        ran.stderr.contains("(connection refused): check --url"),
        "{ran:?}"
    );
    assert!(ran.stderr.contains("`bulkops serve`"), "{ran:?}");
    assert!(
        ran.stderr.lines().count() <= 6,
        "a few retry lines: {ran:?}"
    );
    let ran = nobody.run(&["submit", &ids.to_string_lossy()]);
    assert_eq!(ran.code, 8, "{ran:?}");
    assert!(
        ran.stderr.contains("nothing was sent: no job was created"),
        "{ran:?}"
    );
    server.stop();
}

/// 5 when --timeout-secs passes (with how to resume); a cancelled job exits 4 and its
/// skipped rows are written for resubmission. The server runs no worker at first, so the
/// job is still waiting when the client needs it to be.
#[test]
fn timeout_exits_5_and_a_cancelled_job_4_with_its_skipped_rows() {
    let root = fresh_dir("client-cancel");
    let data = root.path().join("data");
    let server = ServerProcess::start(Path::new(BINARY), &data, &["--demo", "--workers", "0"]);
    let client = Client::of(&server);
    let held = clean_ids(root.path(), "held.csv", 30);

    let ran = client.run(&["submit", "--no-wait", "--json", &held.to_string_lossy()]);
    assert_eq!(ran.code, 0, "{ran:?}");
    let id = ran.json()["jobId"].as_str().expect("jobId").to_owned();

    let ran = client.run(&["wait", &id, "--timeout-secs", "1", "--poll-ms", "100"]);
    assert_eq!(ran.code, 5, "{ran:?}");
    assert!(ran.stderr.contains("did not finish within 1 s"), "{ran:?}");
    assert!(
        ran.stderr.contains("keeps running on the server"),
        "{ran:?}"
    );
    assert!(
        ran.stderr
            .contains(&format!("bulkops wait {id} --url {}", client.url)),
        "{ran:?}"
    );
    let ran = client.run(&["wait", &id, "--timeout-secs", "1", "--json"]);
    assert_eq!(
        (ran.code, &ran.json()["error"]["kind"]),
        (5, &"timeout".into())
    );

    let ran = client.run(&["cancel", &id, "--json"]);
    assert_eq!(ran.code, 0, "{ran:?}");
    let cancelled = ran.json();
    assert_eq!(
        (&cancelled["state"], &cancelled["cancelled"]),
        (&"CANCELLED".into(), &true.into())
    );

    // A worker counts the cancelled job's chunks as skipped.
    server.stop();
    let server = ServerProcess::start(Path::new(BINARY), &data, &[]);
    let client = Client {
        url: server.url.clone(),
        token: client.token,
    };
    let ran = client.run(&["wait", &id, "--input", &held.to_string_lossy(), "--json"]);
    assert_eq!(ran.code, 4, "{ran:?}");
    let summary = ran.json();
    assert_eq!(
        (&summary["outcome"], &summary["skipped"]),
        (&"jobNotCompleted".into(), &30.into())
    );
    let failed = root.path().join("held.failed.csv");
    assert_eq!(summary["failedFile"], failed.to_string_lossy().as_ref());
    assert_eq!(
        std::fs::read(&failed).unwrap(),
        std::fs::read(&held).unwrap()
    );
    // Cancelling it again is not an error: it is cancelled.
    assert_eq!(client.run(&["cancel", &id]).code, 0);
    server.stop();
}

/// An input over the request body limit (2,000 ids, ≈ 280 KB against 200 KB) goes as a staged
/// file by itself: one job, every row run, exit 0.
#[test]
fn a_file_over_the_request_limit_goes_as_a_staged_file() {
    let root = fresh_dir("client-staged");
    let data = root.path().join("data");
    let server = ServerProcess::start(Path::new(BINARY), &data, &["--demo"]);
    let client = Client::of(&server);
    let big = clean_ids(root.path(), "big.csv", 2_000);
    assert!(std::fs::metadata(&big).unwrap().len() > 204_800);
    let ran = client.run(&["submit", "--json", &big.to_string_lossy()]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(ran.stderr.contains("sent as a staged file"), "{ran:?}");
    let summary = ran.json();
    assert_eq!(
        (&summary["state"], &summary["succeeded"], &summary["failed"]),
        (&"COMPLETED".into(), &2_000.into(), &0.into())
    );
}
