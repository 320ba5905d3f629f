//! Rows written in a keyed pseudo-random order.
//!
//! An extract's row order is information: an export sorted by surname, date of birth or
//! admission gives those values away by position to anyone who can line the rows up against a
//! public list. So tokenise writes rows sorted by a keyed hash of each row's plaintext record id
//! and input row number (computed by the kernel), which nobody without both the key and the
//! input can recompute, and writes no input row numbers.
//!
//! Memory stays bounded whatever the input's size: rows are spread over buckets by the high bits
//! of their sort key (so bucket order is sort order), buckets beyond the first are spilled to
//! private Arrow IPC files beside the output (created exclusively, 0600, removed when done or on
//! failure), and each bucket is then sorted alone and written. Small inputs use one bucket, kept
//! in memory.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch, UInt32Array, UInt64Array};
use arrow_ipc::reader::FileReader;
use arrow_ipc::writer::FileWriter;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;

use crate::error::{Error, Result};
use crate::io::atomic::{create_private, temp_name};

/// Rows per bucket aimed at: a bucket is sorted in memory (about twice its size at once).
const BUCKET_ROWS: u64 = 300_000;
/// At most this many spill files are open at once.
const MAX_BUCKETS: u64 = 512;

/// Rows gathered into buckets, then written in keyed order.
pub(crate) struct Shuffle {
    schema: SchemaRef,
    spill_schema: SchemaRef,
    dir: PathBuf,
    memory: Vec<RecordBatch>,
    spills: Vec<Option<(PathBuf, FileWriter<File>)>>,
}

impl Shuffle {
    /// A shuffle for about `rows` rows of `schema`, spilling (if it must) beside `output`.
    pub(crate) fn new(schema: SchemaRef, output: &Path, rows: u64) -> Shuffle {
        let buckets = rows.div_ceil(BUCKET_ROWS).clamp(1, MAX_BUCKETS) as usize;
        let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.push(Field::new("__order", DataType::UInt64, false));
        let dir = match output.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Shuffle {
            schema,
            spill_schema: Arc::new(Schema::new(fields)),
            dir,
            memory: Vec::new(),
            spills: if buckets > 1 { (0..buckets).map(|_| None).collect() } else { Vec::new() },
        }
    }

    /// Adds a tokenised batch and its rows' sort keys.
    pub(crate) fn push(&mut self, batch: &RecordBatch, order: Vec<u64>) -> Result<()> {
        let mut cols = batch.columns().to_vec();
        let buckets = self.spills.len();
        if buckets == 0 {
            cols.push(Arc::new(UInt64Array::from(order)));
            self.memory.push(self.spill_batch(cols)?);
            return Ok(());
        }
        let mut rows_of: Vec<Vec<u32>> = vec![Vec::new(); buckets];
        for (i, &o) in order.iter().enumerate() {
            rows_of[bucket(o, buckets)].push(i as u32);
        }
        cols.push(Arc::new(UInt64Array::from(order)));
        let whole = self.spill_batch(cols)?;
        for (b, rows) in rows_of.into_iter().enumerate().filter(|(_, r)| !r.is_empty()) {
            let part = take(&whole, &UInt32Array::from(rows))?;
            if self.spills[b].is_none() {
                let path = temp_name(&self.dir, &format!("bucket-{b}"));
                let file = create_private(&path).map_err(|e| Error::io("creating", &path, e))?;
                let w =
                    FileWriter::try_new(file, &self.spill_schema).map_err(|e| Error::output(&path, e.to_string()))?;
                self.spills[b] = Some((path, w));
            }
            let (path, w) = self.spills[b].as_mut().expect("opened above");
            w.write(&part).map_err(|e| Error::output(path, e.to_string()))?;
        }
        Ok(())
    }

    /// Writes every row, in keyed order, to `out`.
    pub(crate) fn finish(mut self, out: &mut ArrowWriter<File>, output: &Path) -> Result<()> {
        if self.spills.is_empty() {
            let batches = std::mem::take(&mut self.memory);
            return self.write_sorted(batches, out, output);
        }
        for b in 0..self.spills.len() {
            let Some((path, mut w)) = self.spills[b].take() else { continue };
            w.finish().map_err(|e| Error::output(&path, e.to_string()))?;
            drop(w);
            let read = File::open(&path).map_err(|e| Error::io("reading", &path, e))?;
            let reader = FileReader::try_new(read, None).map_err(|e| Error::output(&path, e.to_string()))?;
            let batches = reader.collect::<std::result::Result<Vec<_>, _>>();
            let _ = std::fs::remove_file(&path);
            let batches = batches.map_err(|e| Error::output(&path, e.to_string()))?;
            self.write_sorted(batches, out, output)?;
        }
        Ok(())
    }

