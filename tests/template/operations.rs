//! What the team on call relies on: throttling and access logs, alarms that notify, the
//! dashboard, redrive policies and the last-resort queues' alarms.

use super::*;

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
