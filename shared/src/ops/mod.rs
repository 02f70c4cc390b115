//! Row operations: one implementation of [`crate::engine::RowOperation`] per job type.

pub mod accounts;
pub mod mobile_flash_pass;
