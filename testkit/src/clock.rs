//! A clock the tests move instead of sleeping: the wall clock plus an offset they advance.

use std::sync::atomic::{AtomicI64, Ordering};

use bulkops_shared::time::Clock;

#[derive(Default)]
pub struct MovableClock {
    offset_ms: AtomicI64,
}

impl MovableClock {
    /// Moves the clock `ms` forward.
    pub fn advance(&self, ms: i64) {
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

impl Clock for MovableClock {
    fn now_ms(&self) -> i64 {
        bulkops_shared::time::now_ms() + self.offset_ms.load(Ordering::Relaxed)
    }
}
