//! template.yaml deploys every Lambda function of the workspace, and nothing else: each
//! `Binary:` it builds is a crate under `functions/` with a `main.rs`, and each such crate is
//! built by one function resource.

use std::collections::BTreeSet;

#[test]
fn every_function_crate_is_deployed_once() {
    let root = env!("CARGO_MANIFEST_DIR");
    let template = std::fs::read_to_string(format!("{root}/template.yaml")).expect("template");
    let deployed: Vec<String> = template
        .lines()
        .filter_map(|line| line.trim().strip_prefix("Binary: "))
        .map(str::to_owned)
        .collect();
    let unique: BTreeSet<String> = deployed.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        deployed.len(),
        "a binary deployed twice: {deployed:?}"
    );
    let crates: BTreeSet<String> = std::fs::read_dir(format!("{root}/functions"))
        .expect("functions/")
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().join("src/main.rs").is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(unique, crates);
    let manifest = std::fs::read_to_string(format!("{root}/Cargo.toml")).expect("Cargo.toml");
    for name in &crates {
        assert!(
            manifest.contains(&format!("\"functions/{name}\"")),
            "functions/{name} is not a workspace member"
        );
    }
}

/// The template as YAML, CloudFormation's short tags (`!Ref`, `!Sub`, …) kept as tagged values.
fn template() -> serde_yaml::Value {
    let root = env!("CARGO_MANIFEST_DIR");
    let text = std::fs::read_to_string(format!("{root}/template.yaml")).expect("template");
    serde_yaml::from_str(&text).expect("template.yaml is YAML")
}

fn resources(template: &serde_yaml::Value) -> &serde_yaml::Mapping {
    template["Resources"].as_mapping().expect("Resources")
}

/// The `!Ref` target of a tagged value.
fn reference(value: &serde_yaml::Value) -> Option<&str> {
    match value {
        serde_yaml::Value::Tagged(tagged) if tagged.tag == "!Ref" => tagged.value.as_str(),
        _ => None,
    }
}

/// `!Sub` text with its `${…}` placeholders replaced, so JSON inside it can be parsed.
fn substituted(value: &serde_yaml::Value) -> String {
    let serde_yaml::Value::Tagged(tagged) = value else {
        panic!("not a !Sub: {value:?}")
    };
    let text = tagged.value.as_str().expect("a !Sub string");
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("a closed placeholder");
        out.push('X');
        rest = &rest[start + end + 1..];
    }
    out + rest
}

#[test]
fn the_api_is_throttled_and_access_logged_as_json() {
    let template = template();
    let api = &resources(&template)["HttpApi"]["Properties"];
    let throttling = &api["DefaultRouteSettings"];
    assert_eq!(
        reference(&throttling["ThrottlingRateLimit"]),
        Some("ApiThrottleRate")
    );
    assert_eq!(
        reference(&throttling["ThrottlingBurstLimit"]),
        Some("ApiThrottleBurst")
    );
    let logs = &api["AccessLogSettings"];
    let format: serde_json::Value =
        serde_json::from_str(logs["Format"].as_str().expect("a format")).expect("JSON lines");
    for field in [
        "requestId",
        "routeKey",
        "status",
        "latencyMs",
        "sub",
        "integrationError",
    ] {
        assert!(format.get(field).is_some(), "access logs carry {field}");
    }
    let destination = &logs["DestinationArn"];
    let serde_yaml::Value::Tagged(get_att) = destination else {
        panic!("{destination:?}")
    };
    assert_eq!(get_att.tag, "!GetAtt");
    assert_eq!(get_att.value.as_str(), Some("ApiAccessLogGroup.Arn"));
}

