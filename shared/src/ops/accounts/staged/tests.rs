//! Unit tests of [`AccountFileRows`]: both formats, headers, bad lines, duplicates, secrets.

use serde_json::json;

use super::*;
use crate::ops::accounts::api::parse_upload;

/// The file's records as the splitter hands them over (blank lines skipped between them; a
/// record that [`StagedRows::continues`] joined with its next lines): the first line to
/// `header`, the rest (and the first, if it is no header) to `row`, numbered from 1.
fn read(text: &str) -> Result<Vec<(ChunkRow, Option<String>)>, FileError> {
    let mut rows = AccountFileRows::default();
    let mut read = Vec::new();
    let mut first = true;
    let mut lines = (1..).zip(text.split('\n').map(|line| line.trim_end_matches('\r')));
    while let Some((number, text)) = lines.next() {
        if text.trim().is_empty() {
            continue;
        }
        let mut line = Line {
            number,
            text: text.to_owned(),
            cut: false,
        };
        if std::mem::take(&mut first) {
            if rows.header(&line)? {
                continue;
            }
        } else {
            while rows.continues(&line) {
                let Some((_, more)) = lines.next() else {
                    break;
                };
                line.text.push('\n');
                line.text.push_str(more);
            }
        }
        read.push(rows.row(read.len() as u32 + 1, &line));
    }
    Ok(read)
}

fn inputs(rows: &[(ChunkRow, Option<String>)]) -> Vec<Value> {
    rows.iter()
        .map(|(row, _)| row.input::<Value>().unwrap())
        .collect()
}

fn secrets(rows: &[(ChunkRow, Option<String>)]) -> Vec<Option<&str>> {
    rows.iter().map(|(_, secret)| secret.as_deref()).collect()
}

fn bad_header(text: &str) -> String {
    match read(text) {
        Err(FileError::BadHeader { line, reason }) => format!("line {line}: {reason}"),
        other => panic!("expected a bad header, got {other:?}"),
    }
}

/// Accounts in several spellings, with a secret, an uploadIndex, a duplicate.
fn accounts() -> Vec<Value> {
    vec![
        json!({"platformID": "UnixSSH", "SafeName": "Unix", "userName": "root", "address": "h1",
               "secret": "pw-1", "uploadIndex": 10, "secretType": "Password",
               "secretManagement": {"automaticManagementEnabled": false, "manualManagementReason": "by hand"}}),
        json!({"platformId": "WinDomain", "safeName": "Win", "userName": "Smith, \"J\"", "address": "h2",
               "platformAccountProperties": {"LogonDomain": "CORP"},
               "remoteMachinesAccess": {"remoteMachines": "m1;m2", "accessRestrictedToRemoteMachines": true}}),
        json!({"platformId": "UnixSSH", "safeName": "UNIX", "userName": "ROOT", "address": "H1", "secret": "pw-3"}),
    ]
}

#[test]
fn json_lines_rows_are_built_as_a_request_builds_them() {
    let text: String = accounts().iter().map(|a| format!("{a}\n\n")).collect();
    let rows = read(&text).unwrap();
    let upload = parse_upload(json!({"accountsList": accounts()})).unwrap();
    let request: Vec<Value> = upload
        .rows
        .iter()
        .map(|r| r.input::<Value>().unwrap())
        .collect();
    assert_eq!(inputs(&rows), request);
    assert_eq!(secrets(&rows), [Some("pw-1"), None, Some("pw-3")]);
    assert_eq!(
        rows[2].0.input::<Value>().unwrap()["duplicateOf"],
        10,
        "the first one's uploadIndex"
    );
    assert_eq!(
        rows[1].0.input::<Value>().unwrap()["uploadIndex"],
        2,
        "the row number"
    );
}

#[test]
fn csv_rows_read_the_client_columns() {
    let text = "\
\u{feff}uploadIndex,platformId,SAFENAME,userName,address,secret,secretType,platformAccountProperties.LogonDomain,secretManagement.automaticManagementEnabled,secretManagement.manualManagementReason,remoteMachinesAccess.remoteMachines,remoteMachinesAccess.accessRestrictedToRemoteMachines
10,UnixSSH,Unix,root,h1,pw-1,Password,,FALSE,by hand,,\r

,WinDomain,Win,\"Smith, \"\"J\"\"\",h2,,,CORP,,,\"m1;m2\",true
,UnixSSH,UNIX,ROOT,H1,pw-3,,,,,,
";
    let rows = read(text).unwrap();
    let upload = parse_upload(json!({"accountsList": accounts()})).unwrap();
    let request: Vec<Value> = upload
        .rows
        .iter()
        .map(|r| r.input::<Value>().unwrap())
        .collect();
    assert_eq!(inputs(&rows), request);
    assert_eq!(secrets(&rows), [Some("pw-1"), None, Some("pw-3")]);
}

