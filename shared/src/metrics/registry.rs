//! The local server's metrics: the same reports kept in memory and rendered as Prometheus text
//! (`GET /metrics`). Counts are counters; durations are summaries (`_sum`, `_count`).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use super::{Metric, Metrics};
use crate::model::JobType;

/// (metric, job type) → (sum, count).
type Series = BTreeMap<(Metric, &'static str), (f64, u64)>;

#[derive(Default)]
pub struct Registry {
    values: Mutex<Series>,
}

impl Registry {
    /// The Prometheus text exposition of everything recorded so far.
    pub fn render(&self) -> String {
        let values = self.values.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        for metric in Metric::ALL {
            let name = prometheus_name(metric);
            let series: Vec<_> = values.iter().filter(|((m, _), _)| *m == metric).collect();
            if metric.is_duration() {
                let _ = writeln!(out, "# HELP {name} {} in milliseconds", metric.name());
                let _ = writeln!(out, "# TYPE {name} summary");
                for ((_, job_type), (sum, count)) in series {
                    let _ = writeln!(out, "{name}_sum{{job_type=\"{job_type}\"}} {sum}");
                    let _ = writeln!(out, "{name}_count{{job_type=\"{job_type}\"}} {count}");
                }
            } else {
                let _ = writeln!(out, "# HELP {name} {}", metric.name());
                let _ = writeln!(out, "# TYPE {name} counter");
                for ((_, job_type), (sum, _)) in series {
                    let _ = writeln!(out, "{name}{{job_type=\"{job_type}\"}} {sum}");
                }
            }
        }
        out
    }

    /// The total of a counter for a job type (0 when nothing was recorded).
    pub fn total(&self, metric: Metric, job_type: JobType) -> f64 {
        let values = self.values.lock().unwrap_or_else(|p| p.into_inner());
        values
            .get(&(metric, job_type.as_str()))
            .map_or(0.0, |(sum, _)| *sum)
    }
}

impl Metrics for Registry {
    fn record(&self, job_type: JobType, values: &[(Metric, f64)]) {
        let mut stored = self.values.lock().unwrap_or_else(|p| p.into_inner());
        for (metric, value) in values {
            let entry = stored
                .entry((*metric, job_type.as_str()))
                .or_insert((0.0, 0));
            entry.0 += value;
            entry.1 += 1;
        }
    }
}

/// `RowsSucceeded` → `bulkops_rows_succeeded_total` (counters) or `bulkops_chunk_duration_ms`.
fn prometheus_name(metric: Metric) -> String {
    let mut snake = String::new();
    for (i, c) in metric.name().chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            snake.push('_');
        }
        snake.push(c.to_ascii_lowercase());
    }
    if metric.is_duration() {
        format!("bulkops_{snake}_ms")
    } else {
        format!("bulkops_{snake}_total")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_up_and_durations_keep_sum_and_count() {
        let registry = Registry::default();
        registry.record(
            JobType::SendMfp,
            &[(Metric::RowsSucceeded, 5.0), (Metric::ChunkDuration, 40.0)],
        );
        registry.record(
            JobType::SendMfp,
            &[(Metric::RowsSucceeded, 2.0), (Metric::ChunkDuration, 60.0)],
        );
        let text = registry.render();
        assert!(text.contains("bulkops_rows_succeeded_total{job_type=\"SEND_MFP\"} 7"));
        assert!(text.contains("bulkops_chunk_duration_ms_sum{job_type=\"SEND_MFP\"} 100"));
        assert!(text.contains("bulkops_chunk_duration_ms_count{job_type=\"SEND_MFP\"} 2"));
        assert!(text.contains("# TYPE bulkops_jobs_completed_total counter"));
        assert_eq!(registry.total(Metric::RowsSucceeded, JobType::SendMfp), 7.0);
    }
}
