//! CloudWatch Embedded Metric Format: one JSON line per report, written to stdout, which
//! Lambda sends to CloudWatch Logs; CloudWatch extracts the metrics from the `_aws` block.
//! The dimension is the job type, so each operation has its own series.

use std::io::Write;

use serde_json::{json, Map, Value};

use super::{Metric, Metrics};
use crate::model::JobType;

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "bulkops";

/// [`Metrics`] as EMF lines on stdout.
pub struct Emf;

impl Metrics for Emf {
    fn record(&self, job_type: JobType, values: &[(Metric, f64)]) {
        if values.is_empty() {
            return;
        }
        write_line(&emf_line(job_type, values, crate::time::now_ms()));
    }
}

/// The EMF document of one report.
pub fn emf_line(job_type: JobType, values: &[(Metric, f64)], timestamp_ms: i64) -> Value {
    let values: Vec<(&str, &str, f64)> = values
        .iter()
        .map(|(metric, value)| (metric.name(), metric.unit(), *value))
        .collect();
    document(("JobType", job_type.as_str()), &values, timestamp_ms)
}

/// The metric of a function's cold start: one per process, by function name.
pub const COLD_START: &str = "ColdStart";

/// The EMF document counting one cold start of `function`.
pub fn cold_start_line(function: &str, timestamp_ms: i64) -> Value {
    document(
        ("Function", function),
        &[(COLD_START, "Count", 1.0)],
        timestamp_ms,
    )
}

/// Writes the cold-start line of `function` to stdout.
pub fn report_cold_start(function: &str) {
    write_line(&cold_start_line(function, crate::time::now_ms()));
}

fn write_line(line: &Value) {
    // One write per line, so concurrent reports never interleave within a line.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
}

/// One dimension, several (name, unit, value) metrics.
fn document(dimension: (&str, &str), values: &[(&str, &str, f64)], timestamp_ms: i64) -> Value {
    let definitions: Vec<Value> = values
        .iter()
        .map(|(name, unit, _)| json!({ "Name": name, "Unit": unit }))
        .collect();
    let mut document = Map::new();
    document.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [[dimension.0]],
                "Metrics": definitions,
            }],
        }),
    );
    document.insert(dimension.0.into(), json!(dimension.1));
    for (name, _, value) in values {
        document.insert((*name).into(), json!(value));
    }
    Value::Object(document)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The specification's rules: `_aws` with a millisecond `Timestamp` and
    /// `CloudWatchMetrics` directives; each directive's namespace, dimension sets (at most 30
    /// dimensions, each a top-level string) and metric definitions (at most 100, each name a
    /// top-level number, units from the CloudWatch list).
    #[test]
    fn lines_follow_the_embedded_metric_format() {
        let values: Vec<(Metric, f64)> = Metric::ALL.iter().map(|m| (*m, 3.0)).collect();
        let line = emf_line(JobType::AddAccounts, &values, 1_700_000_000_123);
        assert_follows_the_specification(&line);
        assert_eq!(line["JobType"], "ADD_ACCOUNTS");
        let metrics = line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap();
        assert_eq!(metrics.len(), Metric::ALL.len());
    }

    #[test]
    fn a_cold_start_is_one_count_by_function() {
        let line = cold_start_line("bulkops-dev-Processor", 1_700_000_000_123);
        assert_follows_the_specification(&line);
        assert_eq!(line["Function"], "bulkops-dev-Processor");
        assert_eq!(line[COLD_START], 1.0);
    }

    fn assert_follows_the_specification(line: &Value) {
        let text = line.to_string();
        assert!(!text.contains('\n'), "one line");
        let aws = &line["_aws"];
        assert_eq!(aws["Timestamp"], 1_700_000_000_123_i64);
        let directives = aws["CloudWatchMetrics"].as_array().unwrap();
        assert_eq!(directives.len(), 1);
        let directive = &directives[0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        for set in directive["Dimensions"].as_array().unwrap() {
            let set = set.as_array().unwrap();
            assert!(!set.is_empty() && set.len() <= 30);
            for dimension in set {
                assert!(line[dimension.as_str().unwrap()].is_string());
            }
        }
        let definitions = directive["Metrics"].as_array().unwrap();
        assert!(!definitions.is_empty() && definitions.len() <= 100);
        for definition in definitions {
            let name = definition["Name"].as_str().unwrap();
            assert!(line[name].is_number(), "{name} is a top-level number");
            assert!(["Count", "Milliseconds"].contains(&definition["Unit"].as_str().unwrap()));
        }
    }
}
