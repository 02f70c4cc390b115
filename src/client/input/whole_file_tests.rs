//! Whole-file checks: every bad row at once with its line, unknown headers refused with the
//! accepted ones, the lines of JSON rows, secrets noticed.

use std::path::Path;

use super::*;

fn parse(name: &str, text: &str) -> Result<Input, InputError> {
    parse_input(Path::new(name), text, None)
}

fn error(name: &str, text: &str) -> String {
    match parse(name, text) {
        Ok(input) => panic!("expected an error, parsed {input:?}"),
        Err(e) => e.to_string(),
    }
}

fn id(n: usize) -> String {
    crate::local::demo::enrollment_id(n)
}

#[test]
fn an_unknown_id_header_is_refused_with_the_accepted_ones() {
    for header in ["enrollmentId", "Enrollment ID", "user_id,name"] {
        let message = error("ids.csv", &format!("{header}\n{}\n", id(1)));
        assert!(
            message.starts_with("ids.csv: line 1: unknown column"),
            "{message}"
        );
        assert!(
            message.ends_with("the accepted columns are: id, ids"),
            "{message}"
        );
    }
}

#[test]
fn every_bad_line_of_a_dirty_csv_is_reported_at_once() {
    let text = format!("id\n{}\n!!\n{}\nnot base64?\na,b\n\n***\n", id(1), id(2));
    let message = error("ids.csv", &text);
    assert!(
        message.starts_with("ids.csv: 4 bad rows; nothing was sent"),
        "{message}"
    );
    let listed: Vec<&str> = message.lines().skip(1).collect();
    assert_eq!(
        listed,
        [
            "  line 3: \"!!\" is not a valid Base64 enrollment id",
            "  line 5: \"not base64?\" is not a valid Base64 enrollment id",
            "  line 6: expected one id per line, found 2 fields",
            "  line 8: \"***\" is not a valid Base64 enrollment id",
        ]
    );
}

#[test]
fn dirty_account_rows_are_reported_with_their_lines() {
    let csv =
        "safeName,platformId,secretType,uploadIndex\ns,p,password,1\n,p,,2\ns,p,pin,3\ns,p,key,x\n";
    let message = error("a.csv", csv);
    assert!(message.contains("3 bad rows"), "{message}");
    assert!(
        message.contains("\n  line 3: safeName is required"),
        "{message}"
    );
    assert!(
        message.contains("\n  line 4: secretType must be \"password\" or \"key\""),
        "{message}"
    );
    assert!(
        message.contains("\n  line 5: column 4 (uploadIndex)"),
        "{message}"
    );

    let json = "{\"accountsList\": [\n  {\"safeName\": \"s\", \"platformId\": \"p\"},\n  {\"safeName\": 5, \"platformId\": \"p\"},\n  \"x\"\n]}";
    let message = error("a.json", json);
    assert!(message.contains("2 bad rows"), "{message}");
    assert!(
        message.contains("\n  line 3: accountsList[1].safeName must be a string"),
        "{message}"
    );
    assert!(
        message.contains("\n  line 4: accountsList[2] must be an account (object)"),
        "{message}"
    );
}

#[test]
fn json_rows_know_their_lines() {
    let input = parse("in.json", "{\"ids\": [\n  \"YQ\",\n\n  \"Yg\"]}").unwrap();
    let lines: Vec<_> = input.rows.iter().map(|r| r.line).collect();
    assert_eq!(lines, vec![Some(2), Some(4)]);
    let input = parse("in.json", "[\"YQ\",\n \"Yg\"]").unwrap();
    let lines: Vec<_> = input.rows.iter().map(|r| r.line).collect();
    assert_eq!(lines, vec![Some(1), Some(2)]);
}

#[test]
fn secrets_are_noticed_in_any_spelling() {
    let input = parse(
        "a.json",
        r#"[{"safeName": "s", "platformId": "p"}, {"safeName": "s", "platformId": "p", "Secret": "x"}]"#,
    )
    .unwrap();
    assert!(!input.has_secrets(&[0]));
    assert!(input.has_secrets(&[0, 1]));
}
