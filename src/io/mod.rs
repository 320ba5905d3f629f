//! Reading extracts and writing outputs.
//!
//! Inputs arrive as batches of text columns whatever their format ([`InputBatch`]), so that the
//! normalisers parse every identifying value in pseudolink's own code and no third-party parser
//! gets the chance to quote one in an error. Outputs are written through [`atomic`]: a file
//! appears complete at its final name or not at all.

pub mod arrow;
pub mod atomic;
pub mod csv;
pub mod manifest;
pub mod outputs;
pub mod parquet;
pub mod schema;

use arrow_array::{Array, StringArray};

use crate::error::Result;

/// Rows per input batch by default: large enough to keep both cores busy, small enough that a
/// batch of a wide extract stays a few tens of megabytes.
pub const DEFAULT_BATCH_ROWS: usize = 65_536;

/// A batch of input rows: only the columns the config uses, as text.
#[derive(Debug)]
pub struct InputBatch {
    /// The 1-based data row number of the batch's first row.
    pub first_row: u64,
    /// One array per requested column, in request order.
    pub columns: Vec<StringArray>,
}

impl InputBatch {
    /// Rows in the batch.
    pub fn num_rows(&self) -> usize {
        self.columns.first().map_or(0, |c| c.len())
    }
}

/// A source of input batches.
pub trait BatchSource: Send {
    /// The input's column names, in file order.
    fn header(&self) -> &[String];
    /// Chooses the columns (by header index) that batches will hold, in this order.
    fn select(&mut self, columns: &[usize]);
    /// The next batch, or `None` at the end.
    fn next_batch(&mut self) -> Result<Option<InputBatch>>;
    /// Progress so far and in total, in the source's own unit (bytes or rows), when known.
    fn progress(&self) -> (u64, Option<u64>);
    /// Blank rows skipped at the end of the input (a spreadsheet's trailing empty rows).
    fn blank_rows_skipped(&self) -> u64 {
        0
    }
}

/// A 128-bit digest of `parts` (two SipHash-1-3 passes under different prefixes): records are
/// found again by it (a duplicate record id, a record of an earlier linkage) without keeping
/// their text. Collisions take about 2^64 tries; the digests never leave memory.
pub(crate) fn digest128(parts: &[&str]) -> u128 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let half = |salt: u8| {
        let mut h = DefaultHasher::new();
        salt.hash(&mut h);
        for p in parts {
            p.hash(&mut h);
        }
        h.finish()
    };
    (u128::from(half(1)) << 64) | u128::from(half(2))
}
