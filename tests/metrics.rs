//! The service's metrics agree with the jobs: on moto, a job whose every chunk is delivered
//! 3 times counts each row once and each duplicate delivery as one, and its end once.

mod common;

use bulkops_shared::metrics::Metric;
use bulkops_shared::model::JobType;
use bulkops_testkit::{Fixture, PumpOptions};
use common::*;

#[tokio::test]
async fn metrics_count_each_row_once_and_each_duplicate_delivery() {
    let fx = Fixture::new().await;
    let mut ids = load(&fx, 0..600).await;
    ids.extend((9_000..9_050).map(enrollment_id));
    let job = submit_ids(&fx, &ids).await;
    let id = job["id"].as_str().unwrap().to_owned();
    run_processor(
        &fx,
        PumpOptions {
            deliveries: 3,
            ..PumpOptions::default()
        },
    )
    .await;
    fx.publisher().sweep(100).await.expect("sweep");
    let job = fx.jobs().get_job(&id).await.unwrap().expect("the job");
    let total = |metric| fx.metrics.total(metric, JobType::SendMfp);
    assert_eq!(total(Metric::RowsSucceeded), f64::from(job.rows_processed));
    assert_eq!(total(Metric::RowsFailed), f64::from(job.rows_failed));
    assert_eq!((job.rows_processed, job.rows_failed), (600, 50));
    assert_eq!(total(Metric::ChunksProcessed), f64::from(job.chunk_count));
    assert_eq!(
        total(Metric::DuplicateDeliveries),
        f64::from(2 * job.chunk_count)
    );
    assert_eq!(total(Metric::JobsCompleted), 1.0);
    assert_eq!(total(Metric::DeadLetteredChunks), 0.0);
    let text = fx.metrics.render();
    assert!(
        text.contains("bulkops_job_duration_ms_count{job_type=\"SEND_MFP\"} 1"),
        "{text}"
    );
}
