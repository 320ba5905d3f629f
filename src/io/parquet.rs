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
use parquet::arrow::arrow_writer::{ArrowColumnWriter, ArrowRowGroupWriterFactory, compute_leaves};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use parquet::file::writer::SerializedFileWriter;

use crate::error::{Error, Location, Result};
use crate::io::{BatchSource, InputBatch};

/// Rows per Parquet row group in outputs.
pub const ROW_GROUP_ROWS: usize = 131_072;

/// The writer settings for every Parquet file pseudolink writes. Statistics are off: min/max of
/// a pass-through column would copy values into the footer, where they are easy to overlook.
/// ZSTD level 1: writing outputs of tens of millions of rows is bound by compression, and level
/// 3 made files no more than 2% smaller (docs/benchmarks.md, ten million persons).
pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_writer_version(WriterVersion::PARQUET_2_0)
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).unwrap_or_default()))
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
    let roots = roots(builder.schema(), columns);
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
///
/// Row groups are cut as `ArrowWriter` cuts them (every [`ROW_GROUP_ROWS`] rows, batches split
/// where a group fills), but each group's columns are encoded and compressed in parallel, one
/// column per task: the bytes are those `ArrowWriter` writes, in a fraction of the time on
/// several cores (a linkage's `clusters.parquet` is millions of rows of text).
pub struct ParquetOut {
    file: crate::io::atomic::AtomicFile,
    writer: SerializedFileWriter<File>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    /// The row group being written: its column writers and rows so far.
    group: Option<(Vec<ArrowColumnWriter>, usize)>,
    path: PathBuf,
}

impl ParquetOut {
    /// Starts `path` with `schema` and pseudolink's [`writer_properties`].
    pub fn create(path: &Path, schema: SchemaRef) -> Result<ParquetOut> {
        ParquetOut::create_with_unique(path, schema, &[])
    }

    /// As [`ParquetOut::create`], for a file whose `unique` columns hold (nearly) every value
    /// once — record ids, person ids: they are written without a dictionary, which for such a
    /// column is built, found too large and thrown away on every page.
    pub fn create_with_unique(path: &Path, schema: SchemaRef, unique: &[&str]) -> Result<ParquetOut> {
        let mut props = writer_properties().into_builder();
        for c in unique {
            props = props.set_column_dictionary_enabled(parquet::schema::types::ColumnPath::from(*c), false);
        }
        let file = crate::io::atomic::AtomicFile::create(path)?;
        let fail = |e: parquet::errors::ParquetError| Error::output(path, e.to_string());
        // `ArrowWriter` puts the Arrow schema in the footer's metadata; its file writer and column
        // writer factory are then driven directly.
        let (writer, factory) =
            parquet::arrow::ArrowWriter::try_new(file.try_clone_file()?, schema.clone(), Some(props.build()))
                .and_then(parquet::arrow::ArrowWriter::into_serialized_writer)
                .map_err(fail)?;
        Ok(ParquetOut { file, writer, factory, schema, group: None, path: path.to_path_buf() })
    }

    /// Appends a batch.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        use rayon::prelude::*;
        let path = self.path.clone();
        let fail = |e: parquet::errors::ParquetError| Error::output(&path, e.to_string());
        if batch.schema().fields() != self.schema.fields() {
            return Err(Error::output(&self.path, "a batch does not match the file's schema"));
        }
        let mut rest = batch.clone();
        while rest.num_rows() > 0 {
            if self.group.is_none() {
                let writers =
                    self.factory.create_column_writers(self.writer.flushed_row_groups().len()).map_err(fail)?;
                self.group = Some((writers, 0));
            }
            let Some((writers, rows)) = self.group.as_mut() else { unreachable!("a row group was just started") };
            let take = rest.num_rows().min(ROW_GROUP_ROWS - *rows);
            let part = rest.slice(0, take);
            rest = rest.slice(take, rest.num_rows() - take);
            let mut leaves = Vec::with_capacity(writers.len());
            for (field, column) in self.schema.fields().iter().zip(part.columns()) {
                leaves.extend(compute_leaves(field, column).map_err(fail)?);
            }
            writers.par_iter_mut().zip(leaves.par_iter()).try_for_each(|(w, leaf)| w.write(leaf)).map_err(fail)?;
            *rows += take;
            if *rows >= ROW_GROUP_ROWS {
                self.flush()?;
            }
        }
        Ok(())
    }

    /// Closes the row group being written (its columns finished in parallel) and appends it.
    fn flush(&mut self) -> Result<()> {
        use rayon::prelude::*;
        let fail = |e: parquet::errors::ParquetError| Error::output(&self.path, e.to_string());
        let Some((writers, _)) = self.group.take() else { return Ok(()) };
        let chunks = writers.into_par_iter().map(ArrowColumnWriter::close).collect::<parquet::errors::Result<Vec<_>>>();
        let mut group = self.writer.next_row_group().map_err(fail)?;
        for chunk in chunks.map_err(fail)? {
            chunk.append_to_row_group(&mut group).map_err(fail)?;
        }
        group.close().map_err(fail)?;
        Ok(())
    }

    /// Adds a key-value entry to the file's footer metadata.
    pub fn append_metadata(&mut self, key: &str, value: String) {
        self.writer.append_key_value_metadata(parquet::file::metadata::KeyValue::new(key.to_string(), value));
    }

    /// Finishes the file and renames it into place.
    pub fn commit(mut self) -> Result<()> {
        self.flush()?;
        self.writer.close().map_err(|e| Error::output(&self.path, e.to_string()))?;
        self.file.commit()
    }
}