#[test]
fn every_alarm_notifies_the_topic_and_the_runbook_alarms_exist() {
    let template = template();
    let resources = resources(&template);
    let alarms: Vec<(&str, &serde_yaml::Value)> = resources
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::CloudWatch::Alarm")
        .map(|(name, r)| (name.as_str().expect("a name"), &r["Properties"]))
        .collect();
    for wanted in [
        "SubmitErrorsAlarm",
        "SubmitThrottlesAlarm",
        "ProcessorErrorsAlarm",
        "ProcessorThrottlesAlarm",
        "IntakeErrorsAlarm",
        "ChunkQueueAgeAlarm",
        "DeadLetteredChunksAlarm",
        "DeadLetterQueueAlarm",
        "ChunkDeadLetterParkingAlarm",
        "IntakeDeadLetterAlarm",
        "Api5xxAlarm",
        "TableThrottlesAlarm",
        "EventPublishFailureAlarm",
        "SplitterErrorsAlarm",
        "SplitDeadLetterAlarm",
    ] {
        assert!(
            alarms.iter().any(|(name, _)| *name == wanted),
            "{wanted} is missing"
        );
    }
    for (name, alarm) in &alarms {
        let actions = alarm["AlarmActions"].as_sequence().expect("AlarmActions");
        assert!(
            actions.iter().any(|a| reference(a) == Some("AlarmTopic")),
            "{name} notifies the alarm topic"
        );
    }
    let dead_lettered = alarms
        .iter()
        .find(|(name, _)| *name == "DeadLetteredChunksAlarm")
        .map(|(_, alarm)| alarm)
        .expect("the alarm");
    // From the functions' own metric, not the queue's depth: the dead_letter function drains
    // the queue at once.
    let metrics = serde_yaml::to_string(&dead_lettered["Metrics"]).expect("YAML");
    assert!(metrics.contains("Namespace: bulkops") && metrics.contains("DeadLetteredChunks"));
}

#[test]
fn the_dashboard_is_valid_json_and_everything_is_tagged() {
    let template = template();
    let resources = resources(&template);
    let body = substituted(&resources["Dashboard"]["Properties"]["DashboardBody"]);
    let dashboard: serde_json::Value = serde_json::from_str(&body).expect("dashboard JSON");
    assert!(dashboard["widgets"].as_array().expect("widgets").len() >= 6);
    for (name, resource) in resources {
        let kind = resource["Type"].as_str().unwrap_or_default();
        let tags = &resource["Properties"]["Tags"];
        match kind {
            "AWS::SQS::Queue"
            | "AWS::Logs::LogGroup"
            | "AWS::DynamoDB::Table"
            | "AWS::Events::EventBus"
            | "AWS::SNS::Topic"
            | "AWS::S3::Bucket" => {
                let keys: Vec<&str> = tags
                    .as_sequence()
                    .unwrap_or_else(|| panic!("{name:?} has tags"))
                    .iter()
                    .filter_map(|t| t["Key"].as_str())
                    .collect();
                assert!(
                    keys.contains(&"service") && keys.contains(&"stage"),
                    "{name:?}"
                );
            }
            _ => {}
        }
    }
    assert_eq!(
        reference(&template["Globals"]["Function"]["Tags"]["stage"]),
        Some("Stage")
    );
}

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
fn every_redrive_policy_uses_the_code_s_receive_count() {
    let template = template();
    let mut queues = 0;
    for (name, resource) in resources(&template) {
        let redrive = &resource["Properties"]["RedrivePolicy"];
        if redrive.is_null() {
            continue;
        }
        queues += 1;
        assert_eq!(
            redrive["maxReceiveCount"].as_u64(),
            Some(u64::from(bulkops_shared::queue::MAX_RECEIVE_COUNT)),
            "{name:?}"
        );
    }
    assert_eq!(
        queues, 4,
        "the chunk queue, its dead-letter queue, the intake queue and the split queue"
    );
}

/// The `!GetAtt` target of a tagged value.
fn get_att(value: &serde_yaml::Value) -> Option<&str> {
    match value {
        serde_yaml::Value::Tagged(tagged) if tagged.tag == "!GetAtt" => tagged.value.as_str(),
        _ => None,
    }
}

