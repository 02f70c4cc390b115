//! The deployment's settings and resources: parameters, checkov suppressions, the idempotency
//! lease, the upload bucket and who may put and get its files.

use super::*;

#[test]
fn concurrency_deletion_protection_and_the_kms_key_are_parameters() {
    let template = template();
    let resources = resources(&template);
    let scaling = |function: &str, event: &str| {
        reference(
            &resources[function]["Properties"]["Events"][event]["Properties"]["ScalingConfig"]
                ["MaximumConcurrency"],
        )
        .map(str::to_owned)
    };
    assert_eq!(
        scaling("ProcessorFunction", "Chunks").as_deref(),
        Some("ProcessorMaxConcurrency")
    );
    assert_eq!(
        scaling("IntakeFunction", "Requests").as_deref(),
        Some("IntakeMaxConcurrency")
    );
    assert_eq!(
        scaling("SplitterFunction", "Uploads").as_deref(),
        Some("SplitterMaxConcurrency")
    );
    assert_eq!(
        scaling("DeadLetterFunction", "DeadLetters").as_deref(),
        Some("ProcessorMaxConcurrency")
    );
    let table = &resources["Table"]["Properties"];
    assert_eq!(
        reference(&table["DeletionProtectionEnabled"]),
        Some("TableDeletionProtection")
    );
    // With KmsKeyArn the table, every queue and every log group use the key.
    let uses_key = |value: &serde_yaml::Value| {
        serde_yaml::to_string(value)
            .expect("YAML")
            .contains("KmsKeyArn")
    };
    assert!(uses_key(&table["SSESpecification"]));
    assert!(uses_key(
        &resources["UploadBucket"]["Properties"]["BucketEncryption"]
    ));
    for (name, resource) in resources {
        let kind = resource["Type"].as_str().unwrap_or_default();
        if kind == "AWS::SQS::Queue" {
            assert!(
                uses_key(&resource["Properties"]["KmsMasterKeyId"]),
                "{name:?}"
            );
        }
        if kind == "AWS::Logs::LogGroup" {
            assert!(uses_key(&resource["Properties"]["KmsKeyId"]), "{name:?}");
        }
    }
    let root = env!("CARGO_MANIFEST_DIR");
    let samconfig = std::fs::read_to_string(format!("{root}/samconfig.toml")).expect("samconfig");
    for section in ["[default.deploy.parameters]", "[prod.deploy.parameters]"] {
        assert!(samconfig.contains(section), "{section}");
    }
}

#[test]
fn every_checkov_suppression_names_a_check_and_says_why() {
    let template = template();
    let mut suppressed = 0;
    for (name, resource) in resources(&template) {
        let Some(skips) = resource["Metadata"]["checkov"]["skip"].as_sequence() else {
            continue;
        };
        let mut ids = BTreeSet::new();
        for skip in skips {
            let id = skip["id"].as_str().unwrap_or_default();
            let comment = skip["comment"].as_str().unwrap_or_default();
            assert!(id.starts_with("CKV_"), "{name:?}: {id:?}");
            assert!(ids.insert(id), "{name:?} skips {id} twice");
            assert!(comment.len() >= 40, "{name:?}: {id} needs its reason");
            suppressed += 1;
        }
    }
    assert!(suppressed > 0);
}

/// A request holding an Idempotency-Key is certainly gone before a retry may take the key
/// over: the lease outlasts every HTTP function's timeout.
#[test]
fn an_idempotency_lease_outlasts_the_http_functions() {
    let template = template();
    let timeout = template["Globals"]["Function"]["Timeout"]
        .as_i64()
        .expect("a global timeout");
    for (name, resource) in resources(&template) {
        let own = resource["Properties"]["Timeout"].as_i64();
        let is_http = resource["Properties"]["Events"]
            .as_mapping()
            .is_some_and(|events| events.values().any(|e| e["Type"] == "HttpApi"));
        if is_http {
            let seconds = own.unwrap_or(timeout);
            assert!(
                seconds * 1000 < bulkops_shared::store::IDEMPOTENCY_LEASE_MS,
                "{name:?} may run {seconds} s"
            );
        }
    }
}

