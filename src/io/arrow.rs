//! Arrow batches in memory as a tokenise input: what a notebook's table or a Spark partition
//! hands the library ([`crate::tokenise::tokenise_arrow`]).
//!
//! Columns are read exactly as a Parquet input's are: only the selected ones, each cast to text,
//! so identifying values are parsed by pseudolink's own normalisers and no cast error can quote
//! one. Errors name the input by the label the caller gives (a table has no path).

use std::path::{Path, PathBuf};

use arrow_array::{Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Schema, SchemaRef};

use crate::error::{Error, Location, Result};
use crate::io::{BatchSource, InputBatch};

/// In-memory Arrow batches of one schema, read in order as text columns.
pub struct ArrowSource {
    label: PathBuf,
    schema: SchemaRef,
    header: Vec<String>,
    batches: Vec<RecordBatch>,
    next_batch: usize,
    selected: Vec<usize>,
    next_row: u64,
    total_rows: u64,
}

impl std::fmt::Debug for ArrowSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArrowSource").field("label", &self.label).field("next_row", &self.next_row).finish()
    }
}

impl ArrowSource {
    /// A source over `batches`, all of `schema`; `label` names the input in errors.
    pub fn new(label: &Path, schema: SchemaRef, batches: Vec<RecordBatch>) -> Result<ArrowSource> {
        if let Some(b) = batches.iter().find(|b| b.schema().fields() != schema.fields()) {
            let _ = b;
            return Err(Error::input(
                Location::file(label),
                "holds batches of different columns; give batches of one schema",
            ));
        }
        let header = schema.fields().iter().map(|f| f.name().clone()).collect();
        let total_rows = batches.iter().map(|b| b.num_rows() as u64).sum();
        Ok(ArrowSource {
            label: label.to_path_buf(),
            schema,
            header,
            batches,
            next_batch: 0,
            selected: Vec::new(),
            next_row: 1,
            total_rows,
        })
    }

    /// Rows held.
    pub fn rows(&self) -> u64 {
        self.total_rows
    }

    /// The same batches, read again from the start (the `resistant` profile counts names first).
    pub fn rewound(&self) -> ArrowSource {
        ArrowSource {
            label: self.label.clone(),
            schema: self.schema.clone(),
            header: self.header.clone(),
            batches: self.batches.clone(),
            next_batch: 0,
            selected: self.selected.clone(),
            next_row: 1,
            total_rows: self.total_rows,
        }
    }
}

impl BatchSource for ArrowSource {
    fn header(&self) -> &[String] {
        &self.header
    }

    fn select(&mut self, columns: &[usize]) {
        self.selected = columns.to_vec();
    }

    fn next_batch(&mut self) -> Result<Option<InputBatch>> {
        if self.next_batch == 0 {
            check_types(&self.schema, &self.selected, &self.label)?;
        }
        let Some(batch) = self.batches.get(self.next_batch) else { return Ok(None) };
        self.next_batch += 1;
        let columns = text_columns(batch, &self.header, &self.selected, &self.label)?;
        let first_row = self.next_row;
        self.next_row += batch.num_rows() as u64;
        Ok(Some(InputBatch { first_row, columns }))
    }

    fn progress(&self) -> (u64, Option<u64>) {
        (self.next_row - 1, Some(self.total_rows))
    }
}

/// Refuses a selected column whose type cannot be read as text: nested and binary columns would
/// otherwise be cast in ways whose errors or output could show a value.
pub(crate) fn check_types(schema: &Schema, selected: &[usize], path: &Path) -> Result<()> {
    for &i in selected {
        let f = schema.field(i);
        let ok = matches!(
            f.data_type(),
            DataType::Utf8
                | DataType::LargeUtf8
                | DataType::Utf8View
                | DataType::Int8
                | DataType::Int16
                | DataType::Int32
                | DataType::Int64
                | DataType::UInt8
                | DataType::UInt16
                | DataType::UInt32
                | DataType::UInt64
                | DataType::Float32
                | DataType::Float64
                | DataType::Boolean
                | DataType::Date32
                | DataType::Date64
                | DataType::Dictionary(_, _)
        );
        if !ok {
            return Err(Error::input(
                Location::file(path).in_column(f.name()),
                format!(
                    "has type {}; pseudolink reads text, number, boolean and date columns. Export this column as text",
                    f.data_type()
                ),
            ));
        }
    }
    Ok(())
}

/// The `selected` columns (indices into `header`) of `batch`, each cast to text.
pub(crate) fn text_columns(
    batch: &RecordBatch,
    header: &[String],
    selected: &[usize],
    path: &Path,
) -> Result<Vec<StringArray>> {
    let mut columns = Vec::with_capacity(selected.len());
    for &i in selected {
        let name = &header[i];
        let col = batch
            .column_by_name(name)
            .ok_or_else(|| Error::input(Location::file(path).in_column(name), "is missing from a row group"))?;
        let text = arrow_cast::cast(col, &DataType::Utf8).map_err(|_| {
            Error::input(Location::file(path).in_column(name), "could not be read as text; export this column as text")
        })?;
        let text = text
            .as_any()
            .downcast_ref::<StringArray>()
            .cloned()
            .ok_or_else(|| Error::input(Location::file(path).in_column(name), "could not be read as text"))?;
        columns.push(text);
    }
    Ok(columns)
}
