//! [`write_sorted`]: a batch of records written into a table in key order, through a redb
//! cursor.
//!
//! Why a cursor: a chunk's records are new and sort together (one job's passes), so, sorted,
//! they go into one gap of the table as a run that redb packs into full pages at once.
//! Inserted one by one, each rebuilt its leaf, and a job's passes, appended before the next
//! job's first one, split every leaf they filled in half: the pages went to disk about
//! three-fifths full. `bench_local`: 1,757 → 1,339 bytes written per row, CPU per run
//! 0.635–0.645 → 0.58–0.60 s, rows/s 107,536–109,371 → 121,264–125,905 (four series of 18–24
//! alternate runs).

use std::ops::Bound;

use redb::{CursorError, Table};

use crate::db::{Bytes, DbError};

/// What [`write_sorted`] does with a record whose name the table already holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OnTaken {
    /// Writes over it (of two records of a batch with one name, the later wins), as one
    /// `insert` after another would.
    Replace,
    /// Leaves it, and reports the record as taken (of two records of a batch with one name,
    /// the first is written and the later taken), as a `get` before each `insert` would.
    Keep,
}

/// Writes `records` (name, value) into `table`; returns the positions in `records`, in
/// order, of those [`OnTaken::Keep`] left out because their name was taken.
pub(crate) fn write_sorted(
    table: &mut Table<'_, &'static str, Bytes>,
    records: &[(String, &[u8])],
    on_taken: OnTaken,
) -> Result<Vec<usize>, DbError> {
    let mut order: Vec<usize> = (0..records.len()).collect();
    // Stable: records of one name stay in the batch's order.
    order.sort_by(|&a, &b| records[a].0.cmp(&records[b].0));
    let mut taken = Vec::new();
    let Some(&first) = order.first() else {
        return Ok(taken);
    };
    let mut cursor = table.lower_bound_mut(Bound::Included(records[first].0.as_str()))?;
    for (place, &index) in order.iter().enumerate() {
        let (name, value) = &records[index];
        let same_name = |other: Option<&usize>| other.is_some_and(|&o| records[o].0 == *name);
        match on_taken {
            OnTaken::Replace if same_name(order.get(place + 1)) => continue,
            OnTaken::Keep if place > 0 && same_name(order.get(place - 1)) => {
                taken.push(index);
                continue;
            }
            _ => {}
        }
        loop {
            match cursor.insert_before(name.as_str(), *value) {
                Ok(()) => break,
                // A record the table holds lies at or before `name`, after the gap (the
                // batch's own are behind it): step over it, and if it is `name`'s, replace or
                // keep it.
                Err(CursorError::UnorderedKey) => {
                    let Some(found_name) = cursor.next()?.map(|(key, _)| key.value() == name)
                    else {
                        return Err(DbError::Refused(format!(
                            "records out of order at {name:?}"
                        )));
                    };
                    if found_name {
                        taken.push(index);
                        break;
                    }
                }
                Err(error) => return Err(redb::Error::from(error).into()),
            }
        }
    }
    cursor.close()?;
    taken.sort_unstable();
    if on_taken == OnTaken::Replace {
        // Over a record the table holds, an insert replaces its value where it lies. Taking
        // it out through the cursor and opening a new run after it took 3.4 times as long
        // when every record was there (a chunk delivered again): 131 against 38 ms for 50
        // chunks of 290 passes, release build.
        for index in taken.drain(..) {
            let (name, value) = &records[index];
            table.insert(name.as_str(), *value)?;
        }
    }
    Ok(taken)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records_table::{record_name, RECORDS};
    use redb::{ReadableDatabase, ReadableTable};

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

        fn write(&self, records: &[(String, Vec<u8>)], on_taken: OnTaken) -> Vec<usize> {
            let txn = self.db.begin_write().expect("begin");
            let taken = {
                let mut table = txn.open_table(RECORDS).expect("table");
                let named: Vec<(String, &[u8])> = records
                    .iter()
                    .map(|(name, value)| (name.clone(), value.as_slice()))
                    .collect();
                write_sorted(&mut table, &named, on_taken).expect("write")
            };
            txn.commit().expect("commit");
            taken
        }

        fn put(&self, records: &[(String, Vec<u8>)]) {
            assert_eq!(self.write(records, OnTaken::Replace), Vec::<usize>::new());
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
    fn replacing_inserts_replaces_and_steps_over_what_it_does_not_name() {
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

    #[test]
    fn keeping_inserts_and_reports_what_the_table_or_the_batch_already_held() {
        let scratch = Scratch::new();
        scratch.put(&[record("c", "old c"), record("a", "old a")]);
        let taken = scratch.write(
            &[
                record("c", "new c"),
                record("b", "first b"),
                record("b", "last b"),
                record("d", "d"),
                record("a", "new a"),
            ],
            OnTaken::Keep,
        );
        assert_eq!(taken, [0, 2, 4]);
        assert_eq!(
            scratch.contents(),
            [
                record("a", "old a"),
                record("b", "first b"),
                record("c", "old c"),
                record("d", "d"),
            ]
        );
    }

    /// Against a `BTreeMap` of the same writes, one record at a time: batches larger than
    /// redb buffers in one run, written into, around and over what earlier batches wrote,
    /// replacing and keeping in turn.
    #[test]
    fn a_batch_leaves_the_table_as_one_record_after_another_would() {
        let scratch = Scratch::new();
        let mut model = std::collections::BTreeMap::new();
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for batch in 0..16 {
            let size = 1 + next() % 3_000;
            let records: Vec<(String, Vec<u8>)> = (0..size)
                .map(|_| {
                    let name = format!("MFP#job-{}\0ENROLLMENT#{:05}", next() % 3, next() % 20_000);
                    let value = format!("batch {batch} {}", "x".repeat((next() % 400) as usize));
                    (name, value.into_bytes())
                })
                .collect();
            let on_taken = [OnTaken::Replace, OnTaken::Keep][batch % 2];
            let mut expected_taken = Vec::new();
            for (index, (name, value)) in records.iter().enumerate() {
                if on_taken == OnTaken::Keep && model.contains_key(name) {
                    expected_taken.push(index);
                } else {
                    model.insert(name.clone(), value.clone());
                }
            }
            assert_eq!(scratch.write(&records, on_taken), expected_taken);
        }
        let expected: Vec<(String, Vec<u8>)> = model.into_iter().collect();
        assert_eq!(scratch.contents(), expected);
    }

    /// Records of every size up to DynamoDB's item limit (400 KB), large ones beside small
    /// ones, go in and are replaced and kept as small ones are.
    #[test]
    fn records_up_to_the_item_limit_go_in_beside_small_ones() {
        let scratch = Scratch::new();
        let sizes = [1, 100, 4_000, 4_096, 65_536, 200_000, 400_000];
        let batch = |tag: u8, from: usize| -> Vec<(String, Vec<u8>)> {
            (from..from + 14)
                .map(|i| (format!("ACCOUNT#{i:03}"), vec![tag; sizes[i % sizes.len()]]))
                .collect()
        };
        scratch.put(&batch(b'a', 0));
        // Half over the first batch's names, half new.
        scratch.put(&batch(b'b', 7));
        let taken = scratch.write(&batch(b'c', 14), OnTaken::Keep);
        assert_eq!(taken, (0..7).collect::<Vec<_>>());
        let mut expected = batch(b'a', 0)[..7].to_vec();
        expected.extend(batch(b'b', 7));
        expected.extend(batch(b'c', 14)[7..].to_vec());
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
}
