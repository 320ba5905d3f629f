//! Parquet: provider extracts in, pseudonymised extracts out.
//!
//! Reading casts every selected column to text (numbers and dates become their usual text form)
//! so identifying values are parsed by pseudolink's normalisers, never by a cast whose error
//! would quote them. Writing pins every setting that affects the bytes, so the same inputs, key
//! and config always give the same file.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};

use crate::error::{Error, Location, Result};
use crate::io::{BatchSource, InputBatch};

/// Rows per Parquet row group in outputs.
pub const ROW_GROUP_ROWS: usize = 131_072;

/// The writer settings for every Parquet file pseudolink writes. Statistics are off: min/max of
/// a pass-through column would copy values into the footer, where they are easy to overlook.
pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_writer_version(WriterVersion::PARQUET_2_0)
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_statistics_enabled(EnabledStatistics::None)
        .set_created_by(format!("pseudolink {}", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Opens `path` (checked as [`reader_builder`] does) and reads only the named top-level
/// `columns`, in batches of 65,536 rows, panics in the decoder turned into errors ([`Guarded`]).
/// Batches hold the columns in the file's order: find them by name. `missing` is the error
/// message when a column is absent.
pub fn read_columns(path: &Path, columns: &[&str], missing: &str) -> Result<Guarded<ParquetRecordBatchReader>> {
    let file = File::open(path).map_err(|e| Error::io("opening", path, e))?;
    let builder = reader_builder(file).map_err(|_| Error::manifest(path, "is not a readable Parquet file"))?;
    let roots: Vec<usize> = builder
        .schema()
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| columns.contains(&f.name().as_str()))
        .map(|(i, _)| i)
        .collect();
    if roots.len() != columns.len() {
        return Err(Error::manifest(path, missing.to_string()));
    }
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(65_536)
        .build()
        .map_err(|_| Error::manifest(path, "could not be read"))?;
    Ok(Guarded(reader))
}

/// A Parquet output written under a temporary name and renamed into place by
/// [`ParquetOut::commit`]; dropped uncommitted, it leaves nothing behind.
pub struct ParquetOut {
    file: crate::io::atomic::AtomicFile,
    writer: parquet::arrow::ArrowWriter<File>,
    path: PathBuf,
}

impl ParquetOut {
    /// Starts `path` with `schema` and pseudolink's [`writer_properties`].
    pub fn create(path: &Path, schema: SchemaRef) -> Result<ParquetOut> {
        let file = crate::io::atomic::AtomicFile::create(path)?;
        let writer = parquet::arrow::ArrowWriter::try_new(file.try_clone_file()?, schema, Some(writer_properties()))
            .map_err(|e| Error::output(path, e.to_string()))?;
        Ok(ParquetOut { file, writer, path: path.to_path_buf() })
    }

    /// Appends a batch.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.writer.write(batch).map_err(|e| Error::output(&self.path, e.to_string()))
    }

    /// Adds a key-value entry to the file's footer metadata.
    pub fn append_metadata(&mut self, key: &str, value: String) {
        self.writer.append_key_value_metadata(parquet::file::metadata::KeyValue::new(key.to_string(), value));
    }

    /// Finishes the file and renames it into place.
    pub fn commit(self) -> Result<()> {
        self.writer.close().map_err(|e| Error::output(&self.path, e.to_string()))?;
        self.file.commit()
    }
}

/// Opens a Parquet file for reading after checking its footer's layout: every column chunk must
/// start and end inside the file. The `parquet` crate asserts this while reading (a damaged or
/// crafted footer would make it panic mid-run); checked here, such a file is refused up front
/// with the usual "not a readable Parquet file" error. Found by the `parquet_extract` fuzz target.
pub fn reader_builder(file: File) -> parquet::errors::Result<ParquetRecordBatchReaderBuilder<File>> {
    let len = file.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
    for rg in builder.metadata().row_groups() {
        for c in rg.columns() {
            let start = c.dictionary_page_offset().unwrap_or(c.data_page_offset()).min(c.data_page_offset());
            let size = c.compressed_size();
            if start < 0 || size < 0 || (start as u64).saturating_add(size as u64) > len {
                return Err(parquet::errors::ParquetError::General("a column chunk lies outside the file".into()));
            }
        }
    }
    Ok(builder)
}

