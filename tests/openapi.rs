//! `openapi.yaml` describes exactly the routes of the route table (the `{proxy+}` catch-alls
//! aside, which only carry other spellings of the same routes), every operation with a
//! success and its errors, every `$ref` resolving, every link naming an operation and that
//! operation's parameters; `bulkops serve` serves it.

use std::collections::BTreeSet;
use std::path::Path;

use serde_yaml::Value;

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
            // A success: an answer, or the 303 to a result file.
            assert!(
                codes.iter().any(|c| c.starts_with('2') || *c == "303"),
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

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// `%7B` → `{`: an `operationRef` is a URI reference, whose fragment may be percent-encoded.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).expect("a UTF-8 reference")
}

/// The node a local reference (`#/components/...`, a JSON pointer in a URI fragment) names.
fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    let mut node = doc;
    for part in pointer.split('/').skip(1) {
        let part = percent_decode(part).replace("~1", "/").replace("~0", "~");
        node = node.get(part.as_str())?;
    }
    Some(node)
}

/// The node itself, or what its `$ref` (chain) names.
fn deref<'a>(doc: &'a Value, mut node: &'a Value) -> &'a Value {
    while let Some(reference) = node.get("$ref").and_then(Value::as_str) {
        node = resolve(doc, reference).unwrap_or_else(|| panic!("{reference} does not resolve"));
    }
    node
}

/// One operation of the document: its path, method and `(in, name)` parameters (the path
/// item's and its own).
struct Operation<'a> {
    path: &'a str,
    method: &'a str,
    node: &'a Value,
    parameters: BTreeSet<(String, String)>,
}

fn operations(doc: &Value) -> Vec<Operation<'_>> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_mapping().expect("paths") {
        let item = deref(doc, item);
        for method in METHODS {
            let Some(node) = item.get(method) else {
                continue;
            };
            let shared = item["parameters"].as_sequence().into_iter().flatten();
            let own = node["parameters"].as_sequence().into_iter().flatten();
            let parameters = shared
                .chain(own)
                .map(|p| {
                    let p = deref(doc, p);
                    let field = |key: &str| p[key].as_str().expect("in and name").to_owned();
                    (field("in"), field("name"))
                })
                .collect();
            found.push(Operation {
                path: path.as_str().expect("a path"),
                method,
                node,
                parameters,
            });
        }
    }
    found
}

/// The operation a link targets, by `operationId` or by a local `operationRef`.
fn link_target<'d, 'o>(
    ops: &'o [Operation<'d>],
    link: &Value,
    what: &str,
) -> Result<&'o Operation<'d>, String> {
    if let Some(id) = link["operationId"].as_str() {
        let mut matching = ops
            .iter()
            .filter(|op| op.node["operationId"].as_str() == Some(id));
        let target = matching
            .next()
            .ok_or_else(|| format!("{what}: no operation has operationId {id}"))?;
        if matching.next().is_some() {
            return Err(format!("{what}: operationId {id} is not unique"));
        }
        return Ok(target);
    }
    let reference = link["operationRef"]
        .as_str()
        .ok_or_else(|| format!("{what}: neither operationId nor operationRef"))?;
    // `#/paths/<the path, ~1 for each />/<method>`
    let wrong = || format!("{what}: operationRef {reference} names no operation");
    let rest = reference.strip_prefix("#/paths/").ok_or_else(wrong)?;
    let (path, method) = rest.rsplit_once('/').ok_or_else(wrong)?;
    let path = percent_decode(path).replace("~1", "/").replace("~0", "~");
    let method = percent_decode(method);
    ops.iter()
        .find(|op| op.path == path && op.method == method)
        .ok_or_else(wrong)
}

/// Whether a `$response.body#/<pointer>` names a property the response's schema declares
/// (through `$ref` and `allOf`).
fn body_declares(doc: &Value, schema: &Value, pointer: &str) -> bool {
    let schema = deref(doc, schema);
    let Some((first, rest)) = pointer
        .strip_prefix('/')
        .map(|p| p.split_once('/').unwrap_or((p, "")))
    else {
        return pointer.is_empty();
    };
    if let Some(property) = schema["properties"].get(first) {
        return rest.is_empty() || body_declares(doc, property, &format!("/{rest}"));
    }
    schema["allOf"]
        .as_sequence()
        .into_iter()
        .flatten()
        .any(|part| body_declares(doc, part, pointer))
}

/// A link as `(source operationId, status, link name, target operationId)`.
type Link = (String, String, String, String);