#[test]
fn the_first_line_tells_the_format() {
    let mut rows = AccountFileRows::default();
    let line = |text: &str| Line {
        number: 1,
        text: text.to_owned(),
        cut: false,
    };
    assert!(!rows.header(&line("  {\"safeName\": 1}")).unwrap());
    assert!(
        !rows.header(&line("\u{feff}{}")).unwrap(),
        "JSON after a BOM"
    );
    assert!(rows.header(&line("safeName,platformId")).unwrap());
    assert!(rows
        .header(&line("\"safeName\",\"platform\"\"Id\""))
        .is_err());
    // A first row read as JSON Lines keeps its BOM out of the way.
    let read = read("\u{feff}{\"safeName\": \"s\", \"platformId\": \"p\"}\n").unwrap();
    assert_eq!(
        inputs(&read),
        [json!({"uploadIndex": 1, "account": {"safeName": "s", "platformId": "p"}})]
    );
}

#[test]
fn a_header_that_cannot_head_accounts_fails_the_file() {
    let unknown = bad_header("\n\nsafeName,platfromId\ns,p\n");
    assert!(
        unknown.starts_with(
            "line 3: unknown column \"platfromId\" in the header; the accepted columns are: uploadIndex,"
        ),
        "{unknown}"
    );
    assert_eq!(
        bad_header("safeName,platformId,SafeName\n"),
        "line 1: column 3: safeName appears twice in the header"
    );
    assert_eq!(
        bad_header("safeName,userName\ns,u\n"),
        "line 1: the CSV header has no platformId column, which every account needs"
    );
    assert_eq!(
        bad_header("safeName,\"platformId\nsecret\",x\n"),
        "line 1: a quoted field of the CSV header is not closed on its line"
    );
    assert_eq!(bad_header("\u{feff}\n"), "line 1: the line holds no fields");
    let mut rows = AccountFileRows::default();
    let cut = Line {
        number: 1,
        text: "safeName,platformId,".to_owned(),
        cut: true,
    };
    assert_eq!(
        rows.header(&cut),
        Err(FileError::BadHeader {
            line: 1,
            reason: format!("the CSV header is over {MAX_ROW_BYTES} bytes")
        })
    );
}

/// Each bad line is a row that carries why, with its line; the rows around it are read.
fn assert_rejected(text: &str, expected: &[(usize, &str)]) {
    let rows = read(text).unwrap();
    for (index, (row, secret)) in rows.iter().enumerate() {
        match expected.iter().find(|(at, _)| *at == index) {
            Some((_, reason)) => {
                let wanted = json!({"uploadIndex": index + 1, "rejected": reason});
                assert_eq!(row.input::<Value>().unwrap(), wanted, "row {}", index + 1);
                assert_eq!(*secret, None, "a rejected row stages no secret");
            }
            None => assert!(
                row.input::<Value>().unwrap().get("rejected").is_none(),
                "{}",
                row.input_json()
            ),
        }
    }
}

#[test]
fn bad_json_lines_fail_as_rows() {
    let ok = r#"{"safeName": "s", "platformId": "p"}"#;
    let text = [
        ok,
        r#"{"safeName": "s", "platformId": "p", "secret": "pw-2",}"#,
        r#"["s", "p"]"#,
        r#"{"safeName": 7, "platformId": "p", "secret": "pw-4"}"#,
        r#"{"platformId": "p"}"#,
        r#"{"safeName": "s", "platformId": "p", "uploadIndex": 1.5}"#,
        r#"{"safeName": "s", "platformId": "p", "secretManagement": {"automaticManagementEnabled": "no"}}"#,
        r#"{"safeName": "s", "platformId": "p", "SafeName": "t"}"#,
        "safeName,platformId",
        ok,
    ]
    .join("\n");
    assert_rejected(
        &text,
        &[
            (1, "line 2: malformed JSON at column 55: trailing comma"),
            (
                2,
                "line 3: the line is not a JSON object (one account a line)",
            ),
            (3, "line 4: safeName must be a string"),
            (4, "line 5: safeName is required"),
            (5, "line 6: uploadIndex must be a 32-bit integer"),
            (
                6,
                "line 7: secretManagement.automaticManagementEnabled must be a boolean",
            ),
            (
                7,
                "line 8: SafeName is given twice (also as safeName); give safeName once",
            ),
            (8, "line 9: malformed JSON at column 1: expected value"),
        ],
    );
}

