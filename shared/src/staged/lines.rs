//! The lines of a staged file, read as a stream: one line in memory at a time, however large
//! the file. A line longer than a row may be is cut (and its row fails, with the reason); a
//! file that is not text (a NUL byte, or not UTF-8) is refused as a whole.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use crate::chunking::MAX_ROW_BYTES;

/// Why a file cannot be read as rows at all.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FileError {
    #[error("line {line} is not UTF-8 text: the file must be CSV or JSON Lines")]
    NotText { line: u64 },
    #[error("the file holds no rows")]
    Empty,
    #[error("the file is over {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the file holds more than {limit} rows")]
    TooManyRows { limit: u32 },
    #[error("the file could not be read: {0}")]
    Read(String),
    /// The first line is not a header the operation can read rows under.
    #[error("line {line}: {reason}")]
    BadHeader { line: u64, reason: String },
}

/// One line of the file: its 1-based line number and its text, without the line break.
#[derive(Debug, PartialEq, Eq)]
pub struct Line {
    pub number: u64,
    pub text: String,
    /// The line was longer than [`MAX_ROW_BYTES`] and `text` holds only its start.
    pub cut: bool,
}

/// Reads `reader` line by line, skipping blank lines, refusing a file over `limit` bytes.
pub struct Lines<R> {
    reader: R,
    number: u64,
    read: u64,
    limit: u64,
    buffer: Vec<u8>,
}

impl<R: AsyncBufRead + Unpin> Lines<R> {
    pub fn new(reader: R, limit: u64) -> Self {
        Self {
            reader,
            number: 0,
            read: 0,
            limit,
            buffer: Vec::new(),
        }
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.read
    }

    /// The next non-blank line, or `None` at the end of the file.
    pub async fn next_line(&mut self) -> Result<Option<Line>, FileError> {
        loop {
            match self.next_any_line().await? {
                Some(line) if line.text.trim().is_empty() => continue,
                found => return Ok(found),
            }
        }
    }

    /// Appends the next line, blank or not, to `record` after a line break: a record that
    /// goes on past its first line (a CSV field quoted across a line break). Past
    /// [`MAX_ROW_BYTES`] the record is cut. False at the end of the file.
    pub async fn continue_record(&mut self, record: &mut Line) -> Result<bool, FileError> {
        let Some(next) = self.next_any_line().await? else {
            return Ok(false);
        };
        record.text.push('\n');
        record.text.push_str(&next.text);
        record.cut |= next.cut;
        if record.text.len() > MAX_ROW_BYTES {
            let mut end = MAX_ROW_BYTES;
            while !record.text.is_char_boundary(end) {
                end -= 1;
            }
            record.text.truncate(end);
            record.cut = true;
        }
        Ok(true)
    }

    /// The next line, blank or not, or `None` at the end of the file.
    async fn next_any_line(&mut self) -> Result<Option<Line>, FileError> {
        let Some(cut) = self.read_line().await? else {
            return Ok(None);
        };
        self.number += 1;
        let mut bytes = std::mem::take(&mut self.buffer);
        while matches!(bytes.last(), Some(b'\n' | b'\r')) {
            bytes.pop();
        }
        let text = match String::from_utf8(bytes) {
            Ok(text) if !text.contains('\0') => text,
            // A cut may split a character: only a whole line must be valid UTF-8.
            Err(error) if cut && error.utf8_error().error_len().is_none() => {
                let valid = error.utf8_error().valid_up_to();
                let mut bytes = error.into_bytes();
                bytes.truncate(valid);
                String::from_utf8(bytes).map_err(|_| FileError::NotText { line: self.number })?
            }
            _ => return Err(FileError::NotText { line: self.number }),
        };
        Ok(Some(Line {
            number: self.number,
            text,
            cut,
        }))
    }

