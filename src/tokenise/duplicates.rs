//! Duplicate record ids, found at the provider: a record id must be unique within an extract so
//! that every record can be accounted for downstream (the linker refuses duplicates too, but by
//! then the provider has sent the file).
//!
//! Each output record id (the keyed token, or the kept id) is reduced to a 128-bit digest and
//! kept with its row number: 24 bytes a row, whatever the ids' length. At the end the digests
//! are sorted and neighbours compared, and the first duplicate is reported by both row numbers,
//! never by value. Digests are of output ids only and never leave memory.

use std::path::Path;

use arrow_array::{Array, RecordBatch, StringArray};
use rayon::prelude::*;

use crate::error::{Error, Location, Result, group_digits};
use crate::io::schema::RECORD_ID;

/// A chunk's record-id digests, each with its row number.
pub(crate) type Digests = Vec<(u128, u64)>;

/// Record-id digests and their rows.
#[derive(Debug, Default)]
pub(crate) struct DuplicateIds {
    seen: Vec<(u128, u64)>,
}

/// The digests of a tokenised chunk's record ids, with rows numbered from `first_row`.
pub(crate) fn digests(batch: &RecordBatch, first_row: u64) -> Digests {
    let Some(ids) = batch.column_by_name(RECORD_ID).and_then(|c| c.as_any().downcast_ref::<StringArray>()) else {
        return Vec::new();
    };
    (0..ids.len()).map(|i| (crate::io::digest128(&[ids.value(i)]), first_row + i as u64)).collect()
}

impl DuplicateIds {
    /// Adds a chunk's digests.
    pub(crate) fn extend(&mut self, digests: Digests) {
        self.seen.extend(digests);
    }

    /// Refuses the extract if two rows share a record id, naming the first such pair of rows
    /// (in row order) of `input`'s column `column`.
    pub(crate) fn check(mut self, input: &Path, column: &str) -> Result<()> {
        self.seen.par_sort_unstable();
        let dup = self.seen.par_windows(2).filter(|w| w[0].0 == w[1].0).map(|w| (w[1].1, w[0].1)).min();
        match dup {
            None => Ok(()),
            Some((later, earlier)) => Err(Error::input(
                Location::file(input).at_row(later).in_column(column),
                format!(
                    "holds the same record id as row {}; record ids must be unique within an extract so that every \
                     record can be accounted for. Check the export (a join that repeated rows, or the wrong id column)",
                    group_digits(earlier)
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn batch(ids: &[&str]) -> RecordBatch {
        let schema =
            arrow_schema::Schema::new(vec![arrow_schema::Field::new(RECORD_ID, arrow_schema::DataType::Utf8, false)]);
        RecordBatch::try_new(Arc::new(schema), vec![Arc::new(StringArray::from(ids.to_vec()))]).unwrap()
    }

    #[test]
    fn the_first_duplicate_is_named_by_both_rows_and_never_its_value() {
        let mut d = DuplicateIds::default();
        d.extend(digests(&batch(&["A1", "B2", "C3"]), 1));
        d.extend(digests(&batch(&["D4", "B2", "A1"]), 4));
        let e = d.check(Path::new("in.csv"), "id").unwrap_err().to_string();
        assert!(e.starts_with("in.csv: row 5, column `id`: holds the same record id as row 2;"), "{e}");
        assert!(!e.contains("B2"), "{e}");
        let mut ok = DuplicateIds::default();
        ok.extend(digests(&batch(&["A1", "B2", "a1"]), 1));
        assert!(ok.check(Path::new("in.csv"), "id").is_ok());
    }
}
