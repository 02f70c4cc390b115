//! The two implementations of the storage ports, side by side, for suites that run one case
//! on each: DynamoDB through moto and the embedded redb store.

use std::sync::Arc;

use bulkops_embedded::EmbeddedStore;
use bulkops_shared::store::{JobStore, RecordStore};
use bulkops_testkit::Fixture;

pub struct Stores {
    pub jobs: Arc<dyn JobStore>,
    pub records: Arc<dyn RecordStore>,
    /// Keeps the embedded store's directory alive for the test.
    pub _dir: Option<tempfile::TempDir>,
}

pub async fn dynamo() -> Stores {
    let fx = Fixture::new().await;
    Stores {
        jobs: fx.jobs(),
        records: fx.records(),
        _dir: None,
    }
}

pub async fn embedded() -> Stores {
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = Arc::new(
        EmbeddedStore::open(&dir.path().join("bulkops.redb")).expect("open embedded store"),
    );
    Stores {
        jobs: store.clone(),
        records: store,
        _dir: Some(dir),
    }
}

/// Declares each case (an `async fn(Stores)` in scope) twice: as a test on DynamoDB through
/// moto and as one on the embedded store.
#[macro_export]
macro_rules! both_stores {
    ($($case:ident),* $(,)?) => {
        mod dynamodb_on_moto {
            $(#[tokio::test] async fn $case() { super::$case(super::dynamo().await).await })*
        }
        mod embedded_redb {
            $(#[tokio::test] async fn $case() { super::$case(super::embedded().await).await })*
        }
    };
}