/// The positions of `schema`'s top-level columns named in `names` (a projection's roots).
pub(crate) fn roots(schema: &arrow_schema::Schema, names: &[&str]) -> Vec<usize> {
    schema.fields().iter().enumerate().filter(|(_, f)| names.contains(&f.name().as_str())).map(|(i, _)| i).collect()
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

/// Runs `consume` on each item of `items`, with `items` advanced on a second thread up to
/// `ahead` items in front: decoding the next Parquet batch overlaps with using this one, so a
/// reader bound by decompression and a consumer bound by hashing share two cores. Items arrive in
/// order; the first error from `consume` stops the reader and is returned.
pub fn read_ahead<I, T>(items: I, ahead: usize, mut consume: impl FnMut(T) -> Result<()>) -> Result<()>
where
    I: Iterator<Item = T> + Send,
    T: Send,
{
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel(ahead.max(1));
        s.spawn(move || {
            for item in items {
                if tx.send(item).is_err() {
                    break;
                }
            }
        });
        for item in rx {
            consume(item)?;
        }
        Ok(())
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, StringArray, UInt64Array};
    use std::sync::Arc;

    fn batch(start: u64, rows: usize) -> RecordBatch {
        let n: Vec<u64> = (start..start + rows as u64).collect();
        let text: Vec<String> = n.iter().map(|x| format!("r{}", x * 7919 % 1_000_003)).collect();
        let cols: Vec<ArrayRef> = vec![
            Arc::new(UInt64Array::from(n.clone())),
            Arc::new(StringArray::from(text)),
            Arc::new(UInt64Array::from(n.iter().map(|x| x % 5).collect::<Vec<_>>())),
        ];
        let schema = arrow_schema::Schema::new(vec![
            arrow_schema::Field::new("n", arrow_schema::DataType::UInt64, false),
            arrow_schema::Field::new("id", arrow_schema::DataType::Utf8, false),
            arrow_schema::Field::new("small", arrow_schema::DataType::UInt64, false),
        ]);
        RecordBatch::try_new(Arc::new(schema), cols).unwrap()
    }

    /// Columns encoded in parallel give the bytes `ArrowWriter` gives: batches that straddle row
    /// groups, a row group filled exactly, a partial last group, and footer metadata.
    #[test]
    fn parallel_column_encoding_writes_the_bytes_arrow_writer_writes() {
        let dir = tempfile::tempdir().unwrap();
        let sizes = [1usize, 100_000, ROW_GROUP_ROWS - 100_001, ROW_GROUP_ROWS + 5, 70_000, 3];
        let mut batches = Vec::new();
        let mut start = 0u64;
        for s in sizes {
            batches.push(batch(start, s));
            start += s as u64;
        }
        let ours = dir.path().join("ours.parquet");
        let mut out = ParquetOut::create(&ours, batches[0].schema()).unwrap();
        for b in &batches {
            out.write(b).unwrap();
        }
        out.append_metadata("k", "v".into());
        out.commit().unwrap();
        let theirs = dir.path().join("theirs.parquet");
        let f = File::create(&theirs).unwrap();
        let mut w = parquet::arrow::ArrowWriter::try_new(f, batches[0].schema(), Some(writer_properties())).unwrap();
        for b in &batches {
            w.write(b).unwrap();
        }
        w.append_key_value_metadata(parquet::file::metadata::KeyValue::new("k".into(), "v".to_string()));
        w.close().unwrap();
        assert_eq!(std::fs::read(&ours).unwrap(), std::fs::read(&theirs).unwrap());
    }

    #[test]
    fn a_batch_of_another_schema_is_refused_and_nothing_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.parquet");
        let mut out = ParquetOut::create(&path, batch(0, 1).schema()).unwrap();
        let other = RecordBatch::try_new(
            Arc::new(arrow_schema::Schema::new(vec![arrow_schema::Field::new(
                "n",
                arrow_schema::DataType::UInt64,
                false,
            )])),
            vec![Arc::new(UInt64Array::from(vec![1u64])) as ArrayRef],
        )
        .unwrap();
        assert!(out.write(&other).is_err());
        drop(out);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
