//! Writing the failed (and skipped) rows back in the input's own shape, so the operator can
//! fix and resubmit the file as it is. Secrets are included (they were the operator's to
//! begin with), so such a file is readable by its owner only. The path is checked before
//! anything is sent, the file is replaced atomically, and a stale one from an earlier run is
//! removed after a clean run.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::input::{Input, Shape};

/// A failed-rows file that cannot be used or written.
#[derive(Debug, thiserror::Error)]
pub enum FailedFileError {
    /// Found before anything is sent.
    #[error("--failed {}: {reason}", path.display())]
    Unusable { path: PathBuf, reason: String },
    #[error("writing the failed rows to {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("writing the failed rows: {0}")]
    Render(String),
}

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

/// A failed-rows path that was checked: not the input, not a directory, in a directory
/// where a file can be created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedTarget {
    path: PathBuf,
}

/// What became of the failed-rows file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailedFile {
    /// Written with this many rows; `private` when it holds secrets (mode 0600).
    Written {
        path: PathBuf,
        rows: usize,
        private: bool,
    },
    /// No row failed, and a file left by an earlier run was removed.
    RemovedStale(PathBuf),
    /// No row failed, and there was nothing to remove.
    None,
}

impl FailedTarget {
    /// `--failed`, or the default next to `input`; checked before anything is sent.
    pub fn check(failed: Option<&Path>, input: &Path) -> Result<Self, FailedFileError> {
        let path = failed.map_or_else(|| default_path(input), Path::to_path_buf);
        let unusable = |reason: String| FailedFileError::Unusable {
            path: path.clone(),
            reason,
        };
        let same = match (path.canonicalize(), input.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => path == input,
        };
        if same {
            return Err(unusable(
                "is the input file itself; choose another path".into(),
            ));
        }
        if path.is_dir() {
            return Err(unusable("is a directory; give a file path".into()));
        }
        let dir = directory_of(&path);
        if !dir.is_dir() {
            return Err(unusable(format!("{} is not a directory", dir.display())));
        }
        // The only sure test of writing there is to write there.
        tempfile::Builder::new()
            .prefix(".bulkops-check-")
            .tempfile_in(&dir)
            .map_err(|e| unusable(format!("cannot create a file in {}: {e}", dir.display())))?;
        Ok(Self { path })
    }

    #[cfg(test)]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes the rows at `indexes`, or with none removes a stale file.
    pub fn settle(&self, input: &Input, indexes: &[usize]) -> Result<FailedFile, FailedFileError> {
        if indexes.is_empty() {
            return match std::fs::remove_file(&self.path) {
                Ok(()) => Ok(FailedFile::RemovedStale(self.path.clone())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FailedFile::None),
                Err(source) => Err(self.write_error(source)),
            };
        }
        let private = input.has_secrets(indexes);
        self.replace(&render(input, indexes)?, private)?;
        Ok(FailedFile::Written {
            path: self.path.clone(),
            rows: indexes.len(),
            private,
        })
    }

    /// Writes a temporary file beside the target (created 0600) and renames it over the
    /// target: a reader sees the old file or the new one, never half of one.
    fn replace(&self, bytes: &[u8], private: bool) -> Result<(), FailedFileError> {
        let mut file = tempfile::Builder::new()
            .prefix(".bulkops-failed-")
            .tempfile_in(directory_of(&self.path))
            .map_err(|e| self.write_error(e))?;
        file.write_all(bytes).map_err(|e| self.write_error(e))?;
        file.as_file().sync_all().map_err(|e| self.write_error(e))?;
        #[cfg(unix)]
        if !private {
            use std::os::unix::fs::PermissionsExt;
            let public = std::fs::Permissions::from_mode(0o644);
            file.as_file()
                .set_permissions(public)
                .map_err(|e| self.write_error(e))?;
        }
        #[cfg(not(unix))]
        let _ = private;
        file.persist(&self.path)
            .map_err(|e| self.write_error(e.error))?;
        Ok(())
    }

    fn write_error(&self, source: std::io::Error) -> FailedFileError {
        FailedFileError::Write {
            path: self.path.clone(),
            source,
        }
    }
}

