//! Unit tests of the ADD_ACCOUNTS row operation.

use super::*;
use crate::model::JobType;

fn account(value: Value) -> BulkAccountModel {
    serde_json::from_value(value).unwrap()
}

#[test]
fn account_keys_ignore_case_and_cannot_collide() {
    let a = account_key(&account(
        json!({"safeName": "Unix", "platformId": "p", "userName": "Root", "address": "h1"}),
    ));
    let b = account_key(&account(
        json!({"safeName": "unix", "platformId": "p", "userName": "root", "address": "H1"}),
    ));
    assert_eq!(a, b);
    let c = account_key(&account(
        json!({"safeName": "s", "platformId": "p", "userName": "a\",\"b", "address": "c"}),
    ));
    let d = account_key(&account(
        json!({"safeName": "s", "platformId": "p", "userName": "a", "address": "b\",\"c"}),
    ));
    assert_ne!(c, d);
}

#[test]
fn required_properties_may_come_from_platform_account_properties() {
    let platform = json!({"requiredProperties": ["address", "userName", "logonDomain"]});
    let full = account(
        json!({"safeName": "s", "platformId": "p", "address": "h", "userName": "u", "platformAccountProperties": {"logonDomain": "d"}}),
    );
    assert_eq!(missing_property(&platform, &full), None);
    let partial =
        account(json!({"safeName": "s", "platformId": "p", "address": "h", "userName": " "}));
    assert_eq!(
        missing_property(&platform, &partial),
        Some("userName".into())
    );
}

#[test]
fn the_echo_never_carries_the_secret() {
    let row = ChunkRow::new(
        1,
        &json!({"uploadIndex": 7, "account": {"safeName": "s", "platformId": "p", "secret": "hunter2", "userName": "u"}}),
    );
    let echo = AddAccounts::new(Arc::new(NoRecords::default())).echo(&row);
    assert_eq!(
        Value::Object(echo),
        json!({"uploadIndex": 7, "safeName": "s", "platformId": "p", "userName": "u"})
    );
}

#[tokio::test]
async fn a_rejected_line_fails_without_reaching_the_vault() {
    let rejected = AccountRowInput::rejected(2, "line 3: safeName is required".into());
    let rows = vec![
        AccountRowInput::new(
            1,
            Some(7),
            account(json!({"safeName": "s", "platformId": "p"})),
        )
        .into_row(1),
        rejected.into_row(2),
    ];
    assert_eq!(
        rows[1].input::<Value>().unwrap(),
        json!({"uploadIndex": 2, "rejected": "line 3: safeName is required"})
    );
    assert_eq!(
        rows[0].input::<Value>().unwrap(),
        json!({"uploadIndex": 7, "account": {"safeName": "s", "platformId": "p"}}),
        "a request's rows are as they were"
    );
    let job = Job::new("1".into(), JobType::AddAccounts, "alice".into(), 2, 0);
    let records = Arc::new(NoRecords::default());
    let operation = AddAccounts::new(records.clone());
    let outcomes = operation.run(&job, &rows, &Secrets::new()).await.unwrap();
    assert_eq!(outcomes.len(), 2);
    let failed = &outcomes[1];
    assert_eq!(
        (
            failed.row,
            failed.error_code.as_deref(),
            failed.error_message.as_deref()
        ),
        (
            2,
            Some(codes::INVALID_FIELDS),
            Some("line 3: safeName is required")
        )
    );
    assert_eq!(
        Value::Object(failed.item.clone()),
        json!({"uploadIndex": 2})
    );
    assert_eq!(
        records.asked.lock().unwrap().len(),
        3,
        "the valid row's keys only"
    );

    // A chunk of rejected lines only reads and writes nothing; nor does its recovery.
    let records = Arc::new(NoRecords::default());
    let operation = AddAccounts::new(records.clone());
    let outcomes = operation
        .run(&job, &rows[1..], &Secrets::new())
        .await
        .unwrap();
    assert_eq!(
        outcomes[0].error_code.as_deref(),
        Some(codes::INVALID_FIELDS)
    );
    let recovered = operation.recover(&job, &rows[1..]).await.unwrap();
    assert_eq!(recovered, [Recovery::NotDone]);
    assert!(records.asked.lock().unwrap().is_empty());
    assert_eq!(*records.created.lock().unwrap(), 0);
}

/// Holds nothing; remembers what it was asked for and how many records it was given.
#[derive(Default)]
struct NoRecords {
    asked: std::sync::Mutex<Vec<RecordKey>>,
    created: std::sync::Mutex<usize>,
}

#[async_trait]
impl RecordStore for NoRecords {
    async fn get_many(
        &self,
        keys: &[RecordKey],
    ) -> Result<HashMap<RecordKey, Value>, crate::error::StoreError> {
        self.asked.lock().unwrap().extend_from_slice(keys);
        Ok(HashMap::new())
    }
    async fn existing(&self, keys: &[RecordKey]) -> Result<Vec<bool>, crate::error::StoreError> {
        self.asked.lock().unwrap().extend_from_slice(keys);
        Ok(vec![false; keys.len()])
    }
    async fn put_many(&self, _: Vec<(RecordKey, Record)>) -> Result<(), crate::error::StoreError> {
        Ok(())
    }
    async fn create_many(
        &self,
        records: Vec<(RecordKey, Record)>,
    ) -> Result<Vec<RecordKey>, crate::error::StoreError> {
        *self.created.lock().unwrap() += records.len();
        Ok(Vec::new())
    }
    async fn put_keeping_counter(
        &self,
        _: &RecordKey,
        _: Value,
        _: &str,
    ) -> Result<(), crate::error::StoreError> {
        Ok(())
    }
    async fn increment(
        &self,
        _: &RecordKey,
        _: &str,
        _: i64,
    ) -> Result<Option<i64>, crate::error::StoreError> {
        Ok(None)
    }
}
