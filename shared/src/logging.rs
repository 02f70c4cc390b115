//! The functions' log lines: one JSON object per line, with what an operator filters on at
//! 3 a.m. on every line of a request or chunk, whatever `AWS_LAMBDA_LOG_FORMAT` says:
//!
//! - `timestamp` (RFC 3339, UTC), `level`, `message` and the event's own fields;
//! - `service` (`bulkops`) and `function` (the deployed function's name);
//! - the fields of the spans the line is in: `requestId` (Lambda's, from the runtime's span),
//!   `cold_start` (from [`invocation`]), `api_request_id` (API Gateway's, for HTTP requests),
//!   `message_id` (SQS), `job_id` and `chunk` (from the engine's spans).
//!
//! An event never repeats a field of a span it is in: the flattened line would hold the key
//! twice.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};

use json_subscriber::JsonLayer;
use serde_json::json;
use tracing::instrument::Instrumented;
use tracing::{Instrument, Subscriber};
use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::fmt::time::SystemTime;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// The `service` field of every line.
pub const SERVICE: &str = "bulkops";

/// True until the process's first invocation starts.
static COLD: AtomicBool = AtomicBool::new(true);

/// Installs the JSON log lines on stdout for this process. The level comes from
/// `AWS_LAMBDA_LOG_LEVEL` (the template's `ApplicationLogLevel`), else `RUST_LOG`, else INFO.
pub fn init() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|level| level.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let filter = EnvFilter::builder()
        .with_default_directive(level.into())
        .from_env_lossy();
    // A second call (tests) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(json_lines(&function_name(), std::io::stdout))
        .try_init();
}

/// The JSON layer, writing to `writer`, for `function`.
pub fn json_lines<S, W>(function: &str, writer: W) -> JsonLayer<S, W>
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
    W: for<'writer> MakeWriter<'writer> + 'static,
{
    let mut layer = JsonLayer::new(writer);
    layer.with_timer("timestamp", SystemTime);
    layer.with_level("level");
    layer.add_static_field("service", json!(SERVICE));
    layer.add_static_field("function", json!(function));
    layer.with_flattened_event();
    layer.with_top_level_flattened_span_list();
    layer
}

/// The deployed function's name (`AWS_LAMBDA_FUNCTION_NAME`), else this program's.
pub fn function_name() -> String {
    std::env::var("AWS_LAMBDA_FUNCTION_NAME")
        .ok()
        .or_else(|| {
            let program = std::env::args_os().next()?;
            let name = std::path::Path::new(&program).file_name()?;
            Some(name.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Runs one invocation's work in a span saying whether it is the process's first (a cold
/// start); the first also counts one `ColdStart` metric for the function.
pub fn invocation<F: Future>(work: F) -> Instrumented<F> {
    let cold_start = COLD.swap(false, Ordering::Relaxed);
    if cold_start {
        crate::metrics::report_cold_start(&function_name());
    }
    work.instrument(tracing::info_span!("invocation", cold_start))
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use serde_json::Value;
    use tracing_subscriber::fmt::MakeWriter;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lines").extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Lines {
        type Writer = Lines;
        fn make_writer(&'a self) -> Lines {
            self.clone()
        }
    }

    #[test]
    fn every_line_carries_the_service_the_function_and_its_spans_fields() {
        let lines = Lines::default();
        let subscriber =
            tracing_subscriber::registry().with(json_lines("bulkops-dev-Processor", lines.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let invoke = tracing::info_span!("Lambda runtime invoke", requestId = "r-1");
            let _invoke = invoke.enter();
            let cold = tracing::info_span!("invocation", cold_start = true);
            let _cold = cold.enter();
            let chunk = tracing::info_span!("chunk", job_id = "job-1", chunk = 3);
            let _chunk = chunk.enter();
            tracing::info!(succeeded = 2, "chunk recorded");
        });
        let text = String::from_utf8(lines.0.lock().expect("lines").clone()).expect("UTF-8");
        let line: Value = serde_json::from_str(text.trim_end()).expect("one JSON line");
        assert_eq!(line["service"], "bulkops");
        assert_eq!(line["function"], "bulkops-dev-Processor");
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["message"], "chunk recorded");
        assert_eq!(line["succeeded"], 2);
        assert_eq!(line["requestId"], "r-1");
        assert_eq!(line["cold_start"], true);
        assert_eq!(line["job_id"], "job-1");
        assert_eq!(line["chunk"], 3);
        let timestamp = line["timestamp"].as_str().expect("a timestamp");
        assert!(
            timestamp.ends_with('Z') && timestamp.contains('T'),
            "RFC 3339 UTC: {timestamp}"
        );
    }
}