thread_local! {
    static UNTRUSTED_DECODE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether this thread is decoding an untrusted Parquet file under [`Guarded`]: the command
/// line's panic hook stays quiet then, as the panic becomes an ordinary error.
pub fn decoding_untrusted() -> bool {
    UNTRUSTED_DECODE.with(|q| q.get())
}

/// A Parquet batch reader whose panics become errors. The `parquet` crate can panic on a data page
/// that a damaged or crafted file makes inconsistent (found by the `parquet_extract` fuzz target:
/// a fixed-length column's page shorter than its values); pseudonymised extracts reach the TRE
/// from outside, so a bad one must be refused with a message, not crash the linkage.
pub struct Guarded<I>(pub I);

impl<I> Iterator for Guarded<I>
where
    I: Iterator<Item = std::result::Result<RecordBatch, arrow_schema::ArrowError>>,
{
    type Item = I::Item;

    fn next(&mut self) -> Option<I::Item> {
        UNTRUSTED_DECODE.with(|q| q.set(true));
        let next = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.0.next()));
        UNTRUSTED_DECODE.with(|q| q.set(false));
        match next {
            Ok(item) => item,
            Err(_) => Some(Err(arrow_schema::ArrowError::ParquetError("a data page is damaged".into()))),
        }
    }
}

/// Reads a Parquet extract in batches, selected columns only, as text.
pub struct ParquetSource {
    path: PathBuf,
    builder: Option<ParquetRecordBatchReaderBuilder<File>>,
    reader: Option<ParquetRecordBatchReader>,
    header: Vec<String>,
    schema: SchemaRef,
    selected: Vec<usize>,
    batch_rows: usize,
    next_row: u64,
    total_rows: u64,
}

impl std::fmt::Debug for ParquetSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetSource").field("path", &self.path).field("next_row", &self.next_row).finish()
    }
}

impl ParquetSource {
    /// Opens `path` and reads its schema.
    pub fn open(path: &Path, batch_rows: usize) -> Result<ParquetSource> {
        let file = File::open(path).map_err(|e| Error::io("opening input", path, e))?;
        let builder = reader_builder(file).map_err(|e| not_parquet(path, &e))?;
        let schema = builder.schema().clone();
        let header = schema.fields().iter().map(|f| f.name().clone()).collect();
        let total_rows = builder.metadata().file_metadata().num_rows().max(0) as u64;
        Ok(ParquetSource {
            path: path.to_path_buf(),
            builder: Some(builder),
            reader: None,
            header,
            schema,
            selected: Vec::new(),
            batch_rows: batch_rows.max(1),
            next_row: 1,
            total_rows,
        })
    }
}

/// A Parquet reader's error, without its text (it may describe data).
fn not_parquet(path: &Path, _e: &parquet::errors::ParquetError) -> Error {
    Error::input(
        Location::file(path),
        "is not a readable Parquet file (it may be truncated or damaged); export it again",
    )
}

impl BatchSource for ParquetSource {
    fn header(&self) -> &[String] {
        &self.header
    }

    fn select(&mut self, columns: &[usize]) {
        self.selected = columns.to_vec();
    }

    fn next_batch(&mut self) -> Result<Option<InputBatch>> {
        if let Some(builder) = self.builder.take() {
            crate::io::arrow::check_types(&self.schema, &self.selected, &self.path)?;
            let mut roots = self.selected.clone();
            roots.sort_unstable();
            roots.dedup();
            let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
            let reader = builder
                .with_projection(mask)
                .with_batch_size(self.batch_rows)
                .build()
                .map_err(|e| not_parquet(&self.path, &e))?;
            self.reader = Some(reader);
        }
        let Some(reader) = self.reader.as_mut() else { return Ok(None) };
        let batch: RecordBatch = match Guarded(std::iter::from_fn(|| reader.next())).next() {
            None => return Ok(None),
            Some(Ok(b)) => b,
            Some(Err(_)) => {
                return Err(Error::input(
                    Location::file(&self.path).at_row(self.next_row),
                    "could not be decoded (the file may be truncated or damaged); export it again",
                ));
            }
        };
        let columns = crate::io::arrow::text_columns(&batch, &self.header, &self.selected, &self.path)?;
        let first_row = self.next_row;
        self.next_row += batch.num_rows() as u64;
        Ok(Some(InputBatch { first_row, columns }))
    }

    fn progress(&self) -> (u64, Option<u64>) {
        (self.next_row - 1, Some(self.total_rows))
    }
}
