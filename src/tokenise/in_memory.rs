//! Tokenising Arrow batches held in memory: the library's entry point for a notebook's table and
//! for one partition of a Spark job. The kernel, checks and manifest are those of
//! [`super::tokenise`]; only the input and output differ (batches in, one batch out, no files).

use std::path::Path;
use std::sync::Arc;

use arrow_array::{RecordBatch, UInt64Array};
use arrow_schema::{Schema, SchemaRef};

use super::kernel::Counts;
use super::plan::Plan;
use super::{count_name_bands, manifest, quality_report};
use crate::config::TokeniseConfig;
use crate::error::{Error, Result};
use crate::io::BatchSource;
use crate::io::arrow::ArrowSource;
use crate::io::manifest::{MANIFEST_KEY, Manifest};
use crate::token::ProjectKey;
use crate::tokenise::quality::QualityReport;

/// A tokenised table.
#[derive(Debug, Clone)]
pub struct Tokenised {
    /// The pseudonymised rows, in keyed pseudo-random order (never the input's); the schema's
    /// metadata holds the manifest under [`MANIFEST_KEY`], so the batch is a complete extract.
    pub batch: RecordBatch,
    /// Each row's keyed sort key, as the rows are ordered. A job that tokenises a table in
    /// several parts sorts the union of the parts by it, so that no part's position gives away
    /// where its rows came from.
    pub order: Vec<u64>,
    /// The manifest.
    pub manifest: Manifest,
    /// The data-quality report.
    pub report: QualityReport,
}

/// Tokenises `batches` (all of `schema`) under `config` and `key`; `label` names the input in
/// errors, which give its row and column and never a value. The `resistant` profile counts name
/// frequencies over exactly these rows, so give the whole extract at once under that profile.
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{RecordBatch, StringArray};
/// use arrow_schema::{DataType, Field, Schema};
/// use pseudolink::{ProjectKey, config::TokeniseConfig, tokenise::tokenise_arrow};
///
/// let schema = Arc::new(Schema::new(vec![
///     Field::new("id", DataType::Utf8, false),
///     Field::new("surname", DataType::Utf8, true),
/// ]));
/// let batch = RecordBatch::try_new(schema.clone(), vec![
///     Arc::new(StringArray::from(vec!["1", "2"])),
///     Arc::new(StringArray::from(vec![Some("Smith"), None])),
/// ]).unwrap();
/// let config = TokeniseConfig::from_toml_str(r#"
///     source = "gp"
///     [record_id]
///     column = "id"
///     [[field]]
///     column = "surname"
///     type = "family_name"
/// "#, "gp.toml".as_ref())?;
/// let key = ProjectKey::from_bytes([42; 32]);
/// let done = tokenise_arrow(&config, &key, "gp table".as_ref(), schema, vec![batch])?;
/// assert_eq!(done.batch.num_rows(), 2);
/// assert!(done.batch.schema().metadata().contains_key(pseudolink::io::manifest::MANIFEST_KEY));
/// # Ok::<(), pseudolink::Error>(())
/// ```
pub fn tokenise_arrow(
    config: &TokeniseConfig,
    key: &ProjectKey,
    label: &Path,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
) -> Result<Tokenised> {
    let mut source = ArrowSource::new(label, schema, batches)?;
    let mut plan = Plan::new(config, source.header(), key, label)?;
    source.select(&plan.selected);
    if plan.name_bands.iter().any(Option::is_some) {
        let mut counting = source.rewound();
        count_name_bands(&mut plan, &mut counting)?;
    }
    let mut totals = Counts::for_plan(&plan);
    let mut record_ids = super::duplicates::DuplicateIds::default();
    let mut registrations = super::registrations::Registrations::default();
    let mut parts = Vec::new();
    let mut order = Vec::new();
    while let Some(batch) = source.next_batch()? {
        for c in super::tokenise_batch(&plan, &batch, batch.num_rows(), label) {
            let c = c?;
            record_ids.extend(c.ids);
            registrations.extend(c.people);
            totals.add(&c.chunk.counts);
            order.extend_from_slice(&c.chunk.order);
            parts.push(c.chunk.batch);
        }
    }
    record_ids.check(label, &config.record_id.column)?;
    let all =
        arrow_select::concat::concat_batches(&plan.schema, &parts).map_err(|e| Error::output(label, e.to_string()))?;
    drop(parts);
    // Keyed order: sort by the kernel's sort key, ties (never expected) by position.
    let mut rows: Vec<u32> = (0..order.len() as u32).collect();
    rows.sort_unstable_by_key(|&r| (order[r as usize], r));
    let take = UInt64Array::from_iter_values(rows.iter().map(|&r| r as u64));
    let sorted = arrow_select::take::take_record_batch(&all, &take).map_err(|e| Error::output(label, e.to_string()))?;
    let order: Vec<u64> = rows.iter().map(|&r| order[r as usize]).collect();
    let manifest = manifest(config, key, &plan, totals.rows);
    let mut metadata = plan.schema.metadata().clone();
    metadata.insert(MANIFEST_KEY.to_string(), manifest.to_json());
    let schema = Arc::new(Schema::new_with_metadata(plan.schema.fields().clone(), metadata));
    let batch = sorted.with_schema(schema).map_err(|e| Error::output(label, e.to_string()))?;
    let mut report = quality_report(config, key, label, label, &plan, &totals);
    report.duplicate_registrations = super::registrations::summary(&plan, &registrations.find());
    Ok(Tokenised { batch, order, manifest, report })
}
