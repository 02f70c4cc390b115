//! The embedded adapters: bulkops' storage ports ([`EmbeddedStore`]) and queue ports
//! ([`EmbeddedQueue`]) on one redb file, for the local server and fast tests. The Lambda
//! functions never link this crate. [`db`] owns the file, its tables and its transactions;
//! the store and the queue only use it.

pub mod db;
mod queue;
mod records_table;
mod sorted_write;
mod store;

pub use db::{Db, DbError};
pub use queue::EmbeddedQueue;
pub use store::EmbeddedStore;
