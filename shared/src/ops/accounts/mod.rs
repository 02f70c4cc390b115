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
pub mod result_files;
mod results;
pub mod retry;
pub mod rows;
pub mod staged;

use serde_json::json;

pub use model::BulkAccountModel;
pub use operation::AddAccounts;
pub use results::status as pvwa_status;

use crate::model::ChunkRow;
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
    /// Absent only from a rejected row (which has no account).
    #[serde(default, skip_serializing_if = "BulkAccountModel::is_blank")]
    pub account: BulkAccountModel,
    /// The upload index of an earlier row with the same safe, userName and address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<i64>,
    /// Why a staged file's line is not an account (`line 12: safeName is required`): the row
    /// fails with INVALID_FIELDS without reaching the vault. A request's rows are all
    /// accounts (a bad one refuses the request), so theirs never has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected: Option<String>,
}

impl AccountRowInput {
    /// Row `row` of an upload: `given` is the caller's uploadIndex, else the row's 1-based
    /// position is.
    pub fn new(row: u32, given: Option<i32>, account: BulkAccountModel) -> Self {
        Self {
            upload_index: given.map_or(i64::from(row), i64::from),
            account,
            duplicate_of: None,
            rejected: None,
        }
    }

    /// A line of a staged file that is not an account, as row `row`: its uploadIndex is the
    /// row number.
    pub fn rejected(row: u32, reason: String) -> Self {
        Self {
            rejected: Some(reason),
            ..Self::new(row, None, BulkAccountModel::default())
        }
    }

    pub fn into_row(self, row: u32) -> ChunkRow {
        ChunkRow::new(row, &self)
    }
}
