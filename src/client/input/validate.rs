//! The API's own checks of each row, run on the whole file before it is sent: the same
//! functions the service runs, so a file that passes here is not refused with a 400 there.

use bulkops_shared::enrollment::decode_base64;
use bulkops_shared::ops::accounts::model::parse_account;
use serde_json::Value;

use super::{Api, Input, Problem};

/// Every row the API would refuse, in row order.
pub(super) fn row_problems(input: &Input) -> Vec<Problem> {
    input
        .rows
        .iter()
        .enumerate()
        .filter_map(|(index, row)| {
            let label = input.label(index);
            let message = match input.api {
                Api::Mfp => id_problem(&row.payload, label.as_deref()),
                Api::Accounts => account_problem(&row.payload, label.as_deref()),
            }?;
            Some(Problem::at(row.line, message))
        })
        .collect()
}

/// The submit route's rule: a string of base64 (either alphabet, padded or not).
fn id_problem(id: &Value, label: Option<&str>) -> Option<String> {
    let prefix = label.map(|l| format!("{l} ")).unwrap_or_default();
    match id {
        Value::String(text) if decode_base64(text).is_some() => None,
        Value::String(text) => Some(format!(
            "{prefix}{text:?} is not a valid Base64 enrollment id"
        )),
        _ => Some(format!("{prefix}must be an id (string)")),
    }
}

/// The upload route's binding of one account (types, required fields, secret types, ...).
fn account_problem(account: &Value, label: Option<&str>) -> Option<String> {
    let error = parse_account(account, label.unwrap_or_default()).err()?;
    // Without a label (CSV) the binder's paths start with the dot of an empty target.
    Some(match label {
        Some(_) => error.message,
        None => error.message.trim_start_matches('.').to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn ids_must_be_base64_strings() {
        assert_eq!(id_problem(&json!("YQ"), None), None);
        assert_eq!(
            id_problem(&json!("!!"), None).as_deref(),
            Some("\"!!\" is not a valid Base64 enrollment id")
        );
        assert_eq!(
            id_problem(&json!(7), Some("ids[2]")).as_deref(),
            Some("ids[2] must be an id (string)")
        );
    }

    #[test]
    fn accounts_are_bound_as_the_service_binds_them() {
        assert_eq!(
            account_problem(&json!({"safeName": "s", "platformId": "p"}), None),
            None
        );
        assert_eq!(
            account_problem(&json!({"safeName": "s"}), None).as_deref(),
            Some("platformId is required")
        );
        assert_eq!(
            account_problem(
                &json!({"safeName": "s", "platformId": "p", "secretType": "pin"}),
                Some("accountsList[4]")
            )
            .as_deref(),
            Some("accountsList[4].secretType must be \"password\" or \"key\"")
        );
    }
}
