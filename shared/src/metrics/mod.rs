//! Service metrics. The engine reports what happened to a job type's rows, chunks and jobs
//! through [`Metrics`]; on Lambda each report is one CloudWatch Embedded Metric Format line on
//! stdout ([`Emf`]: CloudWatch Logs turns it into metrics, no API call), and the local server
//! keeps the same counts for Prometheus ([`Registry`]).

mod emf;
mod registry;

pub use emf::{cold_start_line, emf_line, report_cold_start, Emf, COLD_START, NAMESPACE};
pub use registry::Registry;

use crate::model::JobType;

/// What is measured; each has one CloudWatch unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    RowsSucceeded,
    RowsFailed,
    RowsSkipped,
    ChunksProcessed,
    /// Milliseconds from a chunk's claim to its counts being recorded.
    ChunkDuration,
    /// Milliseconds from a job's creation to its final state.
    JobDuration,
    JobsCompleted,
    JobsFailed,
    JobsCancelled,
    DeadLetteredChunks,
    /// Deliveries of a chunk that was already counted (SQS's at-least-once, made harmless).
    DuplicateDeliveries,
}

impl Metric {
    pub const ALL: [Metric; 11] = [
        Metric::RowsSucceeded,
        Metric::RowsFailed,
        Metric::RowsSkipped,
        Metric::ChunksProcessed,
        Metric::ChunkDuration,
        Metric::JobDuration,
        Metric::JobsCompleted,
        Metric::JobsFailed,
        Metric::JobsCancelled,
        Metric::DeadLetteredChunks,
        Metric::DuplicateDeliveries,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::RowsSucceeded => "RowsSucceeded",
            Metric::RowsFailed => "RowsFailed",
            Metric::RowsSkipped => "RowsSkipped",
            Metric::ChunksProcessed => "ChunksProcessed",
            Metric::ChunkDuration => "ChunkDuration",
            Metric::JobDuration => "JobDuration",
            Metric::JobsCompleted => "JobsCompleted",
            Metric::JobsFailed => "JobsFailed",
            Metric::JobsCancelled => "JobsCancelled",
            Metric::DeadLetteredChunks => "DeadLetteredChunks",
            Metric::DuplicateDeliveries => "DuplicateDeliveries",
        }
    }

    /// The CloudWatch unit.
    pub fn unit(self) -> &'static str {
        match self {
            Metric::ChunkDuration | Metric::JobDuration => "Milliseconds",
            _ => "Count",
        }
    }

    /// Durations are distributions; everything else adds up.
    pub fn is_duration(self) -> bool {
        self.unit() == "Milliseconds"
    }
}

/// Where the engine reports measurements, several at once for one job type.
pub trait Metrics: Send + Sync {
    fn record(&self, job_type: JobType, values: &[(Metric, f64)]);
}

/// Reports nothing (tests and tools that do not measure).
pub struct NoMetrics;

impl Metrics for NoMetrics {
    fn record(&self, _: JobType, _: &[(Metric, f64)]) {}
}
