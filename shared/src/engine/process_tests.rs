//! The dead-letter path's outcomes from what a dying delivery left.

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use super::*;
use crate::engine::{Recovery, DEAD_LETTER_CODE};
use crate::model::{ChunkRow, JobType, Outcome, RowOutcome};

/// Finds the side effect of the rows whose input says so; `extra` answers too many.
struct Found {
    extra: bool,
}

#[async_trait]
impl RowOperation for Found {
    async fn run(
        &self,
        _: &Job,
        _: &[ChunkRow],
        _: &Secrets,
    ) -> Result<Vec<RowOutcome>, EngineError> {
        unreachable!("the dead-letter path never runs rows")
    }
    fn echo(&self, row: &ChunkRow) -> Map<String, Value> {
        Map::from_iter([("id".to_owned(), row.input::<Value>().unwrap()["id"].clone())])
    }
    async fn recover(&self, _: &Job, rows: &[ChunkRow]) -> Result<Vec<Recovery>, EngineError> {
        let mut found: Vec<Recovery> = rows
            .iter()
            .map(|row| match row.input::<Value>().unwrap().get("done") {
                Some(result) => Recovery::Done {
                    result: Some(result.clone()),
                },
                None => Recovery::NotDone,
            })
            .collect();
        if self.extra {
            found.push(Recovery::NotDone);
        }
        Ok(found)
    }
}

fn chunk() -> (Job, ChunkMessage) {
    let job = Job::new("j".into(), JobType::SendMfp, "alice".into(), 2, 0);
    let rows = [
        (7, json!({"id": "a", "done": {"n": 1}})),
        (8, json!({"id": "b"})),
    ]
    .into_iter()
    .map(|(row, input)| ChunkRow::new(row, &input))
    .collect();
    let chunk = ChunkMessage {
        job_id: "j".into(),
        job_type: JobType::SendMfp,
        chunk: 3,
        rows,
        sealed: false,
        window: 0,
    };
    (job, chunk)
}

#[tokio::test]
async fn a_row_with_a_side_effect_succeeds_and_the_others_fail_with_the_reason() {
    let (job, chunk) = chunk();
    let outcomes = dead_letter_outcomes(&Found { extra: false }, &job, &chunk)
        .await
        .unwrap();
    assert_eq!(
        outcomes[0],
        RowOutcome::succeeded(
            7,
            Map::from_iter([("id".to_owned(), json!("a"))]),
            Some(json!({"n": 1}))
        )
    );
    assert_eq!((outcomes[1].row, outcomes[1].outcome), (8, Outcome::Failed));
    assert_eq!(outcomes[1].item["id"], "b");
    assert_eq!(outcomes[1].error_code.as_deref(), Some(DEAD_LETTER_CODE));
}

#[tokio::test]
async fn an_operation_answering_for_other_rows_is_refused() {
    let (job, chunk) = chunk();
    let refused = dead_letter_outcomes(&Found { extra: true }, &job, &chunk).await;
    assert!(
        matches!(refused, Err(EngineError::BadMessage(_))),
        "{refused:?}"
    );
}
