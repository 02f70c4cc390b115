//! `BulkAccountModel`: the typed account row of a bulk upload, bound the way PVWA's .NET model
//! binding binds it: property names (and `secretType` values) in any case, unknown properties
//! ignored, `null` the same as absent. A property given twice in two spellings is an error,
//! because which one was meant cannot be known.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use super::binding::{bind, Bound, FieldError};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretType {
    Password,
    Key,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretManagement {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automatic_management_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual_management_reason: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteMachinesAccess {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_machines: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_restricted_to_remote_machines: Option<bool>,
}

/// One account to create, without its secret (which travels apart). Serialized in the
/// vendor's camelCase; absent fields are left out, never written as `null`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkAccountModel {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    pub safe_name: String,
    pub platform_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_type: Option<SecretType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_account_properties: Option<IndexMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_management: Option<SecretManagement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_machines_access: Option<RemoteMachinesAccess>,
}

impl BulkAccountModel {
    /// No field set: the account of a rejected row (a valid one names its safe and platform).
    pub fn is_blank(&self) -> bool {
        *self == Self::default()
    }

    /// A property a platform may require: a top-level field (any case), else one of
    /// `platformAccountProperties` (exact name first, then any case).
    pub fn property(&self, name: &str) -> Option<&str> {
        let fields = [
            ("name", self.name.as_deref()),
            ("userName", self.user_name.as_deref()),
            ("address", self.address.as_deref()),
            ("safeName", Some(self.safe_name.as_str())),
            ("platformId", Some(self.platform_id.as_str())),
            ("groupName", self.group_name.as_deref()),
        ];
        if let Some((_, value)) = fields.iter().find(|(f, _)| f.eq_ignore_ascii_case(name)) {
            return *value;
        }
        let properties = self.platform_account_properties.as_ref()?;
        properties
            .get(name)
            .or_else(|| {
                properties
                    .iter()
                    .find(|(key, _)| key.eq_ignore_ascii_case(name))
                    .map(|(_, value)| value)
            })
            .map(String::as_str)
    }

    /// The model as a JSON object (what result items echo and account records hold).
    pub fn to_map(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        }
    }
}

/// One account of a request: the model, the caller's `uploadIndex` if any, and the secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedAccount {
    pub upload_index: Option<i32>,
    pub model: BulkAccountModel,
    pub secret: Option<String>,
}

/// The top-level string properties of an account (the secret among them).
pub const TEXT_FIELDS: [&str; 8] = [
    "name",
    "address",
    "userName",
    "platformId",
    "safeName",
    "groupName",
    "secretType",
    "secret",
];
/// The nested objects' properties: (object, property, is a boolean).
pub const NESTED_FIELDS: [(&str, &str, bool); 4] = [
    ("secretManagement", "automaticManagementEnabled", true),
    ("secretManagement", "manualManagementReason", false),
    ("remoteMachinesAccess", "remoteMachines", false),
    (
        "remoteMachinesAccess",
        "accessRestrictedToRemoteMachines",
        true,
    ),
];
/// The string map of platform-defined properties.
pub const PROPERTIES: &str = "platformAccountProperties";
/// Every property of BulkAccountModel a request may give.
pub const ACCOUNT_FIELDS: [&str; 12] = [
    "uploadIndex",
    TEXT_FIELDS[0],
    TEXT_FIELDS[1],
    TEXT_FIELDS[2],
    TEXT_FIELDS[3],
    TEXT_FIELDS[4],
    TEXT_FIELDS[5],
    TEXT_FIELDS[6],
    TEXT_FIELDS[7],
    PROPERTIES,
    NESTED_FIELDS[0].0,
    NESTED_FIELDS[2].0,
];

