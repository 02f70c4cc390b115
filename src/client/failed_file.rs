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
