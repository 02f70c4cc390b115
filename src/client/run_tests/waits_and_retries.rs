//! The wait's and the submit's retries: transient poll failures, a poll that cannot succeed,
//! the timeout, one Idempotency-Key across retried submits, a server that never answered.

use super::*;

#[tokio::test]
async fn transient_poll_failures_are_retried_and_a_failed_job_is_reported() {
    let polls = Arc::new(AtomicUsize::new(0));
    let counter = polls.clone();
    let server = TestServer::start(move |request| match request.method.as_str() {
        "POST" => (202, "8".into()),
        _ if counter.fetch_add(1, Ordering::SeqCst) < 2 => (
            503,
            json!({"code": "SERVICE_UNAVAILABLE", "message": "busy"}).to_string(),
        ),
        _ => ok(json!({
            "Id": 8, "Status": "failed",
            "Result": {"Succeeded": 0, "Failed": 0, "Error": "The upload was cancelled"},
            "FailedItems": {"Total": 0, "Items": []}
        })),
    })
    .await;
    let scratch = Scratch::new();
    let file = scratch.file("a.csv", "safeName,platformId\ns,p\ns,q\n");

    let exit = submit(args(&file, &server.url)).await.unwrap();

    assert_eq!(polls.load(Ordering::SeqCst), 3);
    assert_eq!(exit, Exit::JobNotCompleted);
    // Neither row ran: both are in the failed-rows file, to submit again.
    let failed = std::fs::read_to_string(scratch.0.path().join("a.failed.csv")).unwrap();
    assert_eq!(failed, "safeName,platformId\ns,p\ns,q\n");
    let body: Value = serde_json::from_slice(&server.requests()[0].body).unwrap();
    assert_eq!(body["source"], "a.csv");
}

#[tokio::test]
async fn a_poll_that_cannot_succeed_ends_the_wait_at_once() {
    let server = TestServer::start(|request| match request.method.as_str() {
        "POST" => (202, "3".into()),
        _ => (
            404,
            json!({"code": "NOT_FOUND", "message": "no such upload"}).to_string(),
        ),
    })
    .await;
    let scratch = Scratch::new();
    let file = scratch.file("a.csv", "safeName,platformId\ns,p\n");

    let error = submit(args(&file, &server.url)).await.unwrap_err();

    assert_eq!(
        error.to_string(),
        "polling job 3: 404 NOT_FOUND no such upload"
    );
    assert_eq!(error.exit(), Exit::Error);
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn waiting_gives_up_at_the_timeout() {
    let server = TestServer::start(|_| {
        ok(json!({"id": "j", "state": "PROCESSING", "rowsProcessed": 1, "totalRows": 4}))
    })
    .await;
    let client = ApiClient::new(&server.url, None).unwrap();
    let job = Job {
        api: Api::Mfp,
        id: "j".into(),
        rows: Some(4),
    };
    let polling = Polling {
        every: Duration::from_millis(5),
        timeout: Duration::from_millis(60),
        backoff: Backoff::default(),
        answered: false,
    };
    let show = Show {
        progress: false,
        notes: false,
    };
    let mut progress = Progress::new("j", Some(4), show);

    let error = wait::until_final(&client, &job, &polling, &mut progress, &Tracker::default())
        .await
        .unwrap_err();

    let WaitError::Timeout { last, unanswered } = error else {
        panic!("{error:?}");
    };
    assert_eq!(
        last.map(|s| s.brief()).as_deref(),
        Some("PROCESSING, 1/4 rows done")
    );
    assert_eq!(unanswered, None);
}

/// A submit that keeps failing on the server's side is retried with its one Idempotency-Key
/// (the server replays the first job for it), then given up on.
#[tokio::test]
async fn a_submit_is_retried_with_one_key() {
    let server = TestServer::start(|_| {
        (
            503,
            json!({"code": "SERVICE_UNAVAILABLE", "message": "busy"}).to_string(),
        )
    })
    .await;
    let scratch = Scratch::new();
    let file = scratch.file("ids.csv", "id\nYQ\n");

    let error = submit(args(&file, &server.url)).await.unwrap_err();

    assert!(
        error.to_string().starts_with("submit rejected: 503"),
        "{error}"
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 5, "five attempts");
    let keys: std::collections::BTreeSet<&str> = requests
        .iter()
        .map(|r| r.header("idempotency-key").unwrap_or_default())
        .collect();
    assert_eq!(keys.len(), 1, "one key for every attempt: {keys:?}");
}

/// A server that never answers: the poll retries with backoff, then gives up (a wrong --url
/// is likelier than a restart), and says where to look.
#[tokio::test]
async fn a_server_that_never_answered_is_given_up_on() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    let client = ApiClient::new(&format!("http://127.0.0.1:{port}"), None).unwrap();
    let job = Job {
        api: Api::Accounts,
        id: "4".into(),
        rows: None,
    };
    let polling = Polling {
        every: Duration::from_millis(1),
        timeout: Duration::from_secs(30),
        backoff: Backoff {
            first: Duration::from_millis(1),
            max: Duration::from_millis(4),
        },
        answered: false,
    };
    let show = Show {
        progress: false,
        notes: false,
    };
    let mut progress = Progress::new("4", None, show);
    let started = std::time::Instant::now();

    let error = wait::until_final(&client, &job, &polling, &mut progress, &Tracker::default())
        .await
        .unwrap_err();

    let WaitError::Call(error) = error else {
        panic!("{error:?}");
    };
    assert_eq!(error.exit(), Exit::Unreachable);
    assert!(started.elapsed() < Duration::from_secs(5));
}
