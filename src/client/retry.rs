//! Retrying the calls that are safe to repeat (GET, DELETE) when they fail transiently (no
//! answer, 429, 5xx): exponential backoff with jitter, so that many clients retrying at once
//! spread out instead of hammering a server that is coming back.

use std::future::Future;
use std::time::Duration;

use super::http_error::HttpError;

/// Waits between attempts: `first`, doubling up to `max`; each wait is drawn at random
/// between half and all of that ("equal jitter").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            first: Duration::from_millis(250),
            max: Duration::from_secs(5),
        }
    }
}

impl Backoff {
    /// The ceiling of the wait after failed attempt `attempt` (1-based).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(31));
        self.first.saturating_mul(factor).min(self.max)
    }

    /// The wait after failed attempt `attempt`: between half the ceiling and all of it.
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt);
        ceiling.mul_f64(rand::random_range(0.5..=1.0))
    }
}

/// How often a single call (not the wait for a job) is tried.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub backoff: Backoff,
    /// Attempts in all, the first included.
    pub attempts: u32,
}

impl Default for Retry {
    /// Five attempts: about 4 s of retrying before a command says the server is unreachable.
    fn default() -> Self {
        Self {
            backoff: Backoff::default(),
            attempts: 5,
        }
    }
}

impl Retry {
    /// Runs `call` until it succeeds, fails for good, or the attempts run out; `on_retry` is
    /// told each transient failure and the wait before the next attempt.
    pub async fn run<T, F, Fut>(
        &self,
        mut call: F,
        mut on_retry: impl FnMut(&HttpError, Duration),
    ) -> Result<T, HttpError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, HttpError>>,
    {
        let mut attempt = 1;
        loop {
            match call().await {
                Err(error) if error.is_transient() && attempt < self.attempts => {
                    let delay = self.backoff.delay(attempt);
                    on_retry(&error, delay);
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                result => return result,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use reqwest::StatusCode;

    use super::*;

    #[test]
    fn the_ceiling_doubles_up_to_the_cap_and_jitter_stays_within_it() {
        let backoff = Backoff::default();
        let ceilings: Vec<u128> = (1..=7).map(|a| backoff.ceiling(a).as_millis()).collect();
        assert_eq!(ceilings, [250, 500, 1000, 2000, 4000, 5000, 5000]);
        assert_eq!(backoff.ceiling(u32::MAX), Duration::from_secs(5));
        for attempt in 1..=10 {
            let (delay, ceiling) = (backoff.delay(attempt), backoff.ceiling(attempt));
            assert!(
                delay <= ceiling && delay >= ceiling / 2,
                "{delay:?} {ceiling:?}"
            );
        }
    }

    fn unavailable() -> HttpError {
        HttpError::Status {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: None,
            message: String::new(),
        }
    }

    #[tokio::test]
    async fn transient_failures_are_retried_until_the_attempts_run_out() {
        let retry = Retry {
            backoff: Backoff {
                first: Duration::from_millis(1),
                max: Duration::from_millis(2),
            },
            attempts: 3,
        };
        let calls = AtomicU32::new(0);
        let mut told = 0;
        let result: Result<(), _> = retry
            .run(
                || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err(unavailable())
                },
                |_, _| told += 1,
            )
            .await;
        assert!(result.is_err());
        assert_eq!((calls.load(Ordering::SeqCst), told), (3, 2));

        calls.store(0, Ordering::SeqCst);
        let answer = retry
            .run(
                || async {
                    match calls.fetch_add(1, Ordering::SeqCst) {
                        0 => Err(unavailable()),
                        _ => Ok(7),
                    }
                },
                |_, _| {},
            )
            .await;
        assert_eq!(answer.ok(), Some(7));

        // A 404 is final at once.
        calls.store(0, Ordering::SeqCst);
        let not_found: Result<(), _> = retry
            .run(
                || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err(HttpError::Status {
                        status: StatusCode::NOT_FOUND,
                        code: None,
                        message: String::new(),
                    })
                },
                |_, _| {},
            )
            .await;
        assert!(not_found.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