    /// Reads one line into `buffer`, keeping at most [`MAX_ROW_BYTES`] of it (the rest is
    /// read and dropped); `None` at the end, else whether the line was cut.
    async fn read_line(&mut self) -> Result<Option<bool>, FileError> {
        self.buffer.clear();
        let mut cut = false;
        let mut any = false;
        loop {
            let available = self
                .reader
                .fill_buf()
                .await
                .map_err(|e| FileError::Read(e.to_string()))?;
            if available.is_empty() {
                return Ok(any.then_some(cut));
            }
            any = true;
            let (taken, done) = match available.iter().position(|b| *b == b'\n') {
                Some(end) => (end + 1, true),
                None => (available.len(), false),
            };
            let room = MAX_ROW_BYTES.saturating_sub(self.buffer.len());
            if taken > room {
                cut = true;
            }
            self.buffer.extend_from_slice(&available[..taken.min(room)]);
            self.reader.consume(taken);
            self.read += taken as u64;
            if self.read > self.limit {
                return Err(FileError::TooLarge { limit: self.limit });
            }
            if done {
                return Ok(Some(cut));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn all(bytes: &[u8], limit: u64) -> Result<Vec<Line>, FileError> {
        let mut lines = Lines::new(bytes, limit);
        let mut found = Vec::new();
        while let Some(line) = lines.next_line().await? {
            found.push(line);
        }
        Ok(found)
    }

    fn line(number: u64, text: &str) -> Line {
        Line {
            number,
            text: text.to_owned(),
            cut: false,
        }
    }

    #[tokio::test]
    async fn lines_keep_their_numbers_and_skip_blank_ones() {
        let found = all(b"a\r\n\n  \nb\nc", 100).await.unwrap();
        assert_eq!(found, [line(1, "a"), line(4, "b"), line(5, "c")]);
        assert_eq!(all(b"", 100).await.unwrap(), []);
    }

    #[tokio::test]
    async fn a_file_that_is_not_text_is_refused() {
        assert_eq!(
            all(b"ok\nbin\0ary\n", 100).await,
            Err(FileError::NotText { line: 2 })
        );
        assert_eq!(
            all(b"ok\n\xff\xfe\n", 100).await,
            Err(FileError::NotText { line: 2 })
        );
        assert_eq!(
            all(b"0123456789\n0123456789\n", 15).await,
            Err(FileError::TooLarge { limit: 15 })
        );
    }

    #[tokio::test]
    async fn a_record_goes_on_over_the_next_lines_blank_ones_too() {
        let text = "a,\"b\r\n\r\nc\"\nnext\n";
        let mut lines = Lines::new(text.as_bytes(), 100);
        let mut record = lines.next_line().await.unwrap().unwrap();
        assert!(lines.continue_record(&mut record).await.unwrap());
        assert!(lines.continue_record(&mut record).await.unwrap());
        assert_eq!(record, line(1, "a,\"b\n\nc\""), "its first line's number");
        assert_eq!(lines.next_line().await.unwrap(), Some(line(4, "next")));
        assert!(
            !lines.continue_record(&mut record).await.unwrap(),
            "the end"
        );

        // Cut once it is over a row's size, on a character boundary.
        let long = format!("\"{}\n{}\n", "é".repeat(40_000), "é".repeat(40_000));
        let mut lines = Lines::new(long.as_bytes(), u64::MAX);
        let mut record = lines.next_line().await.unwrap().unwrap();
        assert!(!record.cut);
        assert!(lines.continue_record(&mut record).await.unwrap());
        assert!(record.cut);
        assert!(record.text.len() <= MAX_ROW_BYTES);
    }

    #[tokio::test]
    async fn a_line_longer_than_a_row_is_cut_not_held() {
        let mut long = "é".repeat(MAX_ROW_BYTES);
        long.push_str("\nnext\n");
        let found = all(long.as_bytes(), u64::MAX).await.unwrap();
        assert_eq!(found.len(), 2);
        assert!(found[0].cut);
        assert!(found[0].text.len() <= MAX_ROW_BYTES);
        assert_eq!(found[1], line(2, "next"));
    }
}