/// Staged files on AWS: a private bucket whose `uploads/` objects live as long as their jobs,
/// which browsers may PUT to (presigned), and whose new `uploads/` objects are notified to the
/// split queue, which only S3, for this bucket of this account, may send to.
#[test]
fn the_upload_bucket_is_private_expires_with_the_jobs_and_notifies_the_split_queue() {
    let template = template();
    let resources = resources(&template);
    let bucket = &resources["UploadBucket"];
    assert_eq!(bucket["Type"], "AWS::S3::Bucket");
    let properties = &bucket["Properties"];
    let block = &properties["PublicAccessBlockConfiguration"];
    for setting in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(block[setting].as_bool(), Some(true), "{setting}");
    }
    assert!(properties["VersioningConfiguration"].is_null());

    let days = u64::try_from(bulkops_shared::model::JOB_RETENTION_SECONDS / 86_400).unwrap();
    let rules = properties["LifecycleConfiguration"]["Rules"]
        .as_sequence()
        .expect("lifecycle rules");
    for prefix in [bulkops_shared::staged::s3::UPLOAD_PREFIX, "results/"] {
        let rule = rules
            .iter()
            .find(|r| r["Prefix"] == prefix)
            .unwrap_or_else(|| panic!("a rule for {prefix}"));
        assert_eq!(rule["Status"], "Enabled");
        assert_eq!(rule["ExpirationInDays"].as_u64(), Some(days), "{prefix}");
    }

    let cors = &properties["CorsConfiguration"]["CorsRules"][0];
    assert_eq!(cors["AllowedMethods"][0], "PUT");
    assert_eq!(cors["AllowedOrigins"][0], "*");

    let queue = &properties["NotificationConfiguration"]["QueueConfigurations"][0];
    assert_eq!(queue["Event"], "s3:ObjectCreated:*");
    assert_eq!(get_att(&queue["Queue"]), Some("SplitQueue.Arn"));
    let rule = &queue["Filter"]["S3Key"]["Rules"][0];
    assert_eq!(
        (rule["Name"].as_str(), rule["Value"].as_str()),
        (
            Some("prefix"),
            Some(bulkops_shared::staged::s3::UPLOAD_PREFIX)
        )
    );

    // The policy is in place before S3 checks it (the notification's creation), and names
    // the bucket by the name the bucket is given.
    assert_eq!(bucket["DependsOn"], "SplitQueuePolicy");
    let name = sub(&properties["BucketName"]).expect("a !Sub name");
    let statement = &resources["SplitQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0];
    assert_eq!(statement["Principal"]["Service"], "s3.amazonaws.com");
    assert_eq!(statement["Action"], "sqs:SendMessage");
    let source = sub(&statement["Condition"]["ArnEquals"]["aws:SourceArn"]).expect("a !Sub ARN");
    assert_eq!(source, format!("arn:${{AWS::Partition}}:s3:::{name}"));
    assert_eq!(
        reference(&statement["Condition"]["StringEquals"]["aws:SourceAccount"]),
        Some("AWS::AccountId")
    );
}

/// The S3 actions granted, by function: the submit function's presigned PUTs (which act with
/// its permissions) may create `uploads/` objects, the splitter may read them and write
/// `results/` objects, the query function's presigned GETs may read those; nothing else.
#[test]
fn staged_files_go_in_by_submit_and_result_files_out_by_query() {
    let template = template();
    let mut grants = Vec::new();
    for (name, resource) in resources(&template) {
        let Some(policies) = resource["Properties"]["Policies"].as_sequence() else {
            continue;
        };
        for statement in policies
            .iter()
            .filter_map(|p| p["Statement"].as_sequence())
            .flatten()
        {
            for action in statement["Action"].as_sequence().into_iter().flatten() {
                let action = action.as_str().unwrap_or_default();
                if action.starts_with("s3:") {
                    let target = sub(&statement["Resource"]).unwrap_or("?").to_owned();
                    grants.push((name.as_str().unwrap().to_owned(), action.to_owned(), target));
                }
            }
        }
    }
    grants.sort();
    let uploads = "${UploadBucket.Arn}/uploads/*";
    let results = "${UploadBucket.Arn}/results/*";
    let expected: Vec<(String, String, String)> = [
        ("QueryFunction", "s3:GetObject", results),
        ("SplitterFunction", "s3:GetObject", uploads),
        ("SplitterFunction", "s3:PutObject", results),
        ("SubmitFunction", "s3:PutObject", uploads),
    ]
    .into_iter()
    .map(|(f, a, r)| (f.to_owned(), a.to_owned(), r.to_owned()))
    .collect();
    assert_eq!(grants, expected);
}
