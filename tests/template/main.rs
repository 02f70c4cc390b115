//! template.yaml as deployed: here, every Lambda function of the workspace and nothing else
//! (each `Binary:` it builds is a crate under `functions/` with a `main.rs`, and each such
//! crate is built by one function resource), with the helpers that read the template;
//! `operations` and `deployment` check what the team on call and the deployers rely on.

use std::collections::BTreeSet;

mod deployment;
mod operations;

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

/// The `!GetAtt` target of a tagged value.
fn get_att(value: &serde_yaml::Value) -> Option<&str> {
    match value {
        serde_yaml::Value::Tagged(tagged) if tagged.tag == "!GetAtt" => tagged.value.as_str(),
        _ => None,
    }
}

/// The `!Sub` text of a tagged value.
fn sub(value: &serde_yaml::Value) -> Option<&str> {
    match value {
        serde_yaml::Value::Tagged(tagged) if tagged.tag == "!Sub" => tagged.value.as_str(),
        _ => None,
    }
}
