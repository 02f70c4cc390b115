//! Format detection and parsing of every input shape.

use std::path::Path;

use serde_json::json;

use super::*;

fn parse(name: &str, text: &str) -> Result<Input, InputError> {
    parse_input(Path::new(name), text, None)
}

/// A real enrollment id (a headerless CSV's first line must read as one).
fn id(n: usize) -> String {
    crate::local::demo::enrollment_id(n)
}

fn payloads(input: &Input) -> Vec<Value> {
    input.rows.iter().map(|r| r.payload.clone()).collect()
}

/// The whole error chain, as the operator sees it.
fn error(name: &str, text: &str, api: Option<Api>) -> String {
    match parse_input(Path::new(name), text, api) {
        Ok(input) => panic!("expected an error, parsed {input:?}"),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn json_ids_object_is_mfp_and_keeps_the_object() {
    let input = parse("in.json", r#"{"note": "x", "ids": ["YQ", "Yg"]}"#).unwrap();
    assert_eq!(input.api, Api::Mfp);
    assert_eq!(payloads(&input), vec![json!("YQ"), json!("Yg")]);
    let Shape::JsonObject { object, list_key } = &input.shape else {
        panic!("shape {:?}", input.shape);
    };
    assert_eq!(*list_key, "ids");
    assert_eq!(
        Value::Object(object.clone()),
        json!({"note": "x", "ids": null})
    );
    assert!(input.rows.iter().all(|r| r.cells.is_none()));
}

#[test]
fn json_accounts_object_is_accounts_with_its_source() {
    let input = parse(
        "in.json",
        r#"{"source": "hr.csv", "accountsList": [{"safeName": "s", "platformId": "p"}]}"#,
    )
    .unwrap();
    assert_eq!(input.api, Api::Accounts);
    assert_eq!(input.source.as_deref(), Some("hr.csv"));
    assert_eq!(
        payloads(&input),
        vec![json!({"safeName": "s", "platformId": "p"})]
    );
}

#[test]
fn bare_json_arrays_are_detected_by_their_items() {
    let ids = parse("in.json", r#"["YQ", "Yg"]"#).unwrap();
    assert_eq!((ids.api, &ids.shape), (Api::Mfp, &Shape::JsonArray));
    let accounts = parse(
        "in.json",
        r#"[{"safeName": "s", "platformId": "p"}, {"safeName": "t", "platformId": "p"}]"#,
    )
    .unwrap();
    assert_eq!(
        (accounts.api, &accounts.shape),
        (Api::Accounts, &Shape::JsonArray)
    );
    assert_eq!(accounts.source, None);
}

#[test]
fn json_without_a_known_extension_is_sniffed_and_a_bom_is_ignored() {
    let input = parse("ids.txt", "\u{feff}  [\"YQ\"]").unwrap();
    assert_eq!(input.shape, Shape::JsonArray);
}

#[test]
fn malformed_json_names_the_line() {
    let message = error("in.json", "{\n  \"ids\": [\n    \"YQ\",,\n  ]\n}", None);
    assert!(message.contains("malformed JSON"), "{message}");
    assert!(message.contains("line 3"), "{message}");
}

#[test]
fn json_rows_of_the_wrong_type_name_their_index() {
    let message = error("in.json", r#"{"ids": ["YQ", 7]}"#, None);
    assert!(message.contains("ids[1] must be an id"), "{message}");
    let message = error("in.json", r#"[{"safeName": "s"}, "YQ"]"#, None);
    assert!(message.contains("[1] must be an account"), "{message}");
    let message = error("in.json", r#"{"ids": "YQ"}"#, None);
    assert!(message.contains("ids must be an array"), "{message}");
}

#[test]
fn json_objects_must_hold_exactly_one_list() {
    let both = error("in.json", r#"{"ids": [], "accountsList": []}"#, None);
    assert!(both.contains("both"), "{both}");
    let neither = error("in.json", r#"{"rows": []}"#, None);
    assert!(neither.contains("neither"), "{neither}");
    let empty = error("in.json", r#"{"ids": []}"#, None);
    assert!(empty.contains("no rows"), "{empty}");
}

#[test]
fn api_flag_that_contradicts_the_file_is_an_error() {
    let message = error("in.json", r#"{"ids": ["YQ"]}"#, Some(Api::Accounts));
    assert!(message.contains("--api accounts"), "{message}");
    assert!(parse_input(Path::new("in.json"), r#"["YQ"]"#, Some(Api::Mfp)).is_ok());
}

#[test]
fn csv_ids_one_per_line_skipping_blank_lines() {
    let text = format!("{}\n\n  Yg  \n   \n\"Yw\"\n", id(1));
    let input = parse("ids.csv", &text).unwrap();
    assert_eq!(input.api, Api::Mfp);
    assert_eq!(
        payloads(&input),
        vec![json!(id(1)), json!("Yg"), json!("Yw")]
    );
    assert_eq!(input.shape, Shape::Csv { header: None });
    assert_eq!(
        input.rows[1].cells,
        Some(csv::StringRecord::from(vec!["  Yg  "]))
    );
    let lines: Vec<_> = input.rows.iter().map(|r| r.line).collect();
    assert_eq!(lines, vec![Some(1), Some(3), Some(5)]);
}

#[test]
fn csv_id_header_variants_are_skipped_and_kept() {
    for header in ["id", "ids", "ID", " Ids "] {
        let input = parse("ids.csv", &format!("{header}\nYQ\n")).unwrap();
        assert_eq!(payloads(&input), vec![json!("YQ")], "{header}");
        assert_eq!(
            input.shape,
            Shape::Csv {
                header: Some(csv::StringRecord::from(vec![header]))
            }
        );
    }
}

#[test]
fn text_without_extension_is_csv() {
    let input = parse("ids", &format!("{}\nYg\n", id(0))).unwrap();
    assert_eq!((input.api, input.rows.len()), (Api::Mfp, 2));
}

#[test]
fn csv_id_lines_with_more_fields_name_the_line() {
    let message = error("ids.csv", "id\nYQ\nYg,Yw\n", None);
    assert!(message.contains("line 3"), "{message}");
    assert!(message.contains("found 2 fields"), "{message}");
}

#[test]
fn csv_accounts_with_quoting_nested_columns_bools_and_indexes() {
    let text = "\
uploadIndex,safeName,platformId,userName,address,secret,platformAccountProperties.LogonDomain,secretManagement.automaticManagementEnabled,secretManagement.manualManagementReason,remoteMachinesAccess.remoteMachines,remoteMachinesAccess.accessRestrictedToRemoteMachines
7,Ops,WinDomain,\"Smith, \"\"J\"\"\",host1,p@ss,CORP,FALSE,rotated by hand,\"m1;m2\",true
,Ops,WinDomain,root,host2,,,,,,
";
    let input = parse("accounts.csv", text).unwrap();
    assert_eq!(input.api, Api::Accounts);
    assert_eq!(
        payloads(&input),
        vec![
            json!({
                "uploadIndex": 7,
                "safeName": "Ops",
                "platformId": "WinDomain",
                "userName": "Smith, \"J\"",
                "address": "host1",
                "secret": "p@ss",
                "platformAccountProperties": {"LogonDomain": "CORP"},
                "secretManagement": {
                    "automaticManagementEnabled": false,
                    "manualManagementReason": "rotated by hand"
                },
                "remoteMachinesAccess": {
                    "remoteMachines": "m1;m2",
                    "accessRestrictedToRemoteMachines": true
                }
            }),
            json!({"safeName": "Ops", "platformId": "WinDomain", "userName": "root", "address": "host2"}),
        ]
    );
    let Shape::Csv {
        header: Some(header),
    } = &input.shape
    else {
        panic!("shape {:?}", input.shape);
    };
    assert_eq!(header.len(), 11);
    assert_eq!(
        input.rows[0].cells.as_ref().map(|c| c[3].to_owned()),
        Some("Smith, \"J\"".into())
    );
}

#[test]
fn csv_account_header_names_are_case_insensitive() {
    let input = parse("a.csv", "SAFENAME,PlatformID,username\nOps,Unix,root\n").unwrap();
    assert_eq!(
        payloads(&input),
        vec![json!({"safeName": "Ops", "platformId": "Unix", "userName": "root"})]
    );
}

#[test]
fn api_flag_reads_a_csv_without_the_telltale_columns_as_accounts() {
    let input = parse_input(
        Path::new("a.csv"),
        "name,address,safename,platformid\nweb,host,s,p\n",
        Some(Api::Accounts),
    )
    .unwrap();
    assert_eq!(
        payloads(&input),
        vec![json!({"name": "web", "address": "host", "safeName": "s", "platformId": "p"})]
    );
}

#[test]
fn csv_account_errors_name_line_and_column() {
    let header = "safeName,platformId,uploadIndex,secretManagement.automaticManagementEnabled\n";
    let bad_bool = error("a.csv", &format!("{header}s,p,1,true\ns,p,2,yes\n"), None);
    assert!(bad_bool.contains("line 3"), "{bad_bool}");
    assert!(
        bad_bool.contains("column 4 (secretManagement.automaticManagementEnabled)"),
        "{bad_bool}"
    );
    let bad_index = error("a.csv", &format!("{header}s,p,one,true\n"), None);
    assert!(bad_index.contains("line 2"), "{bad_index}");
    assert!(
        bad_index.contains("column 3 (uploadIndex): expected an integer"),
        "{bad_index}"
    );
    let short = error("a.csv", &format!("{header}s,p\n"), None);
    assert!(
        short.contains("line 2: found 2 fields, but the header has 4"),
        "{short}"
    );
}

#[test]
fn csv_account_headers_are_checked() {
    let unknown = error("a.csv", "safeName,platfromId\ns,p\n", None);
    assert!(
        unknown.contains("line 1: unknown column \"platfromId\" in the header"),
        "{unknown}"
    );
    assert!(
        unknown.contains("the accepted columns are: uploadIndex, name, address"),
        "{unknown}"
    );
    assert!(
        unknown.contains("platformAccountProperties.<key>, secretManagement."),
        "{unknown}"
    );
    let twice = error("a.csv", "safeName,platformId,SafeName\ns,p,t\n", None);
    assert!(
        twice.contains("column 3: safeName appears twice"),
        "{twice}"
    );
    let nested = error("a.csv", "safeName,secretManagement.enabled\ns,p\n", None);
    assert!(nested.contains("unknown column"), "{nested}");
}

#[test]
fn an_empty_file_has_no_rows() {
    assert!(error("a.csv", "\n\n", None).contains("no rows"));
    assert!(error("a.csv", "id\n", None).contains("no rows"));
    assert!(error("a.csv", "safeName,platformId\n", None).contains("no rows"));
}

#[test]
fn request_bodies_follow_the_contract() {
    let ids = parse("ids.csv", "id\nYQ\n").unwrap();
    assert_eq!(ids.request_body("ignored"), json!({"ids": ["YQ"]}));
    let accounts = parse("a.csv", "safeName,platformId\ns,p\n").unwrap();
    assert_eq!(
        accounts.request_body("a.csv"),
        json!({"source": "a.csv", "accountsList": [{"safeName": "s", "platformId": "p"}]})
    );
}

#[test]
fn a_file_that_is_not_utf8_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.csv");
    std::fs::write(&path, b"safeName,platformId\nOps,Unix\nCaf\xe9,Unix\n").unwrap();
    let message = format!("{:#}", read_input(&path, None).unwrap_err());
    assert!(message.contains("line 3 is not UTF-8"), "{message}");
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        /// Any file text, in any of the formats the client reads, is parsed or refused with an
        /// error; it never panics.
        #[test]
        fn any_input_file_parses_or_is_refused(
            name in prop::sample::select(&["in.json", "in.csv", "in.txt", "in"][..]),
            text in prop_oneof![
                ".{0,200}",
                "([a-zA-Z.]{0,12}(,[a-zA-Z.\"]{0,12}){0,4}\n){0,6}",
                "(\\{|\\[|\\]|\\}|\"ids\"|\"accountsList\"|:|,|\"[a-z]{0,3}\"|[0-9]|null){0,40}",
            ],
            api in prop::sample::select(&[None, Some(Api::Mfp), Some(Api::Accounts)][..]),
        ) {
            let _ = parse_input(Path::new(name), &text, api);
        }
    }
}