/// Every link of every response. Each must name an operation of the document, only
/// parameters that operation has (`name` or `in.name`) and every path parameter it needs;
/// a `$response.body#/...` expression must name a property of the source response's body.
fn links(doc: &Value) -> Result<Vec<Link>, String> {
    let ops = operations(doc);
    let mut found = Vec::new();
    for source in &ops {
        let source_id = source.node["operationId"].as_str().expect("an operationId");
        let responses = source.node["responses"].as_mapping().expect("responses");
        for (status, response) in responses {
            let status = status.as_str().expect("a status");
            let response = deref(doc, response);
            let Some(links) = response["links"].as_mapping() else {
                continue;
            };
            for (name, link) in links {
                let name = name.as_str().expect("a link name");
                let what = format!("{source_id} {status} link {name}");
                let link = deref(doc, link);
                let target = link_target(&ops, link, &what)?;
                let operation = format!("{} {}", target.method, target.path);
                let given = link["parameters"].as_mapping().cloned().unwrap_or_default();
                let mut given_path = BTreeSet::new();
                for (key, expression) in &given {
                    let key = key.as_str().expect("a parameter name");
                    let (location, parameter) = match key.split_once('.') {
                        Some((l, n)) if ["path", "query", "header", "cookie"].contains(&l) => {
                            (Some(l), n)
                        }
                        _ => (None, key),
                    };
                    let mut matching = target.parameters.iter().filter(|(l, n)| {
                        n == parameter && location.is_none_or(|location| location == l)
                    });
                    let (location, _) = matching
                        .next()
                        .ok_or_else(|| format!("{what}: {operation} has no parameter {key}"))?;
                    if location == "path" {
                        given_path.insert(parameter.to_owned());
                    }
                    let pointer = expression
                        .as_str()
                        .and_then(|e| e.strip_prefix("$response.body#"));
                    if let Some(pointer) = pointer {
                        let content = response["content"].as_mapping();
                        let declared = content.is_some_and(|content| {
                            content
                                .values()
                                .all(|media| body_declares(doc, &media["schema"], pointer))
                        });
                        if !declared {
                            return Err(format!("{what}: the response body declares no {pointer}"));
                        }
                    }
                }
                let missing = target
                    .parameters
                    .iter()
                    .find(|(l, n)| l == "path" && !given_path.contains(n));
                if let Some((_, parameter)) = missing {
                    return Err(format!("{what}: gives no {parameter} to {operation}"));
                }
                let target_id = target.node["operationId"].as_str().expect("an operationId");
                found.push((
                    source_id.to_owned(),
                    status.to_owned(),
                    name.to_owned(),
                    target_id.to_owned(),
                ));
            }
        }
    }
    Ok(found)
}

#[test]
fn every_link_names_an_operation_and_its_parameters() {
    let (_, doc) = document();
    let links = links(&doc).unwrap_or_else(|error| panic!("{error}"));
    // The stateful fuzz run follows these from a create to every route of the job it made
    // (more links may come, e.g. from a create to a route added later).
    let found: BTreeSet<(&str, &str)> = links
        .iter()
        .map(|(source, _, _, target)| (source.as_str(), target.as_str()))
        .collect();
    for wanted in [
        ("createBulkMobileFlashPassV2", "getBulkMobileFlashPass"),
        (
            "createBulkMobileFlashPassV2",
            "downloadBulkMobileFlashPassLogs",
        ),
        ("createBulkMobileFlashPassV2", "cancelBulkMobileFlashPass"),
        (
            "createBulkMobileFlashPassV2",
            "retryBulkMobileFlashPassFailedRows",
        ),
        ("createBulkAccountUpload", "getBulkAccountUploadResult"),
        (
            "createBulkAccountUpload",
            "retryBulkAccountUploadFailedRows",
        ),
    ] {
        assert!(found.contains(&wanted), "no link {wanted:?} in {links:?}");
    }
}

#[test]
fn the_link_check_catches_a_wrong_link() {
    let (text, _) = document();
    for (from, to, error) in [
        (
            "GetBulkAccountUploadResult:\n              operationId: getBulkAccountUploadResult",
            "GetBulkAccountUploadResult:\n              operationId: getBulkAccountUpload",
            "no operation has operationId getBulkAccountUpload",
        ),
        (
            "path.bulkId: $response.body",
            "path.id: $response.body",
            "has no parameter path.id",
        ),
        (
            "path.bulkId: $response.body",
            "query.limit: $response.body",
            "has no parameter query.limit",
        ),
        (
            "path.bulkId: $response.body",
            "bulkId: $response.body, limit: $response.body",
            "has no parameter limit",
        ),
        (
            "operationId: getBulkMobileFlashPass\n          parameters: { path.id: \"$response.body#/id\" }",
            "operationId: getBulkMobileFlashPass\n          parameters: { path.id: \"$response.body#/jobId\" }",
            "the response body declares no /jobId",
        ),
        (
            "operationId: getBulkMobileFlashPass\n          parameters: { path.id: \"$response.body#/id\" }",
            "operationId: getBulkMobileFlashPass",
            "gives no id to get /api/web/v1/mobileFlashPass/{id}",
        ),
        (
            "operationId: getBulkMobileFlashPass\n          parameters:",
            "operationRef: \"#/paths/~1api~1web~1v1~1mobileFlashPass~1%7Bid%7D/post\"\n          parameters:",
            "names no operation",
        ),
    ] {
        assert!(text.contains(from), "{from}");
        let doc: Value = serde_yaml::from_str(&text.replacen(from, to, 1)).expect("YAML");
        match links(&doc) {
            Err(found) => assert!(found.contains(error), "{to}: {found}"),
            Ok(_) => panic!("not caught: {to}"),
        }
    }
    // An operationRef names the operation as well as its operationId does.
    let by_ref = text.replacen(
        "operationId: getBulkMobileFlashPass\n          parameters:",
        "operationRef: \"#/paths/~1api~1web~1v1~1mobileFlashPass~1%7Bid%7D/get\"\n          parameters:",
        1,
    );
    let doc: Value = serde_yaml::from_str(&by_ref).expect("YAML");
    let (_, original) = document();
    assert_eq!(links(&doc), links(&original));
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
