//! How far a webhook URL has acknowledged the events log: `<data-dir>/webhooks/<sha256 of the
//! URL>.cursor`, replaced atomically after each acknowledged event, so a restart resumes
//! after the last event the URL answered 2xx to (none lost, none acknowledged twice).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::log_reader::{read_lines, LogLine};

/// The cursors' directory inside the data directory.
pub const CURSOR_DIR: &str = "webhooks";

#[derive(Debug, thiserror::Error)]
pub enum CursorError {
    #[error("webhook cursor {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("webhook cursor {path} is not a cursor ({source}); delete it to deliver the whole log again")]
    Malformed {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(
        "webhook cursor {path} does not match the events log (was events.jsonl replaced?); \
         delete the cursor to deliver the whole log again"
    )]
    Mismatch { path: PathBuf },
}

/// The position after the last acknowledged event.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cursor {
    /// Byte offset in the log just past the last acknowledged line.
    pub offset: u64,
    /// Where that line starts, and its event id: to check the cursor against the log.
    pub last_start: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_id: Option<String>,
    /// Events acknowledged so far.
    pub delivered: u64,
}

impl Cursor {
    /// The cursor of the URL `url` in `data_dir`.
    pub fn path(data_dir: &Path, url: &str) -> PathBuf {
        let digest = Sha256::digest(url.as_bytes());
        let name: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        data_dir.join(CURSOR_DIR).join(format!("{name}.cursor"))
    }

    /// The saved cursor, or the start of the log when there is none yet.
    pub fn load(path: &Path) -> Result<Self, CursorError> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| CursorError::Malformed {
                path: path.to_owned(),
                source,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(CursorError::Io {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Checks that the cursor ends a line of `log` (no longer than `len`) with its event:
    /// resuming from anywhere else would skip or repeat events.
    pub fn check(&self, path: &Path, log: &Path, len: u64) -> Result<(), CursorError> {
        if self.offset == 0 {
            return Ok(());
        }
        let mismatch = || CursorError::Mismatch {
            path: path.to_owned(),
        };
        if self.offset > len || self.last_start >= self.offset {
            return Err(mismatch());
        }
        let lines =
            read_lines(log, self.last_start, self.offset, 1).map_err(|source| CursorError::Io {
                path: log.to_owned(),
                source,
            })?;
        match lines.first() {
            Some(line) if line.end == self.offset && line.id() == self.last_id => Ok(()),
            _ => Err(mismatch()),
        }
    }

    /// The cursor after `line` (which started at `self.offset`) was acknowledged.
    pub fn after(&self, line: &LogLine) -> Self {
        Self {
            offset: line.end,
            last_start: self.offset,
            last_id: line.id(),
            delivered: self.delivered + 1,
        }
    }

    /// Writes the cursor to `path` through a temporary file and a rename, synced, so that a
    /// crash leaves either the old cursor or the new one.
    pub fn save(&self, path: &Path) -> Result<(), CursorError> {
        let io = |source| CursorError::Io {
            path: path.to_owned(),
            source,
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io)?;
        let temporary = path.with_extension("cursor.tmp");
        let bytes = serde_json::to_vec(self).map_err(|e| io(std::io::Error::other(e)))?;
        let mut file = File::create(&temporary).map_err(io)?;
        file.write_all(&bytes).map_err(io)?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&temporary, path).map_err(io)?;
        #[cfg(unix)]
        File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_is_saved_loaded_and_checked_against_the_log() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("events.jsonl");
        std::fs::write(&log, "{\"id\":\"a:CREATED\"}\n{\"id\":\"a:PROCESSING\"}\n").expect("log");
        let path = Cursor::path(dir.path(), "http://127.0.0.1:9/hook");
        assert_eq!(Cursor::load(&path).expect("none yet"), Cursor::default());

        let lines = read_lines(&log, 0, u64::MAX, 10).expect("lines");
        let cursor = Cursor::default().after(&lines[0]).after(&lines[1]);
        assert_eq!(cursor.delivered, 2);
        cursor.save(&path).expect("save");
        let loaded = Cursor::load(&path).expect("load");
        assert_eq!(loaded, cursor);
        let len = std::fs::metadata(&log).expect("log").len();
        loaded.check(&path, &log, len).expect("matches the log");

        // Another log of the same length, or a shorter one, does not match.
        std::fs::write(&log, "{\"id\":\"b:CREATED\"}\n{\"id\":\"b:PROCESSING\"}\n").expect("log");
        assert!(matches!(
            loaded.check(&path, &log, len),
            Err(CursorError::Mismatch { .. })
        ));
        assert!(matches!(
            loaded.check(&path, &log, lines[0].end),
            Err(CursorError::Mismatch { .. })
        ));
        std::fs::write(&path, "not json").expect("garbage");
        assert!(matches!(
            Cursor::load(&path),
            Err(CursorError::Malformed { .. })
        ));
    }

    #[test]
    fn each_url_has_its_own_cursor() {
        let dir = Path::new("/data");
        let a = Cursor::path(dir, "http://127.0.0.1:9000/a");
        let b = Cursor::path(dir, "http://127.0.0.1:9000/b");
        assert_ne!(a, b);
        assert_eq!(a.parent(), Some(dir.join(CURSOR_DIR).as_path()));
        let name = a.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        assert_eq!(name.len(), 64 + ".cursor".len());
    }
}
