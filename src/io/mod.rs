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
