//! Which IAM actions a function's template policies grant, and which the AWS calls a test
//! counted need: `granted_actions` and `granted_actions_events` compare the two.

use std::collections::BTreeSet;

use bulkops_testkit::Fixture;

/// The IAM actions `function`'s policies grant (any resource).
pub fn granted(function: &str) -> BTreeSet<String> {
    let root = env!("CARGO_MANIFEST_DIR");
    let text = std::fs::read_to_string(format!("{root}/template.yaml")).expect("template");
    let template: serde_yaml::Value = serde_yaml::from_str(&text).expect("YAML");
    let mut actions = BTreeSet::new();
    let policies = template["Resources"][function]["Properties"]["Policies"]
        .as_sequence()
        .expect("policies");
    // Statements, including those inside `!If [condition, statement, AWS::NoValue]`.
    let mut statements: Vec<&serde_yaml::Value> = Vec::new();
    for policy in policies {
        for statement in policy["Statement"].as_sequence().into_iter().flatten() {
            match statement {
                serde_yaml::Value::Tagged(tagged) => {
                    statements.extend(tagged.value.as_sequence().into_iter().flatten())
                }
                plain => statements.push(plain),
            }
        }
    }
    for statement in statements {
        for action in statement["Action"].as_sequence().into_iter().flatten() {
            if let Some(action) = action.as_str() {
                actions.insert(action.to_owned());
            }
        }
    }
    actions
}

/// The IAM actions the counted calls need. SQS polling (receive, delete, visibility) is the
/// event source mapping's, which SAM grants itself; the tests' harness makes those calls.
pub fn needed(fx: &Fixture) -> BTreeSet<String> {
    let mut actions = BTreeSet::new();
    for call in fx.counter.snapshot().keys() {
        let (service, operation) = call.split_once('.').expect("Service.Operation");
        match (service.to_ascii_lowercase().as_str(), operation) {
            ("sqs", "ReceiveMessage" | "DeleteMessage" | "ChangeMessageVisibility") => {}
            ("sqs", "SendMessageBatch" | "SendMessage") => {
                actions.insert("sqs:SendMessage".to_owned());
            }
            ("dynamodb", "TransactWriteItems") => {
                // Ours hold a conditional put and a conditional update.
                actions.insert("dynamodb:PutItem".to_owned());
                actions.insert("dynamodb:UpdateItem".to_owned());
            }
            ("dynamodb", op) => {
                actions.insert(format!("dynamodb:{op}"));
            }
            ("eventbridge", op) => {
                actions.insert(format!("events:{op}"));
            }
            // A presign runs PutObject up to its signature and sends nothing (the counter sees
            // that attempt); the caller's PUT then acts with the signer's permissions.
            ("s3", op @ ("GetObject" | "PutObject")) => {
                actions.insert(format!("s3:{op}"));
            }
            // A multipart upload's calls are all granted by s3:PutObject.
            ("s3", "CreateMultipartUpload" | "UploadPart" | "CompleteMultipartUpload") => {
                actions.insert("s3:PutObject".to_owned());
            }
            (other, op) => panic!("a call to {other}.{op} nobody expected"),
        }
    }
    fx.counter.reset();
    actions
}

pub fn assert_granted(function: &str, needed: &BTreeSet<String>) {
    let granted = granted(function);
    let missing: Vec<&String> = needed.difference(&granted).collect();
    assert!(
        missing.is_empty(),
        "{function} calls {missing:?} without a grant (it has {granted:?})"
    );
}
