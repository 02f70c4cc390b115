//! The records table (enrollments, passes, safes, accounts, …) and how a record's key is laid
//! out in it: its sort key first, `<sk>\0<pk>`.
//!
//! Why the sort key first: it says what a record is (`ENROLLMENT`, `MFP#<job id>`, `SAFE`,
//! `ACCOUNT#…`), so one job's passes lie together in key order. Keyed `<pk>\0<sk>`, each pass
//! sat beside its enrollment, anywhere in the table: a chunk's few hundred passes made as many
//! pages new, each written whole at the next sync. `bench_local` wrote 1,882–2,258 →
//! 1,604–1,970 bytes per row with this layout (four alternate invocations each). Only exact
//! keys are ever looked up (the record ports have no range reads), so the order is this
//! table's own business.
//!
//! The layout is exact: a sort key never holds a NUL (they are fixed words, job ids and JSON
//! text, whose escapes keep control characters out), so the first NUL ends it. Files written
//! before it keep their records under `<pk>\0<sk>` in the table `records`; opening such a file
//! moves them here once ([`move_pk_first_records`]).

use std::ops::Bound;

use redb::{CursorError, ReadableTable, Table, TableDefinition, TableHandle, WriteTransaction};

use crate::db::{Bytes, DbError};

/// `<sk>\0<pk>` → record (JSON).
pub(crate) const RECORDS: TableDefinition<&str, Bytes> =
    TableDefinition::new("records_by_sort_key");

/// The table of files written before [`RECORDS`]: `<pk>\0<sk>` → record.
const PK_FIRST_RECORDS: TableDefinition<&str, Bytes> = TableDefinition::new("records");

/// The key in [`RECORDS`] of the record `pk`, `sk`.
pub(crate) fn record_name(pk: &str, sk: &str) -> String {
    debug_assert!(!sk.contains('\0'), "a sort key holds a NUL: {sk:?}");
    let mut name = String::with_capacity(sk.len() + 1 + pk.len());
    name.push_str(sk);
    name.push('\0');
    name.push_str(pk);
    name
}

/// Writes `records` (name, value) into `table`, replacing any record of the same name; of two
/// with one name, the later wins (as one `insert` after another would).
///
/// Why through a cursor: a chunk's records are new and sort together (one job's passes), so,
/// sorted, they go into one gap of the table as a run that redb packs into full pages at
/// once. Inserted one by one, each rebuilt its leaf and every leaf was split in half as it
/// filled, so the pages went to disk about three-fifths full.
pub(crate) fn put_sorted(
    table: &mut Table<'_, &'static str, Bytes>,
    mut records: Vec<(String, &[u8])>,
) -> Result<(), DbError> {
    // Stable: of two records with one name, the later stays last, and wins below.
    records.sort_by(|a, b| a.0.cmp(&b.0));
    let Some((first, _)) = records.first() else {
        return Ok(());
    };
    let mut cursor = table.lower_bound_mut(Bound::Included(first.as_str()))?;
    for (index, (name, value)) in records.iter().enumerate() {
        if records.get(index + 1).is_some_and(|next| next.0 == *name) {
            continue;
        }
        loop {
            match cursor.insert_before(name.as_str(), *value) {
                Ok(()) => break,
                // A record the table holds lies at or before `name`, after the gap: step
                // over it, and take it out if it is the one to replace.
                Err(CursorError::UnorderedKey) => {
                    let replaced = match cursor.next()? {
                        Some((key, _)) => key.value() == name.as_str(),
                        None => {
                            return Err(DbError::Refused(format!(
                                "records out of order at {name:?}"
                            )))
                        }
                    };
                    if replaced {
                        cursor.remove_prev()?;
                    }
                }
                Err(error) => return Err(redb::Error::from(error).into()),
            }
        }
    }
    cursor.close()?;
    Ok(())
}