#[test]
fn every_consumed_queue_is_redriven_and_the_last_resort_queue_alarms() {
    let template = template();
    let resources = resources(&template);
    // Every queue a function consumes has a redrive policy: a message no invocation can
    // handle is moved aside after MAX_RECEIVE_COUNT receives, never retried until it expires.
    let mut consumed = Vec::new();
    for (_, resource) in resources {
        let Some(events) = resource["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for (_, event) in events {
            if event["Type"] == "SQS" {
                let queue = get_att(&event["Properties"]["Queue"]).expect("a queue ARN");
                consumed.push(queue.trim_end_matches(".Arn").to_owned());
            }
        }
    }
    consumed.sort();
    assert_eq!(
        consumed,
        [
            "ChunkDeadLetterQueue",
            "ChunkQueue",
            "IntakeQueue",
            "SplitQueue"
        ]
    );
    for queue in &consumed {
        let redrive = &resources[queue.as_str()]["Properties"]["RedrivePolicy"];
        assert!(redrive.is_mapping(), "{queue} has a redrive policy");
    }
    // The dead-letter queue's own dead letters are parked: kept 14 days, consumed by nobody.
    let redrive = &resources["ChunkDeadLetterQueue"]["Properties"]["RedrivePolicy"];
    assert_eq!(
        get_att(&redrive["deadLetterTargetArn"]),
        Some("ChunkDeadLetterParkingQueue.Arn")
    );
    let parking = &resources["ChunkDeadLetterParkingQueue"];
    assert_eq!(parking["Type"], "AWS::SQS::Queue");
    assert_eq!(
        parking["Properties"]["MessageRetentionPeriod"].as_u64(),
        Some(14 * 24 * 3600)
    );
    assert!(parking["Properties"]["RedrivePolicy"].is_null());
    assert!(!consumed.contains(&"ChunkDeadLetterParkingQueue".to_owned()));
    // So its alarm fires on the first message, to the alarm topic.
    let alarm = &resources["ChunkDeadLetterParkingAlarm"]["Properties"];
    assert_eq!(alarm["Namespace"], "AWS/SQS");
    assert_eq!(alarm["MetricName"], "ApproximateNumberOfMessagesVisible");
    assert_eq!(
        get_att(&alarm["Dimensions"][0]["Value"]),
        Some("ChunkDeadLetterParkingQueue.QueueName")
    );
    assert_eq!(alarm["Threshold"].as_u64(), Some(0));
    assert_eq!(alarm["ComparisonOperator"], "GreaterThanThreshold");
    let actions = alarm["AlarmActions"].as_sequence().expect("AlarmActions");
    assert!(actions.iter().any(|a| reference(a) == Some("AlarmTopic")));
    let serde_yaml::Value::Tagged(body) = &resources["Dashboard"]["Properties"]["DashboardBody"]
    else {
        panic!("a !Sub dashboard")
    };
    let body = body.value.as_str().expect("the dashboard");
    assert!(body.contains("${ChunkDeadLetterParkingQueue.QueueName}"));
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

/// The dashboard shows every function's cold starts (the `ColdStart` EMF metric, by the
/// function name Lambda gives the process).
#[test]
fn the_dashboard_shows_each_functions_cold_starts() {
    let template = template();
    let serde_yaml::Value::Tagged(sub) =
        &resources(&template)["Dashboard"]["Properties"]["DashboardBody"]
    else {
        panic!("the dashboard body is a !Sub");
    };
    let body = sub.value.as_str().expect("its text").to_owned();
    let functions: Vec<String> = resources(&template)
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(name, _)| name.as_str().expect("a name").to_owned())
        .collect();
    assert_eq!(functions.len(), 8, "{functions:?}");
    for function in functions {
        let series = format!("\"ColdStart\", \"Function\", \"${{{function}}}\"");
        let later = format!("\"ColdStart\", \".\", \"${{{function}}}\"");
        assert!(
            body.contains(&series) || body.contains(&later),
            "no ColdStart series for {function}"
        );
    }
    assert!(body.contains(&format!(
        "\"{}\", \"ColdStart\"",
        bulkops_shared::metrics::NAMESPACE
    )));
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

/// The `!Sub` text of a tagged value.
fn sub(value: &serde_yaml::Value) -> Option<&str> {
    match value {
        serde_yaml::Value::Tagged(tagged) if tagged.tag == "!Sub" => tagged.value.as_str(),
        _ => None,
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
