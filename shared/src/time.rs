//! Wall-clock helpers. Times are stored as epoch milliseconds and rendered as RFC 3339 UTC.

use chrono::{DateTime, SecondsFormat, Utc};

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// Where the HTTP routes read the time that decides whether a job has expired; tests move it
/// instead of sleeping.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> i64;
}

/// The wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        now_ms()
    }
}

/// RFC 3339 / ISO 8601 in UTC with millisecond precision, e.g. `2019-02-19T13:15:27.000Z`.
pub fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_utc_with_millis() {
        assert_eq!(rfc3339(1_550_582_127_000), "2019-02-19T13:15:27.000Z");
        assert_eq!(rfc3339(1_550_582_127_042), "2019-02-19T13:15:27.042Z");
    }
}
