//! A client following a job's rows route page after page (`…/{id}/rows` of either API),
//! checking every page on the way: at most `limit` rows, a cursor or an explicit null.

use bulkops_testkit::{ApiCall, Fixture};
use serde_json::Value;

/// Where each API puts the rows and the next cursor in a page.
#[derive(Clone, Copy, Debug)]
pub struct PageShape {
    pub rows: &'static str,
    pub next: &'static str,
}

pub const ENTRUST: PageShape = PageShape {
    rows: "rows",
    next: "nextCursor",
};
pub const PVWA: PageShape = PageShape {
    rows: "Items",
    next: "NextCursor",
};

pub struct Follower {
    /// The route and the caller; the query string is the follower's.
    call: ApiCall,
    shape: PageShape,
    query: String,
    limit: usize,
    cursor: Option<String>,
    pub rows: Vec<Value>,
    /// A page said `null`: the job is final and every row was read.
    pub ended: bool,
}

impl Follower {
    pub fn new(call: ApiCall, shape: PageShape, query: &str, limit: usize) -> Self {
        Self {
            call,
            shape,
            query: query.to_owned(),
            limit,
            cursor: None,
            rows: Vec::new(),
            ended: false,
        }
    }

    /// Reads pages until one comes back empty or without a next cursor.
    pub async fn catch_up(&mut self, fx: &Fixture) {
        for _ in 0..1_000 {
            let mut query = format!("{}&limit={}", self.query, self.limit);
            if let Some(cursor) = &self.cursor {
                query.push_str(&format!("&cursor={cursor}"));
            }
            let response = super::call_query(fx, self.call.clone().query(&query)).await;
            let body = super::body_json(&response);
            assert_eq!(response.status(), 200, "{query}: {body}");
            let rows = body[self.shape.rows].as_array().expect("rows").clone();
            assert!(rows.len() <= self.limit, "{} rows", rows.len());
            let empty = rows.is_empty();
            self.rows.extend(rows);
            match &body[self.shape.next] {
                Value::Null => {
                    self.ended = true;
                    return;
                }
                Value::String(cursor) => self.cursor = Some(cursor.clone()),
                other => panic!("the next cursor is a string or null, not {other}"),
            }
            if empty {
                return;
            }
        }
        panic!("the pages never caught up");
    }

    pub fn row_numbers(&self) -> Vec<u64> {
        self.rows
            .iter()
            .map(|r| r["row"].as_u64().expect("row"))
            .collect()
    }
}

/// The rows `1..=k` of job `id` that are all stored: what a reader in row order can have
/// seen so far.
pub async fn stored_prefix(fx: &Fixture, id: &str) -> Vec<u64> {
    let stored = fx.jobs().row_outcomes(id).await.expect("outcomes");
    (1..)
        .zip(stored.iter().map(|o| u64::from(o.row)))
        .take_while(|(expected, row)| expected == row)
        .map(|(row, _)| row)
        .collect()
}
