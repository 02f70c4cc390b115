//! Webhooks: for each URL, a task that tails the events log from the URL's cursor and POSTs
//! each event, signed the Standard Webhooks way, one at a time in log order, retrying with
//! exponential backoff until a 2xx; only then the cursor moves (see [`super::webhook_cursor`]).
//!
//! Delivery is at least once: a crash after the receiver answered and before the cursor was
//! saved sends that event again, with the same `webhook-id`, which receivers drop duplicates
//! by. A graceful stop lets an attempt in flight finish first, so nothing acknowledged is sent
//! again after a restart.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use reqwest::{StatusCode, Url};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::event_log::LocalEventLog;
use super::log_reader::{read_lines, LogLine};
use super::signing::WebhookSecret;
use super::webhook_cursor::{Cursor, CursorError};

/// The specification recommends 15 to 30 s for a receiver to answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Lines read from the log at a time.
const BATCH: usize = 100;

/// Where and how events are delivered.
#[derive(Clone, Debug, Default)]
pub struct WebhookConfig {
    pub urls: Vec<Url>,
    /// The signing secret; `None` reads or creates `<data-dir>/webhook-secret`.
    pub secret: Option<WebhookSecret>,
    pub backoff: Backoff,
}

/// Waits between attempts of one event: `first`, doubling up to `max`, with a little jitter
/// so that many senders retrying at once spread out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            first: Duration::from_millis(500),
            max: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// The wait after failed attempt number `attempt` (1-based), before jitter.
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(31));
        self.first.saturating_mul(factor).min(self.max)
    }

    /// [`Backoff::delay`] less up to a tenth, at random.
    fn jittered(&self, attempt: u32) -> Duration {
        let delay = self.delay(attempt);
        let mut byte = [0u8; 1];
        match getrandom::fill(&mut byte) {
            Ok(()) => delay.saturating_sub(delay.mul_f64(f64::from(byte[0]) / 2550.0)),
            Err(_) => delay,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error(transparent)]
    Cursor(#[from] CursorError),
    #[error("building the webhook HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// What every delivery task shares.
struct Sender {
    log: LocalEventLog,
    secret: WebhookSecret,
    client: reqwest::Client,
    backoff: Backoff,
}

/// One URL's state.
struct Endpoint {
    url: Url,
    cursor_path: PathBuf,
    cursor: Cursor,
}

/// How one event's delivery ended.
enum Outcome {
    Acknowledged,
    /// The server is stopping.
    Stopped,
    /// The receiver answered 410 Gone: it wants no more (until the server restarts).
    Gone,
}

/// Checks every URL's cursor against the log, then spawns one delivery task per URL into
/// `tasks`; they stop when `stopped` turns true.
pub fn spawn_deliveries(
    tasks: &mut JoinSet<()>,
    data_dir: &Path,
    log: &LocalEventLog,
    config: &WebhookConfig,
    secret: WebhookSecret,
    stopped: &watch::Receiver<bool>,
) -> Result<(), WebhookError> {
    let len = *log.committed().borrow();
    let mut endpoints = Vec::new();
    for url in &config.urls {
        let cursor_path = Cursor::path(data_dir, url.as_str());
        let cursor = Cursor::load(&cursor_path)?;
        cursor.check(&cursor_path, log.path(), len)?;
        endpoints.push(Endpoint {
            url: url.clone(),
            cursor_path,
            cursor,
        });
    }
    let client = reqwest::Client::builder()
        // A redirect is a failure: the URL should be updated instead (the specification).
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("bulkops/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let sender = Arc::new(Sender {
        log: log.clone(),
        secret,
        client,
        backoff: config.backoff,
    });
    for endpoint in endpoints {
        tracing::info!(url = %endpoint.url, delivered = endpoint.cursor.delivered, "webhook delivery starts");
        tasks.spawn(deliver(sender.clone(), endpoint, stopped.clone()));
    }
    Ok(())
}

/// Delivers the log to one URL, in order, until the server stops.
async fn deliver(sender: Arc<Sender>, mut endpoint: Endpoint, mut stopped: watch::Receiver<bool>) {
    let mut committed = sender.log.committed();
    let path = sender.log.path().to_owned();
    while !*stopped.borrow() {
        let limit = *committed.borrow_and_update();
        let from = endpoint.cursor.offset;
        let read = tokio::task::spawn_blocking({
            let path = path.clone();
            move || read_lines(&path, from, limit, BATCH)
        })
        .await;
        let lines = match read {
            Ok(Ok(lines)) => lines,
            Ok(Err(error)) => {
                tracing::error!(%error, path = %path.display(), "reading the events log; retrying");
                pause(sender.backoff.max, &mut stopped).await;
                continue;
            }
            Err(error) => {
                tracing::error!(%error, "reading the events log panicked; retrying");
                pause(sender.backoff.max, &mut stopped).await;
                continue;
            }
        };
        if lines.is_empty() {
            tokio::select! {
                changed = committed.changed() => {
                    // The log is gone only when the server is: wait for the stop.
                    if changed.is_err() {
                        stopped.changed().await.ok();
                        return;
                    }
                }
                changed = stopped.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
            }
            continue;
        }
        for line in lines {
            match deliver_one(&sender, &endpoint.url, &line, &mut stopped).await {
                Outcome::Acknowledged => {
                    endpoint.cursor = endpoint.cursor.after(&line);
                    let (cursor, at) = (endpoint.cursor.clone(), endpoint.cursor_path.clone());
                    match tokio::task::spawn_blocking(move || cursor.save(&at)).await {
                        Ok(Ok(())) => {}
                        // Delivery goes on; a restart before the next save resends this one.
                        Ok(Err(error)) => tracing::error!(%error, "saving the webhook cursor"),
                        Err(error) => tracing::error!(%error, "saving the webhook cursor panicked"),
                    }
                }
                Outcome::Stopped => return,
                Outcome::Gone => {
                    tracing::error!(url = %endpoint.url, "the receiver answered 410 Gone: no more deliveries to it until the server restarts");
                    return;
                }
            }
        }
    }
}

/// Sends one event until the URL acknowledges it with a 2xx.
async fn deliver_one(
    sender: &Sender,
    url: &Url,
    line: &LogLine,
    stopped: &mut watch::Receiver<bool>,
) -> Outcome {
    // Every line has one: the log is checked at open and written only by LocalEventLog.
    let id = line.id().unwrap_or_default();
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        // A fresh timestamp and signature for each attempt (the specification's retries).
        let timestamp = chrono::Utc::now().timestamp();
        let signature = sender.secret.sign(&id, timestamp, line.text.as_bytes());
        // Not raced against the stop: an answered attempt is always recorded (bounded by
        // the request timeout).
        let sent = sender
            .client
            .post(url.clone())
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(line.text.clone())
            .send()
            .await;
        let mut retry_after = Duration::ZERO;
        match sent {
            Ok(response) if response.status().is_success() => {
                tracing::info!(%url, event_id = %id, attempt, "webhook delivered");
                return Outcome::Acknowledged;
            }
            Ok(response) if response.status() == StatusCode::GONE => return Outcome::Gone,
            Ok(response) => {
                retry_after = retry_after_of(&response).unwrap_or_default();
                tracing::warn!(%url, event_id = %id, attempt, status = %response.status(), "webhook refused; retrying");
            }
            Err(error) => {
                tracing::warn!(%url, event_id = %id, attempt, %error, "webhook not delivered; retrying");
            }
        }
        if *stopped.borrow() {
            return Outcome::Stopped;
        }
        let wait = sender
            .backoff
            .jittered(attempt)
            .max(retry_after.min(sender.backoff.max));
        if pause(wait, stopped).await {
            return Outcome::Stopped;
        }
    }
}

/// A `Retry-After` in seconds (the HTTP-date form is rare from receivers; it is ignored).
fn retry_after_of(response: &reqwest::Response) -> Option<Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?;
    let seconds: u64 = value.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds))
}

/// Sleeps `wait` unless the server stops first; returns whether it is stopping.
async fn pause(wait: Duration, stopped: &mut watch::Receiver<bool>) -> bool {
    if *stopped.borrow() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(wait) => *stopped.borrow(),
        _ = stopped.changed() => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_up_to_its_cap() {
        let backoff = Backoff::default();
        let waits: Vec<u64> = (1..=9)
            .map(|attempt| backoff.delay(attempt).as_millis() as u64)
            .collect();
        assert_eq!(
            waits,
            [500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]
        );
        assert_eq!(backoff.delay(u32::MAX), Duration::from_secs(30));
        for attempt in 1..40 {
            let jittered = backoff.jittered(attempt);
            let delay = backoff.delay(attempt);
            assert!(
                jittered <= delay && jittered >= delay.mul_f64(0.9),
                "{jittered:?}"
            );
        }
    }
}
