//! Every setting a function reads at cold start is set on it in template.yaml, from the
//! parameter or resource it should come from; and a function that queues chunks may send to
//! the chunk queue. (A missing one would only show as an init failure on AWS.)

fn template() -> serde_yaml::Value {
    let root = env!("CARGO_MANIFEST_DIR");
    let text = std::fs::read_to_string(format!("{root}/template.yaml")).expect("template");
    serde_yaml::from_str(&text).expect("template.yaml is YAML")
}

/// The `!Ref` target of a tagged value.
fn reference(value: &serde_yaml::Value) -> Option<&str> {
    match value {
        serde_yaml::Value::Tagged(tagged) if tagged.tag == "!Ref" => tagged.value.as_str(),
        _ => None,
    }
}

/// What `variable` is set to (`!Ref` target) for `function`: its own, else the Globals'.
fn setting<'a>(template: &'a serde_yaml::Value, function: &str, variable: &str) -> Option<&'a str> {
    let own = &template["Resources"][function]["Properties"]["Environment"]["Variables"][variable];
    let global = &template["Globals"]["Function"]["Environment"]["Variables"][variable];
    reference(own).or_else(|| reference(global))
}

/// Whether `function` may `action` on `resource` (a `!GetAtt <resource>.Arn`).
fn allowed(template: &serde_yaml::Value, function: &str, action: &str, resource: &str) -> bool {
    let policies = template["Resources"][function]["Properties"]["Policies"]
        .as_sequence()
        .expect("policies");
    policies.iter().any(|policy| {
        policy["Statement"].as_sequence().is_some_and(|statements| {
            statements.iter().any(|statement| {
                let actions = statement["Action"].as_sequence();
                let get_att = |value: &serde_yaml::Value| match value {
                    serde_yaml::Value::Tagged(tagged) if tagged.tag == "!GetAtt" => {
                        tagged.value.as_str() == Some(&format!("{resource}.Arn"))
                    }
                    _ => false,
                };
                let targets = match &statement["Resource"] {
                    serde_yaml::Value::Sequence(list) => list.iter().any(get_att),
                    single => get_att(single),
                };
                targets && actions.is_some_and(|a| a.iter().any(|x| x.as_str() == Some(action)))
            })
        })
    })
}

#[test]
fn every_function_gets_the_settings_it_reads() {
    let template = template();
    let expected: &[(&str, &[(&str, &str)])] = &[
        (
            "SubmitFunction",
            &[
                ("TABLE_NAME", "Table"),
                ("QUEUE_URL", "ChunkQueue"),
                ("CHUNK_WINDOW", "ChunkWindow"),
                ("MAX_ACTIVE_JOBS_PER_CALLER", "MaxActiveJobsPerCaller"),
                ("MAX_ROWS_IN_FLIGHT_PER_CALLER", "MaxRowsInFlightPerCaller"),
                ("UPLOAD_BUCKET", "UploadBucket"),
            ],
        ),
        (
            "SplitterFunction",
            &[
                ("TABLE_NAME", "Table"),
                ("QUEUE_URL", "ChunkQueue"),
                ("CHUNK_WINDOW", "ChunkWindow"),
                ("UPLOAD_BUCKET", "UploadBucket"),
                ("SPLIT_QUEUE_URL", "SplitQueue"),
            ],
        ),
        (
            "IntakeFunction",
            &[("QUEUE_URL", "ChunkQueue"), ("CHUNK_WINDOW", "ChunkWindow")],
        ),
        (
            "ProcessorFunction",
            &[("QUEUE_URL", "ChunkQueue"), ("CHUNK_WINDOW", "ChunkWindow")],
        ),
        (
            "DeadLetterFunction",
            &[("QUEUE_URL", "ChunkQueue"), ("CHUNK_WINDOW", "ChunkWindow")],
        ),
    ];
    for (function, settings) in expected {
        for (variable, source) in *settings {
            assert_eq!(
                setting(&template, function, variable),
                Some(*source),
                "{function} {variable}"
            );
        }
        // Each of them queues chunks: a new job's, or the next of a windowed job.
        assert!(
            allowed(&template, function, "sqs:SendMessage", "ChunkQueue"),
            "{function} may not send to ChunkQueue"
        );
    }
}

/// A function that ends jobs asks the split queue for their result files, and may send there;
/// the query function links them (presigned with its role) and asks for missing ones.
#[test]
fn every_function_that_ends_jobs_asks_for_their_result_files() {
    let template = template();
    for function in [
        "ProcessorFunction",
        "DeadLetterFunction",
        "CancelFunction",
        "QueryFunction",
        "SplitterFunction",
    ] {
        assert_eq!(
            setting(&template, function, "RESULTS_QUEUE_URL"),
            Some("SplitQueue"),
            "{function}"
        );
        assert!(
            allowed(&template, function, "sqs:SendMessage", "SplitQueue"),
            "{function} may not send to SplitQueue"
        );
    }
    assert_eq!(
        setting(&template, "QueryFunction", "UPLOAD_BUCKET"),
        Some("UploadBucket")
    );
}

/// The template's defaults are the code's, so a deployment and `bulkops serve` behave alike.
#[test]
fn the_template_defaults_are_the_code_defaults() {
    let template = template();
    let default = |name: &str| template["Parameters"][name]["Default"].as_u64();
    use bulkops_shared::store::quota;
    assert_eq!(
        default("MaxActiveJobsPerCaller"),
        Some(u64::from(quota::DEFAULT_MAX_ACTIVE_JOBS))
    );
    assert_eq!(
        default("MaxRowsInFlightPerCaller"),
        Some(quota::DEFAULT_MAX_ROWS_IN_FLIGHT)
    );
    assert_eq!(
        default("ChunkWindow"),
        Some(u64::from(bulkops_shared::queue::DEFAULT_CHUNK_WINDOW))
    );
}