/// The directory a path is in (`.` for a bare file name).
fn directory_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The rows at `indexes` (0-based, in the order given) as a file shaped like the input.
pub fn render(input: &Input, indexes: &[usize]) -> Result<Vec<u8>, FailedFileError> {
    let render = |e: String| FailedFileError::Render(e);
    let rows = indexes
        .iter()
        .map(|&i| {
            input
                .rows
                .get(i)
                .ok_or_else(|| render(format!("row index {i} is outside the input")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let payloads = || Value::Array(rows.iter().map(|row| row.payload.clone()).collect());
    let json = |e: serde_json::Error| render(e.to_string());
    let mut bytes = match &input.shape {
        Shape::JsonObject { object, list_key } => {
            let mut object = object.clone();
            // The key is already there (as null), so it keeps its position.
            object.insert((*list_key).to_owned(), payloads());
            serde_json::to_vec_pretty(&object).map_err(json)?
        }
        Shape::JsonArray => serde_json::to_vec_pretty(&payloads()).map_err(json)?,
        Shape::Csv { header } => {
            let csv = |e: csv::Error| render(format!("CSV: {e}"));
            let mut writer = csv::Writer::from_writer(Vec::new());
            if let Some(header) = header {
                writer.write_record(header).map_err(csv)?;
            }
            for (row, &index) in rows.iter().zip(indexes) {
                let cells = row
                    .cells
                    .as_ref()
                    .ok_or_else(|| render(format!("row {} has no CSV cells", index + 1)))?;
                writer.write_record(cells).map_err(csv)?;
            }
            writer
                .into_inner()
                .map_err(|e| render(format!("CSV: {}", e.error())))?
        }
    };
    if !bytes.ends_with(b"\n") {
        bytes.push(b'\n');
    }
    Ok(bytes)
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
        let (input, again, _) = round_trip(
            "in.json",
            r#"[{"safeName": "a", "platformId": "p"}, {"safeName": "b", "platformId": "p"}]"#,
            &[0],
        );
        assert_same_rows(&input, &again, &[0]);
    }

    #[test]
    fn csv_ids_keep_their_header_or_its_absence() {
        let (input, again, written) = round_trip("ids.csv", "ID\nYQ\nYg\nYw\n", &[0, 2]);
        assert_same_rows(&input, &again, &[0, 2]);
        assert_eq!(written, "ID\nYQ\nYw\n");
        let (one, two) = (
            crate::local::demo::enrollment_id(1),
            crate::local::demo::enrollment_id(2),
        );
        let (input, again, written) = round_trip("ids.csv", &format!("{one}\n{two}\n"), &[1]);
        assert_same_rows(&input, &again, &[1]);
        assert_eq!(written, format!("{two}\n"));
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

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[cfg(unix)]
    #[test]
    fn secrets_are_written_0600_others_0644_and_a_clean_run_removes_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let input_path = dir.path().join("a.json");
        std::fs::write(&input_path, "[]").unwrap();
        let target = FailedTarget::check(None, &input_path).unwrap();
        assert_eq!(target.path(), dir.path().join("a.failed.json"));

        let text = r#"[{"safeName": "s", "platformId": "p"}, {"safeName": "s", "platformId": "p", "secret": "pw"}]"#;
        let accounts = parse_input(Path::new("a.json"), text, None).unwrap();
        let written = target.settle(&accounts, &[1]).unwrap();
        assert!(matches!(
            written,
            FailedFile::Written {
                rows: 1,
                private: true,
                ..
            }
        ));
        assert_eq!(mode(target.path()), 0o600);
        // Replaced by a file without secrets: the mode follows the content.
        target.settle(&accounts, &[0]).unwrap();
        assert_eq!(mode(target.path()), 0o644);
        assert!(!std::fs::read_to_string(target.path())
            .unwrap()
            .contains("pw"));

        assert_eq!(
            target.settle(&accounts, &[]).unwrap(),
            FailedFile::RemovedStale(target.path().to_path_buf())
        );
        assert!(!target.path().exists());
        assert_eq!(target.settle(&accounts, &[]).unwrap(), FailedFile::None);
        // Nothing else was left in the directory (no temporary files).
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["a.json"]);
    }

    #[test]
    fn the_path_is_checked_before_anything_is_sent() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("ids.csv");
        std::fs::write(&input, "id\n").unwrap();
        let message = |failed: &Path| {
            FailedTarget::check(Some(failed), &input)
                .unwrap_err()
                .to_string()
        };
        assert!(message(&dir.path().join(".").join("ids.csv")).contains("is the input file itself"));
        assert!(message(dir.path()).contains("is a directory"));
        assert!(message(&dir.path().join("missing/f.csv")).contains("is not a directory"));
    }

    #[test]
    fn an_index_outside_the_input_is_an_error() {
        let input = parse_input(Path::new("ids.csv"), "id\nYQ\n", None).unwrap();
        assert!(render(&input, &[1]).is_err());
    }
}
