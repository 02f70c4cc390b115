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

use redb::{ReadableTable, TableDefinition, TableHandle, WriteTransaction};

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
