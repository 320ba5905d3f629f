//! Makes a pseudonymised extract stand for another region's population, for linkage tests at
//! national scale.
//!
//! `pseudolink synth` can only issue NHS numbers from the range reserved for testing, which holds
//! 909,090 valid numbers, so one synthetic population has at most that many persons. To link ten
//! million persons' records, `benches/national_scale.sh` generates several populations with
//! different seeds and passes each tokenised extract through this program, which, without ever
//! seeing plaintext:
//!
//! - replaces every NHS-number token `t` by the first 16 bytes of `SHA-256(region ‖ t)`: equal
//!   tokens stay equal within a region, and regions no longer share NHS numbers;
//! - prefixes every record id with `rNN-`, so ids stay unique across regions;
//! - names the source `<source>-rNN` in the manifest, since a linkage takes one extract per source.
//!
//! Everything else is copied unchanged.
//!
//! ```sh
//! cargo run --release --example regionalise -- REGION IN.parquet OUT.parquet
//! ```

use std::fs::File;
use std::sync::Arc;

use arrow_array::builder::{FixedSizeBinaryBuilder, StringBuilder};
use arrow_array::{Array, ArrayRef, FixedSizeBinaryArray, RecordBatch, StringArray};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::metadata::KeyValue;
use pseudolink::config::FieldType;
use pseudolink::io::manifest::{MANIFEST_KEY, Manifest};
use pseudolink::io::parquet::writer_properties;
use sha2::{Digest, Sha256};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [region, input, output] = args.as_slice() else {
        return Err("usage: regionalise REGION IN.parquet OUT.parquet".into());
    };
    let region: u32 = region.parse()?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(input)?)?.with_batch_size(65_536);
    let manifest = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|e| e.key == MANIFEST_KEY))
        .and_then(|e| e.value.clone())
        .ok_or("not a pseudolink extract")?;
    let mut parsed = Manifest::from_json(&manifest)?;
    // Each region's extract is its own source (`acute-r03`): a linkage takes one extract per source.
    parsed.source = format!("{}-r{region:02}", parsed.source);
    let manifest = parsed.to_json();
    let nhs_column = parsed
        .fields
        .iter()
        .filter(|f| f.kind == FieldType::NhsNumber)
        .flat_map(|f| f.columns.iter())
        .find(|c| c.part == "token")
        .map(|c| c.name.clone());
    let schema = builder.schema().clone();
    let mut writer = ArrowWriter::try_new(File::create(output)?, schema.clone(), Some(writer_properties()))?;
    writer.append_key_value_metadata(KeyValue::new(MANIFEST_KEY.to_string(), manifest));
    let prefix = format!("r{region:02}-");
    for batch in builder.build()? {
        let batch = batch?;
        let mut cols: Vec<ArrayRef> = batch.columns().to_vec();
        for (i, f) in schema.fields().iter().enumerate() {
            if f.name() == "record_id" {
                let ids = cols[i].as_any().downcast_ref::<StringArray>().ok_or("record_id is not text")?;
                let mut b = StringBuilder::new();
                for k in 0..ids.len() {
                    b.append_value(format!("{prefix}{}", ids.value(k)));
                }
                cols[i] = Arc::new(b.finish());
            } else if Some(f.name()) == nhs_column.as_ref() {
                let t = cols[i].as_any().downcast_ref::<FixedSizeBinaryArray>().ok_or("NHS token is not binary")?;
                let mut b = FixedSizeBinaryBuilder::new(16);
                for k in 0..t.len() {
                    if t.is_valid(k) {
                        let mut h = Sha256::new();
                        h.update(region.to_be_bytes());
                        h.update(t.value(k));
                        b.append_value(&h.finalize()[..16])?;
                    } else {
                        b.append_null();
                    }
                }
                cols[i] = Arc::new(b.finish());
            }
        }
        writer.write(&RecordBatch::try_new(schema.clone(), cols)?)?;
    }
    writer.close()?;
    Ok(())
}