#[test]
fn bad_csv_lines_fail_as_rows() {
    let text = "\
safeName,platformId,secret,secretManagement.automaticManagementEnabled,uploadIndex
s,p,pw-1,true,
s,p,pw-2
s,p,\"pw-3,true,
more,field\"
s,p,pw-5,true,
s,p,,hunter2,
s,p,pw-7,,x
s,,pw-8,,
\"s\"x,p,,,
";
    assert_rejected(
        text,
        &[
            (1, "line 3: found 3 fields, but the header has 5"),
            // A record over two lines, one row, reported at its first line.
            (2, "line 4: found 3 fields, but the header has 5"),
            (
                4,
                "line 7: column 4 (secretManagement.automaticManagementEnabled): expected true or false",
            ),
            (5, "line 8: column 5 (uploadIndex): expected an integer"),
            (6, "line 9: platformId is required"),
        ],
    );
    // Lenient quoting, as the client reads it: `"s"x` is `sx`.
    let rows = read(text).unwrap();
    assert_eq!(
        rows[7].0.input::<Value>().unwrap()["account"]["safeName"],
        "sx"
    );
    assert_eq!(rows[3].1.as_deref(), Some("pw-5"), "the reader carried on");
}

#[test]
fn a_cut_line_fails_as_a_row() {
    let mut rows = AccountFileRows::default();
    let cut = Line {
        number: 4,
        text: r#"{"safeName": "s", "platformId": "p", "secret": "pw"#.to_owned(),
        cut: true,
    };
    let (row, secret) = rows.row(3, &cut);
    let reason = format!("line 4: the line is over {MAX_ROW_BYTES} bytes, the most a row may hold");
    assert_eq!(
        row.input::<Value>().unwrap(),
        json!({"uploadIndex": 3, "rejected": reason})
    );
    assert_eq!(secret, None);
}

#[test]
fn duplicates_point_at_the_first_occurrence() {
    let text = "\
safeName,platformId,userName,address,uploadIndex
Unix,p,root,h1,100
Unix,p,other,h1,
unix,q,ROOT,H1,
Unix,p,root,,
bad line
Unix,p,root,,300
";
    let rows = read(text).unwrap();
    let duplicate_of: Vec<Value> = inputs(&rows)
        .iter()
        .map(|input| input.get("duplicateOf").cloned().unwrap_or(Value::Null))
        .collect();
    assert_eq!(
        duplicate_of,
        [
            Value::Null,
            Value::Null,
            json!(100),
            Value::Null,
            Value::Null,
            json!(4)
        ]
    );
}

#[test]
fn secrets_never_reach_a_row_input() {
    // The last line is misaligned: its secret falls into the boolean column.
    let csv = "\
safeName,platformId,secret,secretManagement.automaticManagementEnabled
s,p,secret-1,true
s,p,,secret-2
";
    let json = r#"{"safeName": "s", "platformId": "p", "Secret": "secret-3"}
{"safeName": "s", "platformId": 1, "secret": "secret-4"}
{"safeName": "s", "platformId": "p", "secret": "secret-5",
"#;
    for text in [csv, json] {
        let rows = read(text).unwrap();
        let written = serde_json::to_string(&inputs(&rows)).unwrap();
        assert!(!written.contains("secret-"), "{written}");
        assert!(secrets(&rows)[0].is_some_and(|s| s.starts_with("secret-")));
        assert!(secrets(&rows)[1..].iter().all(Option::is_none));
    }
}

#[test]
fn a_quoted_field_may_span_lines() {
    // A key as spreadsheet tools write it: quoted, over lines (CRLF or not), a blank one too.
    let text = "safeName,platformId,userName,secret\r\n\
s,p,u1,\"-----BEGIN KEY-----\r\nAAAA\r\n\r\n\"\"BBBB\"\", CCCC\n-----END KEY-----\"\r\n\
s,p,u2,pw-2\n\
s,p,\"u\n3\",pw-3\n\
s,p,u4,\"open to the end\nof the file,\n";
    let rows = read(text).unwrap();
    assert_eq!(
        secrets(&rows),
        [
            Some("-----BEGIN KEY-----\nAAAA\n\n\"BBBB\", CCCC\n-----END KEY-----"),
            Some("pw-2"),
            Some("pw-3"),
            None
        ]
    );
    let inputs = inputs(&rows);
    assert_eq!(inputs[1]["uploadIndex"], 2, "a record is one row");
    assert_eq!(inputs[2]["account"]["userName"], "u\n3");
    assert_eq!(
        inputs[3]["rejected"],
        "line 10: a quoted field is not closed before the end of the file"
    );
}

#[test]
fn quotes_open_a_field_only_at_its_start() {
    for (text, open) in [
        ("a,b", false),
        ("a,\"b", true),
        ("a,\"b\"", false),
        ("a,\"b\"\"", true),
        ("a,\"b\"\"\"", false),
        ("a,\"b,c\nd\"", false),
        ("a,b\"c", false),
        ("\"a\"x\"", false),
        ("\"", true),
        ("a,\"\"", false),
        ("a,\"b\nc", true),
        ("a,\"b\"\n\"c", true),
    ] {
        assert_eq!(ends_in_quotes(text), open, "{text:?}");
    }
}