    fn write_sorted(&self, batches: Vec<RecordBatch>, out: &mut ArrowWriter<File>, output: &Path) -> Result<()> {
        if batches.is_empty() {
            return Ok(());
        }
        let all = arrow_select::concat::concat_batches(&self.spill_schema, &batches)
            .map_err(|e| Error::output(output, e.to_string()))?;
        drop(batches);
        let last = all.num_columns() - 1;
        let keys = all.column(last).as_any().downcast_ref::<UInt64Array>().expect("the spill schema's order column");
        let mut idx: Vec<u32> = (0..all.num_rows() as u32).collect();
        // Stable, so rows with equal keys (never seen in practice) keep a deterministic order.
        idx.sort_by_key(|&i| keys.value(i as usize));
        let sorted = take(&all, &UInt32Array::from(idx))?;
        let cols: Vec<ArrayRef> = sorted.columns()[..last].to_vec();
        let batch =
            RecordBatch::try_new(self.schema.clone(), cols).map_err(|e| Error::output(output, e.to_string()))?;
        out.write(&batch).map_err(|e| Error::output(output, e.to_string()))
    }

    fn spill_batch(&self, cols: Vec<ArrayRef>) -> Result<RecordBatch> {
        RecordBatch::try_new(self.spill_schema.clone(), cols).map_err(|e| Error::output(&self.dir, e.to_string()))
    }
}

impl Drop for Shuffle {
    fn drop(&mut self) {
        for (path, _) in self.spills.iter().flatten() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The bucket of a sort key: its high bits, so buckets in order hold keys in order.
fn bucket(order: u64, buckets: usize) -> usize {
    ((order as u128 * buckets as u128) >> 64) as usize
}

fn take(batch: &RecordBatch, rows: &UInt32Array) -> Result<RecordBatch> {
    let cols = batch
        .columns()
        .iter()
        .map(|c| arrow_select::take::take(c.as_ref(), rows, None))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::output(Path::new("."), e.to_string()))?;
    RecordBatch::try_new(batch.schema(), cols).map_err(|e| Error::output(Path::new("."), e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_partition_keys_in_order() {
        for n in [1, 2, 7, 512] {
            assert_eq!(bucket(0, n), 0);
            assert_eq!(bucket(u64::MAX, n), n - 1);
            let mut last = 0;
            for k in (0..=64u32).map(|s| if s == 64 { u64::MAX } else { (1u64 << s) - 1 }) {
                let b = bucket(k, n);
                assert!(b >= last && b < n);
                last = b;
            }
        }
    }

    fn rows(keys: &[u64]) -> (RecordBatch, Vec<u64>) {
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::UInt64, false)]));
        let v: Vec<u64> = (0..keys.len() as u64).collect();
        (RecordBatch::try_new(schema, vec![Arc::new(UInt64Array::from(v))]).unwrap(), keys.to_vec())
    }

    #[test]
    fn rows_come_out_sorted_by_key_in_memory_and_spilled_and_no_spill_file_is_left() {
        let keys: Vec<u64> = (0..5_000u64).map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).collect();
        let mut want: Vec<(u64, u64)> = keys.iter().copied().zip(0..).collect();
        want.sort();
        for rows_hint in [10, 10_000_000] {
            let dir = tempfile::tempdir().unwrap();
            let out_path = dir.path().join("out.parquet");
            let (batch, _) = rows(&keys);
            let mut s = Shuffle::new(batch.schema(), &out_path, rows_hint);
            for (lo, hi) in [(0, 1_000), (1_000, 5_000)] {
                let (b, k) = (batch.slice(lo, hi - lo), keys[lo..hi].to_vec());
                s.push(&b, k).unwrap();
            }
            let file = File::create(&out_path).unwrap();
            let mut w = ArrowWriter::try_new(file, batch.schema(), None).unwrap();
            s.finish(&mut w, &out_path).unwrap();
            w.close().unwrap();
            let f = File::open(&out_path).unwrap();
            let got: Vec<u64> = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
                .unwrap()
                .build()
                .unwrap()
                .flat_map(|b| {
                    let b = b.unwrap();
                    b.column(0).as_any().downcast_ref::<UInt64Array>().unwrap().values().to_vec()
                })
                .collect();
            assert_eq!(got, want.iter().map(|w| w.1).collect::<Vec<_>>(), "hint {rows_hint}");
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "only the output is left");
        }
    }
}
