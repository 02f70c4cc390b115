//! Unit tests of the events log: one line per id, across reopening too.

use super::*;
use bulkops_shared::events::job_event;
use bulkops_shared::model::{EventKind, Job, JobType};

fn events(job_id: &str, kinds: &[EventKind]) -> Vec<JobEvent> {
    let job = Job::new(
        job_id.to_owned(),
        JobType::SendMfp,
        "alice".to_owned(),
        3,
        1_700_000_000_000,
    );
    kinds
        .iter()
        .map(|kind| job_event(&job, *kind, 1_700_000_000_000))
        .collect()
}

fn ids_in(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .expect("the log")
        .lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line).expect("a JSON line");
            value["id"].as_str().expect("an id").to_owned()
        })
        .collect()
}

#[test]
fn an_id_is_written_once_even_across_reopen() {
    use EventKind::*;
    let dir = tempfile::tempdir().expect("temp dir");
    let log = LocalEventLog::open(dir.path()).expect("open");
    assert_eq!(
        log.append(&events("j1", &[Created, Processing]))
            .expect("append"),
        2
    );
    // The same batch again (a flush and a sweep racing) and one new event.
    let again = events("j1", &[Created, Processing, Completed]);
    assert_eq!(log.append(&again).expect("append"), 1);
    // One batch holding an id twice writes it once.
    assert_eq!(
        log.append(&events("j2", &[Created, Created]))
            .expect("append"),
        1
    );
    drop(log);

    // As after a crash between the append and the outbox removal: everything again.
    let log = LocalEventLog::open(dir.path()).expect("reopen");
    assert!(log.contains("j1:COMPLETED"));
    assert_eq!(log.append(&again).expect("append"), 0);
    assert_eq!(log.append(&events("j2", &[Completed])).expect("append"), 1);
    assert_eq!(
        ids_in(log.path()),
        [
            "j1:CREATED",
            "j1:PROCESSING",
            "j1:COMPLETED",
            "j2:CREATED",
            "j2:COMPLETED"
        ]
    );
    assert_eq!(
        *log.committed().borrow(),
        std::fs::metadata(log.path()).expect("len").len()
    );
}

#[tokio::test]
async fn as_a_sink_it_accepts_every_event_and_writes_each_id_once() {
    use EventKind::*;
    let dir = tempfile::tempdir().expect("temp dir");
    let log = LocalEventLog::open(dir.path()).expect("open");
    let sink: &dyn EventSink = &log;
    let batch = events("j1", &[Created, Processing]);
    assert!(sink.send(&batch).await.expect("send").is_empty());
    assert!(sink.send(&batch).await.expect("send again").is_empty());
    assert_eq!(ids_in(log.path()), ["j1:CREATED", "j1:PROCESSING"]);
}

#[test]
fn a_torn_last_line_is_cut_off_at_open() {
    use EventKind::*;
    let dir = tempfile::tempdir().expect("temp dir");
    let log = LocalEventLog::open(dir.path()).expect("open");
    log.append(&events("j1", &[Created])).expect("append");
    let path = log.path().to_owned();
    drop(log);
    let whole = std::fs::read(&path).expect("log");
    let mut torn = whole.clone();
    torn.extend_from_slice(b"{\"version\":\"0\",\"id\":\"j1:PROC");
    std::fs::write(&path, &torn).expect("tear");

    let log = LocalEventLog::open(dir.path()).expect("reopen");
    assert_eq!(std::fs::read(&path).expect("log"), whole);
    assert!(!log.contains("j1:PROCESSING"));
    log.append(&events("j1", &[Processing])).expect("append");
    assert_eq!(ids_in(&path), ["j1:CREATED", "j1:PROCESSING"]);
}

#[test]
fn a_line_that_is_not_an_event_is_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join(EVENTS_FILE),
        "{\"id\":\"a:CREATED\"}\nnot json\n",
    )
    .expect("write");
    match LocalEventLog::open(dir.path()) {
        Err(EventLogError::Corrupt { line, .. }) => assert_eq!(line, 2),
        Err(other) => panic!("expected a corrupt line, got {other}"),
        Ok(_) => panic!("a corrupt log opened"),
    }
}

#[test]
fn the_envelope_is_eventbridges() {
    let event = events("j1", &[EventKind::Completed]).remove(0);
    let value = envelope(&event).expect("envelope");
    let keys: Vec<&str> = value
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "version",
            "id",
            "detail-type",
            "source",
            "account",
            "time",
            "region",
            "resources",
            "detail"
        ]
    );
    assert_eq!(value["version"], "0");
    assert_eq!(value["id"], "j1:COMPLETED");
    assert_eq!(value["detail-type"], event.detail_type);
    assert_eq!(value["source"], "bulkops");
    assert_eq!(value["account"], ACCOUNT);
    assert_eq!(value["region"], "local");
    assert_eq!(value["time"], event.time);
    assert_eq!(value["resources"], serde_json::json!([]));
    assert_eq!(
        value["detail"],
        serde_json::to_value(&event.detail).expect("detail")
    );
}
