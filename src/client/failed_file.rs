//! Writing the failed rows back in the input's own shape, so the operator can fix and
//! resubmit the file as it is (secrets included: they were the operator's to begin with).

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use serde_json::Value;

use super::input::{Input, Shape};

/// `<stem>.failed.<ext>` next to the input.
pub fn default_path(input: &Path) -> PathBuf {
    let stem = input
        .file_stem()
        .map_or_else(|| "input".into(), |s| s.to_string_lossy());
    let name = match input.extension() {
        Some(extension) => format!("{stem}.failed.{}", extension.to_string_lossy()),
        None => format!("{stem}.failed"),
    };
    input.with_file_name(name)
}

/// The rows at `indexes` (0-based, in the order given) as a file shaped like the input.
pub fn render(input: &Input, indexes: &[usize]) -> anyhow::Result<Vec<u8>> {
    let rows = indexes
        .iter()
        .map(|&i| {
            input
                .rows
                .get(i)
                .ok_or_else(|| anyhow!("row index {i} is outside the input"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let payloads = || Value::Array(rows.iter().map(|row| row.payload.clone()).collect());
    let mut bytes = match &input.shape {
        Shape::JsonObject { object, list_key } => {
            let mut object = object.clone();
            // The key is already there (as null), so it keeps its position.
            object.insert((*list_key).to_owned(), payloads());
            serde_json::to_vec_pretty(&object)?
        }
        Shape::JsonArray => serde_json::to_vec_pretty(&payloads())?,
        Shape::Csv { header } => {
            let mut writer = csv::Writer::from_writer(Vec::new());
            if let Some(header) = header {
                writer.write_record(header)?;
            }
            for (row, &index) in rows.iter().zip(indexes) {
                let cells = row
                    .cells
                    .as_ref()
                    .ok_or_else(|| anyhow!("row {} has no CSV cells", index + 1))?;
                writer.write_record(cells)?;
            }
            writer
                .into_inner()
                .map_err(|e| anyhow!("writing CSV: {}", e.error()))?
        }
    };
    if !bytes.ends_with(b"\n") {
        bytes.push(b'\n');
    }
    Ok(bytes)
}

/// Writes the rows at `indexes` to `path`.
pub fn write(path: &Path, input: &Input, indexes: &[usize]) -> anyhow::Result<()> {
    let bytes = render(input, indexes)?;
    std::fs::write(path, bytes)
        .with_context(|| format!("writing failed rows to {}", path.display()))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::client::input::parse_input;

    /// Writes rows `indexes` of `text` and parses the result again.
    fn round_trip(name: &str, text: &str, indexes: &[usize]) -> (Input, Input, String) {
        let input = parse_input(Path::new(name), text, None).unwrap();
        let written = String::from_utf8(render(&input, indexes).unwrap()).unwrap();
        let again = parse_input(Path::new(name), &written, None).unwrap();
        (input, again, written)
    }

    /// The re-read file has exactly the chosen rows, in the same shape.
    fn assert_same_rows(input: &Input, again: &Input, indexes: &[usize]) {
        let chosen: Vec<_> = indexes.iter().map(|&i| input.rows[i].clone()).collect();
        assert_eq!(again.api, input.api);
        assert_eq!(again.shape, input.shape);
        assert_eq!(again.source, input.source);
        assert_eq!(
            again.rows.iter().map(|r| &r.payload).collect::<Vec<_>>(),
            chosen.iter().map(|r| &r.payload).collect::<Vec<_>>()
        );
        assert_eq!(
            again
                .rows
                .iter()
                .map(|r| r.cells.as_ref().map(|c| c.iter().collect::<Vec<_>>()))
                .collect::<Vec<_>>(),
            chosen
                .iter()
                .map(|r| r.cells.as_ref().map(|c| c.iter().collect::<Vec<_>>()))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn json_ids_object_keeps_its_other_keys_in_place() {
        let text = r#"{"note": "batch 1", "ids": ["YQ", "Yg", "Yw"], "after": true}"#;
        let (input, again, written) = round_trip("in.json", text, &[0, 2]);
        assert_same_rows(&input, &again, &[0, 2]);
        let keys: Vec<_> = serde_json::from_str::<serde_json::Map<String, Value>>(&written)
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(keys, ["note", "ids", "after"]);
    }

    #[test]
    fn json_accounts_object_keeps_source_and_secrets() {
        let text = r#"{"source": "hr.csv", "accountsList": [
            {"safeName": "s", "platformId": "p", "secret": "one"},
            {"safeName": "s", "platformId": "p", "secret": "two", "uploadIndex": 9}]}"#;
        let (input, again, written) = round_trip("in.json", text, &[1]);
        assert_same_rows(&input, &again, &[1]);
        assert!(written.contains("\"two\""));
        assert!(!written.contains("\"one\""));
    }

    #[test]
    fn bare_json_arrays_stay_bare() {
        let (input, again, _) = round_trip("in.json", r#"["YQ", "Yg"]"#, &[1]);
        assert_same_rows(&input, &again, &[1]);
        let (input, again, _) =
            round_trip("in.json", r#"[{"safeName": "a"}, {"safeName": "b"}]"#, &[0]);
        assert_same_rows(&input, &again, &[0]);
    }

    #[test]
    fn csv_ids_keep_their_header_or_its_absence() {
        let (input, again, written) = round_trip("ids.csv", "ID\nYQ\nYg\nYw\n", &[0, 2]);
        assert_same_rows(&input, &again, &[0, 2]);
        assert_eq!(written, "ID\nYQ\nYw\n");
        let (input, again, written) = round_trip("ids.csv", "YQ\nYg\n", &[1]);
        assert_same_rows(&input, &again, &[1]);
        assert_eq!(written, "Yg\n");
    }

    #[test]
    fn csv_accounts_keep_header_and_original_cells() {
        let text =
            "safeName,platformId,userName,secret,secretManagement.automaticManagementEnabled\n\
                    Ops,Unix,\"Smith, J\",s1,TRUE\n\
                    Ops,Unix,root,\"a\"\"b\",\n";
        let (input, again, written) = round_trip("a.csv", text, &[0, 1]);
        assert_same_rows(&input, &again, &[0, 1]);
        // Original cells, not the parsed values: TRUE stays TRUE, the empty cell stays empty.
        assert!(written.contains(",TRUE\n"), "{written}");
        assert!(written.contains("\"a\"\"b\",\n"), "{written}");
    }

    #[test]
    fn default_path_sits_next_to_the_input() {
        assert_eq!(
            default_path(Path::new("/data/in.csv")),
            Path::new("/data/in.failed.csv")
        );
        assert_eq!(
            default_path(Path::new("x.tar.json")),
            Path::new("x.tar.failed.json")
        );
        assert_eq!(default_path(Path::new("ids")), Path::new("ids.failed"));
    }

    #[test]
    fn an_index_outside_the_input_is_an_error() {
        let input = parse_input(Path::new("ids.csv"), "YQ\n", None).unwrap();
        assert!(render(&input, &[1]).is_err());
    }
}