/// Moves the records of a file written before [`RECORDS`] into it and deletes their table;
/// does nothing to a file without that table. In the transaction that opens the file, so a
/// crash leaves the records in one table or the other, never half moved.
pub(crate) fn move_pk_first_records(txn: &WriteTransaction) -> Result<(), DbError> {
    let old_name = PK_FIRST_RECORDS.name();
    if !txn.list_tables()?.any(|table| table.name() == old_name) {
        return Ok(());
    }
    {
        let old = txn.open_table(PK_FIRST_RECORDS)?;
        let mut new = txn.open_table(RECORDS)?;
        for entry in old.iter()? {
            let (key, value) = entry?;
            // The sort key has no NUL, so the last one ends the partition key.
            let (pk, sk) = key
                .value()
                .rsplit_once('\0')
                .ok_or_else(|| DbError::MalformedKey(key.value().to_owned()))?;
            new.insert(record_name(pk, sk).as_str(), value.value())?;
        }
    }
    txn.delete_table(PK_FIRST_RECORDS)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use redb::ReadableDatabase;

    const ENROLLMENT: (&str, &str) = ("ENROLLMENT#wf#id=1", "ENROLLMENT");
    const PASS: (&str, &str) = ("ENROLLMENT#wf#id=1", "MFP#job-1");
    /// A partition key may hold a NUL (a safe's name is the caller's text).
    const SAFE: (&str, &str) = ("SAFE#a\0b", "SAFE");

    fn old_name((pk, sk): (&str, &str)) -> String {
        format!("{pk}\0{sk}")
    }

    #[test]
    fn opening_a_file_of_the_pk_first_layout_moves_its_records_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db.redb");
        {
            let db = redb::Database::create(&path).expect("create");
            let txn = db.begin_write().expect("begin");
            {
                let mut old = txn.open_table(PK_FIRST_RECORDS).expect("table");
                for (record, body) in [(ENROLLMENT, "{\"e\":1}"), (PASS, "{\"p\":1}")] {
                    old.insert(old_name(record).as_str(), body.as_bytes())
                        .expect("insert");
                }
                old.insert(old_name(SAFE).as_str(), b"{\"s\":1}".as_slice())
                    .expect("insert");
            }
            txn.commit().expect("commit");
        }
        for _ in 0..2 {
            // Opened twice: the second open finds nothing left to move.
            drop(crate::Db::open(&path).expect("open"));
            let raw = redb::Database::open(&path).expect("reopen");
            let txn = raw.begin_read().expect("read");
            let table = txn.open_table(RECORDS).expect("records");
            let found: Vec<(String, String)> = table
                .iter()
                .expect("iter")
                .map(|entry| {
                    let (key, value) = entry.expect("entry");
                    let body = String::from_utf8(value.value().to_vec()).expect("utf-8");
                    (key.value().to_owned(), body)
                })
                .collect();
            assert_eq!(
                found,
                vec![
                    (
                        record_name(ENROLLMENT.0, ENROLLMENT.1),
                        "{\"e\":1}".to_owned()
                    ),
                    (record_name(PASS.0, PASS.1), "{\"p\":1}".to_owned()),
                    (record_name(SAFE.0, SAFE.1), "{\"s\":1}".to_owned()),
                ]
            );
            let names: Vec<String> = txn
                .list_tables()
                .expect("tables")
                .map(|t| t.name().to_owned())
                .collect();
            assert!(!names.contains(&"records".to_owned()), "{names:?}");
        }
    }

    /// A table in a fresh file, written by `write` in one transaction per call.
    struct Scratch {
        _dir: tempfile::TempDir,
        db: redb::Database,
    }

    impl Scratch {
        fn new() -> Self {
            let dir = tempfile::tempdir().expect("tempdir");
            let db = redb::Database::create(dir.path().join("db.redb")).expect("create");
            Self { _dir: dir, db }
        }

        fn put(&self, records: &[(String, Vec<u8>)]) {
            let txn = self.db.begin_write().expect("begin");
            {
                let mut table = txn.open_table(RECORDS).expect("table");
                let named = records
                    .iter()
                    .map(|(name, value)| (name.clone(), value.as_slice()))
                    .collect();
                put_sorted(&mut table, named).expect("put");
            }
            txn.commit().expect("commit");
        }

        fn contents(&self) -> Vec<(String, Vec<u8>)> {
            let txn = self.db.begin_read().expect("read");
            let table = txn.open_table(RECORDS).expect("table");
            table
                .iter()
                .expect("iter")
                .map(|entry| {
                    let (key, value) = entry.expect("entry");
                    (key.value().to_owned(), value.value().to_vec())
                })
                .collect()
        }

        /// Stored bytes over the bytes of the leaf pages holding them.
        fn leaf_fill(&self) -> f64 {
            use redb::ReadableTableMetadata;
            let txn = self.db.begin_read().expect("read");
            let stats = txn
                .open_table(RECORDS)
                .expect("table")
                .stats()
                .expect("stats");
            stats.stored_bytes() as f64 / (stats.leaf_pages() * 4096) as f64
        }
    }

    fn record(name: &str, value: &str) -> (String, Vec<u8>) {
        (name.to_owned(), value.as_bytes().to_vec())
    }

    #[test]
    fn put_sorted_inserts_replaces_and_steps_over_what_it_does_not_name() {
        let scratch = Scratch::new();
        scratch.put(&[]);
        assert!(scratch.contents().is_empty());
        scratch.put(&[
            record("c", "old c"),
            record("a", "old a"),
            record("e", "old e"),
        ]);
        // Out of order, one name twice (the later wins), one name the table holds.
        scratch.put(&[
            record("f", "f"),
            record("d", "first d"),
            record("b", "b"),
            record("c", "new c"),
            record("d", "last d"),
        ]);
        assert_eq!(
            scratch.contents(),
            [
                record("a", "old a"),
                record("b", "b"),
                record("c", "new c"),
                record("d", "last d"),
                record("e", "old e"),
                record("f", "f"),
            ]
        );
    }

    /// Against a `BTreeMap` of the same writes: batches larger than redb buffers in one run,
    /// written into, around and over what earlier batches wrote.
    #[test]
    fn put_sorted_leaves_the_table_as_one_insert_after_another_would() {
        let scratch = Scratch::new();
        let mut model = std::collections::BTreeMap::new();
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for batch in 0..12 {
            let size = 1 + next() % 3_000;
            let records: Vec<(String, Vec<u8>)> = (0..size)
                .map(|_| {
                    let name = format!("MFP#job-{}\0ENROLLMENT#{:05}", next() % 3, next() % 20_000);
                    let value = format!("batch {batch} {}", "x".repeat((next() % 400) as usize));
                    (name, value.into_bytes())
                })
                .collect();
            for (name, value) in &records {
                model.insert(name.clone(), value.clone());
            }
            scratch.put(&records);
        }
        let expected: Vec<(String, Vec<u8>)> = model.into_iter().collect();
        assert_eq!(scratch.contents(), expected);
    }

    /// The reason for the cursor: jobs running side by side, each writing its passes a chunk
    /// at a time, fill their pages. One by one, each chunk's passes went in before the next
    /// job's first pass, and every leaf they filled was split in half.
    #[test]
    fn passes_of_jobs_side_by_side_fill_their_pages() {
        let scratch = Scratch::new();
        let pass = "p".repeat(270);
        for chunk in 0..5 {
            for job in ["MFP#job-1", "MFP#job-2", "MFP#job-3"] {
                let records: Vec<(String, Vec<u8>)> = (0..290)
                    .map(|row| {
                        let pk = format!("ENROLLMENT#tenant#KEY={:08}", chunk * 290 + row);
                        (record_name(&pk, job), pass.clone().into_bytes())
                    })
                    .collect();
                scratch.put(&records);
            }
        }
        let fill = scratch.leaf_fill();
        assert!(fill > 0.85, "leaf pages {:.0}% full", fill * 100.0);
    }

    #[test]
    fn one_jobs_passes_lie_together_and_keys_stay_exact() {
        let mut names = [
            record_name("ENROLLMENT#wf#id=1", "MFP#job-b"),
            record_name("ENROLLMENT#wf#id=1", "ENROLLMENT"),
            record_name("ENROLLMENT#wf#id=2", "MFP#job-a"),
            record_name("ENROLLMENT#wf#id=2", "MFP#job-b"),
            record_name("ENROLLMENT#wf#id=1", "MFP#job-a"),
        ];
        names.sort();
        let sort_keys: Vec<&str> = names.iter().filter_map(|n| n.split('\0').next()).collect();
        assert_eq!(
            sort_keys,
            [
                "ENROLLMENT",
                "MFP#job-a",
                "MFP#job-a",
                "MFP#job-b",
                "MFP#job-b"
            ]
        );
        // The first NUL ends the sort key, even when the partition key holds one.
        let safe = record_name(SAFE.0, SAFE.1);
        assert_eq!(safe.split_once('\0'), Some((SAFE.1, SAFE.0)));
    }
}
