//! template.yaml's DynamoDB grants are the code's key layout: each function's statements on the
//! table and its indexes carry a `dynamodb:LeadingKeys` condition listing exactly the partitions
//! `FUNCTION_KEYS` (shared/src/store/keys.rs) gives it, and the keys the code builds fall in them.

use std::collections::{BTreeMap, BTreeSet};

use bulkops_shared::enrollment::EnrollmentRef;
use bulkops_shared::model::JobType;
use bulkops_shared::ops::accounts::{account_key, platform_key, safe_key, BulkAccountModel};
use bulkops_shared::ops::mobile_flash_pass::{enrollment_key, pass_key};
use bulkops_shared::store::jobs_partition;
use bulkops_shared::store::keys::{FunctionKeys, Partitions, FUNCTION_KEYS, TOKEN_PREFIX};
use serde_yaml::Value;

/// Item actions whose requests name their partition keys, so LeadingKeys applies to them.
const KEYED_ACTIONS: &[&str] = &[
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
];

fn template() -> Value {
    let root = env!("CARGO_MANIFEST_DIR");
    let text = std::fs::read_to_string(format!("{root}/template.yaml")).expect("template");
    serde_yaml::from_str(&text).expect("template.yaml is YAML")
}

/// What a statement's `Resource` names: the table, or one of its indexes.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    Table,
    Index(String),
}

fn target(resource: &Value) -> Target {
    let Value::Tagged(tagged) = resource else {
        panic!("a DynamoDB statement names one resource: {resource:?}")
    };
    let text = tagged.value.as_str().unwrap_or_default();
    match tagged.tag.to_string().as_str() {
        "!GetAtt" if text == "Table.Arn" => Target::Table,
        "!Sub" => match text.strip_prefix("${Table.Arn}/index/") {
            Some(index) if !index.contains('*') => Target::Index(index.to_owned()),
            _ => panic!("not one index of the table: {text}"),
        },
        _ => panic!("not the table: {resource:?}"),
    }
}

/// `(target, patterns)` of every DynamoDB statement of a function; checks each statement's
/// actions and condition on the way.
fn dynamodb_grants(function: &str, resource: &Value) -> Vec<(Target, Vec<String>)> {
    let policies = resource["Properties"]["Policies"]
        .as_sequence()
        .unwrap_or_else(|| panic!("{function} has policies"));
    let statements = policies
        .iter()
        .filter_map(|policy| policy["Statement"].as_sequence())
        .flatten()
        // `!If` statements (the KMS grant) are not DynamoDB's.
        .filter(|statement| !matches!(statement, Value::Tagged(_)));
    let mut grants = Vec::new();
    for statement in statements {
        let actions: Vec<&str> = statement["Action"]
            .as_sequence()
            .map(|actions| actions.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if !actions.iter().any(|action| action.starts_with("dynamodb:")) {
            continue;
        }
        let target = target(&statement["Resource"]);
        for action in &actions {
            assert!(
                KEYED_ACTIONS.contains(action),
                "{function}: {action} names no partition key, LeadingKeys cannot scope it"
            );
        }
        if let Target::Index(index) = &target {
            assert_eq!(actions, ["dynamodb:Query"], "{function} on {index}");
        }
        let condition = &statement["Condition"];
        let keys = condition["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{function} on {target:?} is scoped by LeadingKeys"));
        assert_eq!(
            condition.as_mapping().map(|m| m.len()),
            Some(1),
            "{function}: one condition"
        );
        let patterns = keys
            .iter()
            .map(|key| key.as_str().expect("a pattern").to_owned())
            .collect();
        grants.push((target, patterns));
    }
    grants
}

fn patterns(partitions: &[Partitions]) -> Vec<String> {
    partitions.iter().map(|p| p.pattern()).collect()
}

#[test]
fn every_function_s_leading_keys_are_the_code_s() {
    let template = template();
    let resources = template["Resources"].as_mapping().expect("Resources");
    let functions: BTreeSet<&str> = resources
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .filter_map(|(name, _)| name.as_str())
        .collect();
    let listed: BTreeSet<&str> = FUNCTION_KEYS.iter().map(|f| f.function).collect();
    assert_eq!(functions, listed, "FUNCTION_KEYS lists every function");
    assert_eq!(listed.len(), FUNCTION_KEYS.len(), "each function once");

    for FunctionKeys {
        function,
        table,
        indexes,
    } in FUNCTION_KEYS
    {
        let grants = dynamodb_grants(function, &resources[*function]);
        let mut expected = vec![(Target::Table, patterns(table))];
        for (index, partitions) in *indexes {
            expected.push((Target::Index((*index).to_owned()), patterns(partitions)));
        }
        let sorted = |mut grants: Vec<(Target, Vec<String>)>| {
            for (_, patterns) in grants.iter_mut() {
                patterns.sort();
            }
            grants.sort();
            grants
        };
        assert_eq!(sorted(grants), sorted(expected), "{function}");
    }
}

fn granted(function: &str, key: &str) -> bool {
    FUNCTION_KEYS
        .iter()
        .find(|f| f.function == function)
        .unwrap_or_else(|| panic!("{function} is listed"))
        .table
        .iter()
        .any(|partitions| partitions.matches(key))
}

#[test]
fn the_keys_the_code_builds_are_granted_to_the_functions_using_them() {
    let enrollment = EnrollmentRef {
        workflow_id: uuid::Uuid::nil(),
        where_clause: BTreeMap::from([("K".to_owned(), "1".to_owned())]),
    };
    let account = BulkAccountModel {
        safe_name: "Safe".into(),
        platform_id: "Platform".into(),
        user_name: Some("u".into()),
        ..BulkAccountModel::default()
    };
    // The operations run by the processor; the dead-letter path reads their side effects.
    let reference = [
        enrollment_key(&enrollment).pk,
        safe_key("Safe").pk,
        platform_key("Platform").pk,
    ];
    let side_effects = [pass_key(&enrollment, "1").pk, account_key(&account).pk];
    for key in reference.iter().chain(&side_effects) {
        assert!(granted("ProcessorFunction", key), "{key}");
    }
    for key in &side_effects {
        assert!(granted("DeadLetterFunction", key), "{key}");
    }
    // No function but the two workers touches reference data.
    for function in [
        "SubmitFunction",
        "QueryFunction",
        "CancelFunction",
        "IntakeFunction",
        "SplitterFunction",
    ] {
        assert!(
            !reference.iter().any(|key| granted(function, key)),
            "{function}"
        );
    }
    // Client tokens are the intake's alone; the listing partitions are index keys only.
    let token = format!("{TOKEN_PREFIX}0123");
    assert!(granted("IntakeFunction", &token));
    assert!(!granted("SubmitFunction", &token));
    let listing = jobs_partition(JobType::AddAccounts, "alice");
    assert!(FUNCTION_KEYS.iter().all(|f| !granted(f.function, &listing)));
}
