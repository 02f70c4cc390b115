//! `openapi.yaml` describes exactly the routes of the route table (the `{proxy+}` catch-alls
//! aside, which only carry other spellings of the same routes), every operation with a
//! success and its errors, every `$ref` resolving; `bulkops serve` serves it.

use std::collections::BTreeSet;
use std::path::Path;

use bulkops_shared::api::GATEWAY_ROUTES;
use bulkops_testkit::server::{fresh_dir, ServerProcess};

fn document() -> (String, serde_yaml::Value) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml");
    let text = std::fs::read_to_string(path).expect("openapi.yaml");
    let value = serde_yaml::from_str(&text).expect("openapi.yaml is YAML");
    (text, value)
}

/// `{bulkId}` and `{id}` alike: a path parameter.
fn shape(path: &str) -> String {
    path.split('/')
        .map(|s| if s.starts_with('{') { "{}" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

#[test]
fn it_describes_exactly_the_route_table() {
    let (_, doc) = document();
    assert_eq!(doc["openapi"].as_str(), Some("3.1.0"));
    let mut described = BTreeSet::new();
    for (path, item) in doc["paths"].as_mapping().expect("paths") {
        for (method, operation) in item.as_mapping().expect("a path item") {
            let method = method.as_str().unwrap().to_ascii_uppercase();
            described.insert((method.clone(), shape(path.as_str().unwrap())));
            let responses = operation["responses"].as_mapping().expect("responses");
            let codes: Vec<&str> = responses.keys().filter_map(|k| k.as_str()).collect();
            assert!(
                codes.iter().any(|c| c.starts_with('2')),
                "{method} {path:?}: a success"
            );
            assert!(
                codes.iter().any(|c| c.starts_with('4')),
                "{method} {path:?}: its errors"
            );
            assert!(
                operation["operationId"].is_string(),
                "{method} {path:?}: an operationId"
            );
        }
    }
    let routed: BTreeSet<(String, String)> = GATEWAY_ROUTES
        .iter()
        .filter(|(_, _, path)| !path.contains("{proxy+}"))
        .map(|(_, method, path)| (method.to_string(), shape(path)))
        .collect();
    assert_eq!(described, routed);
}

#[test]
fn every_reference_resolves() {
    let (text, doc) = document();
    for line in text.lines() {
        let Some(start) = line.find("\"#/") else {
            continue;
        };
        let rest = &line[start + 3..];
        let pointer = &rest[..rest.find('"').expect("a closed $ref")];
        let mut node = &doc;
        for part in pointer.split('/') {
            node = &node[part];
        }
        assert!(!node.is_null(), "{pointer} does not resolve");
    }
}

#[tokio::test]
async fn the_local_server_serves_it() {
    let root = fresh_dir("openapi");
    let binary = Path::new(env!("CARGO_BIN_EXE_bulkops"));
    let server = ServerProcess::start(binary, &root.path().join("data"), &[]);
    let response = reqwest::get(format!("{}/openapi.yaml", server.url))
        .await
        .expect("GET /openapi.yaml");
    assert_eq!(response.status(), 200);
    let served = response.text().await.expect("the document");
    assert_eq!(served, document().0);
    server.stop();
}
