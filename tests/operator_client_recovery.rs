//! The operator client when the wait is disturbed: Ctrl-C (SIGINT) says the job keeps
//! running and how to come back to it, and `wait` does; the server killed and restarted
//! while the client waits costs a few lines of output, and the job completes.

#[path = "operator_client/support.rs"]
mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use bulkops_testkit::server::{fresh_dir, ServerProcess};
use support::*;

#[test]
fn ctrl_c_while_waiting_says_how_to_resume_and_wait_does() {
    let root = fresh_dir("client-sigint");
    let data = root.path().join("data");
    // No worker: the job is still waiting when Ctrl-C comes.
    let server = ServerProcess::start(Path::new(BINARY), &data, &["--demo", "--workers", "0"]);
    let port = server.port();
    let client = Client::of(&server);
    let ids = data.join("demo/mfp-ids.csv");

    let mut submit = client.spawn(&[
        "submit",
        "--json",
        "--poll-ms",
        "200",
        &ids.to_string_lossy(),
    ]);
    submit.line_with("accepted", 30);
    std::thread::sleep(Duration::from_millis(500));
    submit.signal("INT");
    let ran = submit.finish(10);
    assert_eq!(ran.code, 130, "{ran:?}");
    let stopped = ran.json();
    let id = stopped["jobId"].as_str().expect("jobId").to_owned();
    let wait = format!(
        "bulkops wait {id} --url {} --input {}",
        client.url,
        ids.display()
    );
    let cancel = format!("bulkops cancel {id} --url {}", client.url);
    assert_eq!(stopped["interrupted"], true);
    assert_eq!(
        (&stopped["waitCommand"], &stopped["cancelCommand"]),
        (&wait.clone().into(), &cancel.clone().into())
    );
    assert!(
        ran.stderr
            .contains(&format!("job {id} keeps running on the server")),
        "{ran:?}"
    );
    assert!(
        ran.stderr.contains(&format!("follow it:  {wait}")),
        "{ran:?}"
    );
    assert!(
        ran.stderr.contains(&format!("cancel it:  {cancel}")),
        "{ran:?}"
    );
    let status = client.run(&["status", &id, "--json"]).json();
    assert_eq!(
        status["state"], "SCHEDULED",
        "the job was not cancelled: {status}"
    );

    // With a worker, the job completes; the printed command, as printed, follows it there.
    server.stop();
    let server = ServerProcess::start_on_port(Path::new(BINARY), &data, port, &[], &[]);
    let words = shlex::split(&wait).expect("a shell command");
    let mut resume = Command::new(BINARY);
    resume.args(&words[1..]).env("BULKOPS_TOKEN", &client.token);
    let ran = support::ran(resume);
    assert_eq!(ran.code, 3, "{ran:?}");
    assert!(ran.stdout.contains("990 succeeded, 10 failed"), "{ran:?}");
    let failed = data.join("demo/mfp-ids.failed.csv");
    assert_eq!(std::fs::read_to_string(failed).unwrap().lines().count(), 11);
    server.stop();
}

#[test]
fn a_server_restart_while_waiting_costs_a_few_lines_and_the_job_completes() {
    let root = fresh_dir("client-restart");
    let data = root.path().join("data");
    let server = ServerProcess::start(Path::new(BINARY), &data, &["--demo", "--workers", "0"]);
    let port = server.port();
    let client = Client::of(&server);
    let ids = clean_ids(root.path(), "ids.csv", 200);

    let mut submit = client.spawn(&["submit", "--poll-ms", "200", &ids.to_string_lossy()]);
    submit.line_with("accepted", 30);
    server.kill();
    submit.line_with("no answer from", 15);
    // Several retries while the server is down.
    std::thread::sleep(Duration::from_secs(3));
    let server = ServerProcess::start_on_port(Path::new(BINARY), &data, port, &[], &[]);
    let ran = submit.finish(60);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(ran.stdout.contains("200 succeeded, 0 failed"), "{ran:?}");
    assert!(ran.stderr.contains("the server answers again"), "{ran:?}");
    let outage_lines = ran
        .stderr
        .lines()
        .filter(|l| l.contains("no answer"))
        .count();
    assert_eq!(outage_lines, 1, "one line for the outage: {ran:?}");
    assert!(ran.stderr.lines().count() <= 10, "bounded output: {ran:?}");
    server.stop();
}