/// Binds one element of `accountsList`; `target` names it (`accountsList[3]`). The first
/// property that cannot be bound is named in the error.
pub fn parse_account(value: &Value, target: &str) -> Result<ParsedAccount, FieldError> {
    let Value::Object(object) = value else {
        return Err(FieldError::new(
            target,
            format!("{target} must be an object"),
        ));
    };
    let fields = bind(object, &ACCOUNT_FIELDS, target)?;
    let platform_id = fields.required("platformId")?;
    let safe_name = fields.required("safeName")?;
    let upload_index = fields.int32("uploadIndex")?;
    let name = fields.string("name")?;
    let address = fields.string("address")?;
    let user_name = fields.string("userName")?;
    let group_name = fields.string("groupName")?;
    let secret = fields.string("secret")?;
    let secret_type = fields.typed("secretType", "\"password\" or \"key\"", |v| {
        match v.as_str()?.to_ascii_lowercase().as_str() {
            "password" => Some(SecretType::Password),
            "key" => Some(SecretType::Key),
            _ => None,
        }
    })?;
    let platform_account_properties = match fields.get("platformAccountProperties") {
        None => None,
        Some((path, Value::Object(properties))) => {
            let mut map = IndexMap::new();
            for (key, value) in properties {
                match value {
                    Value::String(text) => {
                        map.insert(key.clone(), text.clone());
                    }
                    Value::Null => {}
                    _ => {
                        let field = format!("{path}.{key}");
                        return Err(FieldError::new(
                            field.clone(),
                            format!("{field} must be a string"),
                        ));
                    }
                }
            }
            Some(map)
        }
        Some((path, _)) => {
            return Err(FieldError::new(
                path.clone(),
                format!("{path} must be an object of strings"),
            ))
        }
    };
    let secret_management = match fields.object(
        "secretManagement",
        &["automaticManagementEnabled", "manualManagementReason"],
    )? {
        None => None,
        Some(inner) => Some(SecretManagement {
            automatic_management_enabled: inner.boolean("automaticManagementEnabled")?,
            manual_management_reason: inner.string("manualManagementReason")?,
        }),
    };
    let remote_machines_access = match fields.object(
        "remoteMachinesAccess",
        &["remoteMachines", "accessRestrictedToRemoteMachines"],
    )? {
        None => None,
        Some(inner) => Some(RemoteMachinesAccess {
            remote_machines: inner.string("remoteMachines")?,
            access_restricted_to_remote_machines: inner
                .boolean("accessRestrictedToRemoteMachines")?,
        }),
    };
    Ok(ParsedAccount {
        upload_index,
        model: BulkAccountModel {
            name,
            user_name,
            address,
            safe_name,
            platform_id,
            group_name,
            secret_type,
            platform_account_properties,
            secret_management,
            remote_machines_access,
        },
        secret,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn target(value: Value) -> String {
        parse_account(&value, "accountsList[0]")
            .expect_err("a bad account")
            .target
    }

    #[test]
    fn binds_property_names_and_secret_types_in_any_case() {
        let psp = parse_account(
            &json!({"platformID": "UnixSSH", "SafeName": "Unix", "secretType": "Password",
                    "username": "root", "ADDRESS": "h", "Secret": "s3",
                    "SecretManagement": {"AutomaticManagementEnabled": false,
                                         "manualManagementReason": null},
                    "networkId": "ignored"}),
            "accountsList[0]",
        )
        .unwrap();
        assert_eq!(psp.model.platform_id, "UnixSSH");
        assert_eq!(psp.model.safe_name, "Unix");
        assert_eq!(psp.model.secret_type, Some(SecretType::Password));
        assert_eq!(psp.model.user_name.as_deref(), Some("root"));
        assert_eq!(psp.secret.as_deref(), Some("s3"));
        assert_eq!(
            Value::Object(psp.model.to_map()),
            json!({"userName": "root", "address": "h", "safeName": "Unix",
                   "platformId": "UnixSSH", "secretType": "password",
                   "secretManagement": {"automaticManagementEnabled": false}})
        );
        let key = parse_account(
            &json!({"PlatformId": "p", "safename": "s", "secretType": "KEY", "secret": null}),
            "a",
        )
        .unwrap();
        assert_eq!(key.model.secret_type, Some(SecretType::Key));
        assert_eq!(key.secret, None);
    }

    #[test]
    fn names_the_first_bad_property_as_spelt() {
        assert_eq!(
            target(json!({"platformId": "p"})),
            "accountsList[0].safeName"
        );
        assert_eq!(
            target(json!({"platformId": "p", "SafeName": 7})),
            "accountsList[0].SafeName"
        );
        assert_eq!(
            target(json!({"platformId": "p", "safeName": "s", "SecretType": "pin"})),
            "accountsList[0].SecretType"
        );
        assert_eq!(
            target(json!({"platformId": "p", "safeName": "s",
                          "secretManagement": {"AutomaticManagementEnabled": "yes"}})),
            "accountsList[0].secretManagement.AutomaticManagementEnabled"
        );
    }

    #[test]
    fn a_property_given_twice_is_named() {
        let error = parse_account(
            &json!({"platformId": "p", "safeName": "a", "SafeName": "b"}),
            "accountsList[2]",
        )
        .unwrap_err();
        assert_eq!(error.target, "accountsList[2].SafeName");
        assert!(error.message.contains("given twice"), "{}", error.message);
    }

    #[test]
    fn required_properties_are_found_in_any_case() {
        let account = parse_account(
            &json!({"platformId": "p", "safeName": "s", "userName": "u",
                    "platformAccountProperties": {"LogonDomain": "d", "gone": null}}),
            "a",
        )
        .unwrap()
        .model;
        assert_eq!(account.property("username"), Some("u"));
        assert_eq!(account.property("logondomain"), Some("d"));
        assert_eq!(account.property("address"), None);
        assert_eq!(account.property("gone"), None);
    }
}
