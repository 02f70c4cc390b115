//! Reading the events log from a byte offset, complete lines only: a line without its newline
//! is an append in progress (or the remains of a crash, cut off when the server opens the log
//! again), never an event. Used by webhook delivery and by `bulkops events`.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

/// One complete line of the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// The line without its newline: the envelope JSON exactly as written.
    pub text: String,
    /// The byte offset just past the line's newline (where the next line starts).
    pub end: u64,
}

impl LogLine {
    /// The event id (the envelope's `id`), if the line has one.
    pub fn id(&self) -> Option<String> {
        let value: Value = serde_json::from_str(&self.text).ok()?;
        value["id"].as_str().map(str::to_owned)
    }
}

/// Up to `max` complete lines of `path` starting at byte `from` and ending at or before byte
/// `limit`. A missing file reads as empty.
pub fn read_lines(path: &Path, from: u64, limit: u64, max: usize) -> std::io::Result<Vec<LogLine>> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    if limit <= from {
        return Ok(Vec::new());
    }
    file.seek(SeekFrom::Start(from))?;
    let mut reader = BufReader::new(file.take(limit - from));
    let (mut lines, mut end, mut buffer) = (Vec::new(), from, Vec::new());
    while lines.len() < max {
        buffer.clear();
        let read = reader.read_until(b'\n', &mut buffer)?;
        if read == 0 || buffer.last() != Some(&b'\n') {
            break;
        }
        end += read as u64;
        buffer.pop();
        let text = String::from_utf8(std::mem::take(&mut buffer)).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("line ending at byte {end} is not UTF-8: {e}"),
            )
        })?;
        lines.push(LogLine { text, end });
    }
    Ok(lines)
}

/// What `bulkops events` prints.
#[derive(Clone, Debug, Default)]
pub struct PrintOptions {
    /// Only the events of this job (event ids are `<job id>:<KIND>`).
    pub job: Option<String>,
    /// Keep printing new lines until interrupted.
    pub follow: bool,
    /// How often to look for new lines when following.
    pub poll: Duration,
}

/// Whether `line` is an event of `job`.
fn of_job(line: &LogLine, job: &str) -> bool {
    line.id()
        .and_then(|id| id.rsplit_once(':').map(|(job_id, _)| job_id == job))
        .unwrap_or(false)
}

/// Prints the log's lines to `out`; with `follow`, keeps printing new ones until `stop`
/// resolves. Reads only the file: the server owns the store.
pub async fn print_events(
    path: &Path,
    options: &PrintOptions,
    out: &mut (dyn Write + Send),
    stop: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    tokio::pin!(stop);
    let mut from = 0u64;
    loop {
        let len = match std::fs::metadata(path) {
            Ok(meta) => meta.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e),
        };
        if len < from {
            // Shorter than what was printed: the file was replaced. Start over on the new one.
            eprintln!("{} was replaced; reading it from the start", path.display());
            from = 0;
        }
        let lines = read_lines(path, from, len, 1_000)?;
        for line in &lines {
            if options.job.as_deref().is_none_or(|job| of_job(line, job)) {
                writeln!(out, "{}", line.text)?;
            }
        }
        out.flush()?;
        match lines.last() {
            Some(last) => from = last.end,
            None if !options.follow => return Ok(()),
            None => {
                tokio::select! {
                    _ = &mut stop => return Ok(()),
                    _ = tokio::time::sleep(options.poll) => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_complete_lines_are_read() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("events.jsonl");
        std::fs::write(&path, "{\"id\":\"a:CREATED\"}\n{\"id\":\"a:PRO").expect("write");
        let lines = read_lines(&path, 0, u64::MAX, 10).expect("read");
        assert_eq!(
            lines,
            vec![LogLine {
                text: "{\"id\":\"a:CREATED\"}".to_owned(),
                end: 19
            }]
        );
        assert_eq!(lines[0].id().as_deref(), Some("a:CREATED"));
        assert!(read_lines(&path, 19, u64::MAX, 10)
            .expect("read")
            .is_empty());
        // A limit inside a line stops before it.
        assert!(read_lines(&path, 0, 18, 10).expect("read").is_empty());
    }

    #[test]
    fn a_missing_log_reads_as_empty() {
        let dir = tempfile::tempdir().expect("temp dir");
        let lines = read_lines(&dir.path().join("none.jsonl"), 0, u64::MAX, 10).expect("read");
        assert!(lines.is_empty());
    }

    #[tokio::test]
    async fn printing_filters_by_job() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("events.jsonl");
        let text = "{\"id\":\"j1:CREATED\"}\n{\"id\":\"j2:CREATED\"}\n{\"id\":\"j1:COMPLETED\"}\n";
        std::fs::write(&path, text).expect("write");
        let mut out = Vec::new();
        let options = PrintOptions {
            job: Some("j1".to_owned()),
            ..PrintOptions::default()
        };
        print_events(&path, &options, &mut out, std::future::pending())
            .await
            .expect("print");
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            "{\"id\":\"j1:CREATED\"}\n{\"id\":\"j1:COMPLETED\"}\n"
        );
    }
}
