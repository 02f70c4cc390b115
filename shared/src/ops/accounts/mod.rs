//! ADD_ACCOUNTS: create privileged accounts in safes (the CyberArk-style bulk upload).
//!
//! Reference data: a safe (`SAFE#<name>` / `SAFE`) holds its numeric `safeId`, its members'
//! rights (`members.<sub>.addAccounts`) and the `nextAccountNumber` counter; a platform
//! (`PLATFORM#<id>` / `PLATFORM`) lists its `requiredProperties`. An account lives in its safe
//! under `ACCOUNT#["<userName>","<address>"]`, so a safe holds one account per userName and
//! address; it is created with a conditional (transactional) put and records the upload and
//! row that created it, so a redelivered chunk recognises its own accounts (and a dead-lettered
//! one reports them as created).

pub mod api;
mod binding;
pub mod columns;
pub mod model;
mod operation;
mod recovery;
mod results;
pub mod retry;

use serde_json::json;

pub use model::BulkAccountModel;
pub use operation::AddAccounts;
pub use results::status as pvwa_status;

use crate::store::keys::{key_part, PLATFORM_PREFIX, SAFE_PREFIX};
use crate::store::RecordKey;

/// Row error codes of this operation.
pub mod codes {
    pub const SAFE_NOT_FOUND: &str = "SAFE_NOT_FOUND";
    pub const NOT_AUTHORIZED: &str = "NOT_AUTHORIZED";
    pub const PLATFORM_NOT_FOUND: &str = "PLATFORM_NOT_FOUND";
    pub const INVALID_FIELDS: &str = "INVALID_FIELDS";
    pub const ACCOUNT_ALREADY_EXISTS: &str = "ACCOUNT_ALREADY_EXISTS";
}

pub const SAFE_SK: &str = "SAFE";
pub const PLATFORM_SK: &str = "PLATFORM";
/// Counter attribute of a safe record.
pub const NEXT_ACCOUNT_NUMBER: &str = "nextAccountNumber";

pub fn safe_key(safe_name: &str) -> RecordKey {
    RecordKey::new(
        format!("{SAFE_PREFIX}{}", key_part(&safe_name.to_lowercase())),
        SAFE_SK,
    )
}

pub fn platform_key(platform_id: &str) -> RecordKey {
    RecordKey::new(
        format!("{PLATFORM_PREFIX}{}", key_part(&platform_id.to_lowercase())),
        PLATFORM_SK,
    )
}

/// The uniqueness key of an account: its safe, userName and address (case-insensitive). Every
/// part goes through [`key_part`], so a key of the longest fields still fits DynamoDB's limits.
pub fn account_key(account: &BulkAccountModel) -> RecordKey {
    let lower = |field: &Option<String>| field.as_deref().unwrap_or_default().to_lowercase();
    let identity = json!([lower(&account.user_name), lower(&account.address)]);
    RecordKey::new(
        safe_key(&account.safe_name).pk,
        format!("ACCOUNT#{}", key_part(&identity.to_string())),
    )
}

/// The input of one row, as the submit handler puts it in the chunk (never the secret).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountRowInput {
    pub upload_index: i64,
    pub account: BulkAccountModel,
    /// The upload index of an earlier row with the same safe, userName and address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<i64>,
}
