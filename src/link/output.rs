//! A linkage folder: `clusters.parquet`, `pairs.parquet`, `model.json` and `summary.json`.
//!
//! Each file is written under a temporary name and renamed when complete; `summary.json` is
//! written last, so a folder without it is not a finished linkage.
//!
//! - `clusters.parquet`: every input record, once — `source`, `record_id`, `row_number`,
//!   `person_id`, `person_records`, `link_stage` (`nhs_number`, `probabilistic`, `identical`,
//!   `unlinked`) and `best_match_probability`.
//! - `pairs.parquet`: every candidate pair of identities, by a representative record on each
//!   side, with each comparison's level and weight, the match weight and the probability.
//! - `model.json`: the trained model (load it with `--model` to skip training).
//! - `summary.json`: counts, blocking, links by stage and source pair, timings.
//! - `linkage.key` (0600): the linkage key that person ids are keyed by. It never leaves the TRE;
//!   give it to the next run (`--linkage-key`, or link into the same folder) to keep ids stable.
//!
//! Person ids are keyed by the linkage key, not derived from anything public: holding the
//! extracts, the project key's public id and a published person id, nobody can work out which
//! source record the id stands for, and a provider (who holds the project key) cannot either.

use std::path::Path;
use std::sync::Arc;

use crate::error::Result;
use crate::io::atomic::write_atomic;
use crate::io::parquet::ParquetOut;
use crate::link::compare::{Pattern, View};
use crate::link::term_frequency::TfWeights;
use crate::link::{Linkage, output_paths};
use crate::token::key::KeyRole;
use crate::token::{ProjectKey, Purpose, Subkey, TokenMac};
use arrow_array::builder::{Float64Builder, StringBuilder};
use arrow_array::{ArrayRef, Float64Array, RecordBatch, UInt32Array, UInt64Array};
use arrow_schema::{DataType, Field, Schema};
use rayon::prelude::*;

/// The linkage key's file name in a linkage folder.
pub const LINKAGE_KEY_FILE: &str = "linkage.key";

/// The linkage key for a run writing to `dir`: the one at `given` (made there if the file does
/// not exist yet), else `dir/linkage.key` from an earlier run, else a new one, which [`write`]
/// saves in `dir`. Returns the key and whether it still has to be saved there.
pub fn linkage_key(dir: &Path, given: Option<&Path>) -> Result<(ProjectKey, bool)> {
    match given {
        Some(p) if p.exists() => Ok((ProjectKey::read_file_as(p, KeyRole::Linkage)?, false)),
        Some(p) => {
            let key = ProjectKey::generate()?;
            key.write_new_file_as(p, KeyRole::Linkage)?;
            Ok((key, false))
        }
        None => {
            let p = dir.join(LINKAGE_KEY_FILE);
            if p.exists() {
                Ok((ProjectKey::read_file_as(&p, KeyRole::Linkage)?, false))
            } else {
                Ok((ProjectKey::generate()?, true))
            }
        }
    }
}

/// Writes the linkage folder; `save_key` writes the linkage key into it first. With `previous`
/// (an earlier linkage: a monthly refresh), persons keep their earlier ids
/// ([`crate::link::refresh`]), the changes are written to `person_changes.parquet`, and their
/// counts are returned.
pub fn write(
    l: &Linkage,
    dir: &Path,
    key: &ProjectKey,
    save_key: bool,
    previous: Option<&crate::link::refresh::Previous>,
) -> Result<Option<crate::link::refresh::RefreshSummary>> {
    crate::io::atomic::create_output_dir(dir)?;
    let [clusters, pairs, model, summary] = output_paths(dir);
    let changes_path = dir.join(crate::link::refresh::CHANGES_FILE);
    crate::io::atomic::remove_stale(&summary)?;
    crate::io::atomic::remove_stale(&changes_path)?;
    if save_key {
        key.write_new_file_as(&dir.join(LINKAGE_KEY_FILE), KeyRole::Linkage)?;
    }
    let mut run_summary = l.summary.clone();
    let ids = match previous {
        None => person_ids(l, key),
        Some(prev) => {
            let mac = person_mac(key);
            let first = first_records(l);
            let refresh = crate::link::refresh::carry_over(l, prev, |p, n| person_id(&mac, l, first[p], n));
            write_batches(&changes_path, &[], std::iter::once(crate::link::refresh::changes_batch(&refresh.changes)))?;
            run_summary.refresh = Some(refresh.summary);
            refresh.ids
        }
    };
    let size = person_sizes(l, ids.len());
    let ids = PersonIds::of(ids);
    let n = l.records.len();
    let kept = kept_pairs(l);
    // The two files at once: each encodes its columns in parallel, and together they keep
    // both cores busy while one of them waits on building its next batches.
    let (c, p) = rayon::join(
        || {
            write_batches(
                &clusters,
                &["record_id", "person_id"],
                built_in_parallel(n, |c| clusters_batch(l, &ids, &size, c)),
            )
        },
        || {
            // Ids and weights nearly all distinct: a dictionary would only be built to be dropped.
            let unique = ["left_record_id", "right_record_id", "match_weight", "match_probability"];
            let view = View::of(&l.records, &l.comparisons, &l.reps);
            let tf = l.term_frequencies.weights(&l.model, &l.comparisons);
            write_batches(&pairs, &unique, built_in_parallel(kept.len(), |c| pairs_batch(l, &view, &tf, &kept[c])))
        },
    );
    c?;
    p?;
    write_atomic(&model, l.model.to_json().as_bytes())?;
    let json = serde_json::to_string_pretty(&run_summary).unwrap_or_default() + "\n";
    write_atomic(&summary, json.as_bytes())?;
    Ok(run_summary.refresh)
}

/// `clusters.parquet`'s rows as Arrow batches, person ids keyed by `key` (the linkage key).
pub fn clusters_batches(l: &Linkage, key: &ProjectKey) -> Vec<RecordBatch> {
    let ids = person_ids(l, key);
    let size = person_sizes(l, ids.len());
    let ids = PersonIds::of(ids);
    built_in_parallel(l.records.len(), |c| clusters_batch(l, &ids, &size, c)).collect()
}

/// `pairs.parquet`'s rows as Arrow batches: the pairs at or above the run's floor.
pub fn pairs_batches(l: &Linkage) -> Vec<RecordBatch> {
    let kept = kept_pairs(l);
    let view = View::of(&l.records, &l.comparisons, &l.reps);
    let tf = l.term_frequencies.weights(&l.model, &l.comparisons);
    built_in_parallel(kept.len(), |c| pairs_batch(l, &view, &tf, &kept[c])).collect()
}

/// Records per person.
fn person_sizes(l: &Linkage, persons: usize) -> Vec<u32> {
    let mut size = vec![0u32; persons];
    for (i, &p) in l.person.iter().enumerate() {
        size[p as usize] += l.records.records_of(i) as u32;
    }
    size
}

/// The pairs written: those at or above the floor (`LinkOptions::pairs_floor`); all when it is 0.
fn kept_pairs(l: &Linkage) -> Vec<u32> {
    let floor = crate::link::floor_weight(l.summary.prediction.pairs_floor);
    (0..l.pairs.len() as u32).filter(|&i| l.pairs[i as usize].3 >= floor).collect()
}

/// Rows per output batch: outputs are built and written a slice at a time, so a linkage of tens
/// of millions of records never holds its whole output as Arrow arrays.
const CHUNK_ROWS: usize = 1 << 20;

/// Row ranges of `n` rows in chunks; one empty range when `n` is 0, so that every output file
/// has a schema.
fn chunks(n: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    (0..n.div_ceil(CHUNK_ROWS).max(1)).map(move |k| k * CHUNK_ROWS..((k + 1) * CHUNK_ROWS).min(n))
}

/// The batches of `n` rows, built a few at a time in parallel (one per thread) and yielded in
/// order, so building keeps every core busy while memory holds only a few batches.
fn built_in_parallel<F>(n: usize, build: F) -> impl Iterator<Item = RecordBatch>
where
    F: Fn(std::ops::Range<usize>) -> RecordBatch + Sync,
{
    let ranges: Vec<_> = chunks(n).collect();
    let group = rayon::current_num_threads().max(1);
    let groups: Vec<Vec<std::ops::Range<usize>>> = ranges.chunks(group).map(<[_]>::to_vec).collect();
    groups.into_iter().flat_map(move |g| g.into_par_iter().map(&build).collect::<Vec<_>>())
}

/// Writes `batches` to `path`, the `unique` columns without a dictionary.
fn write_batches(path: &Path, unique: &[&str], mut batches: impl Iterator<Item = RecordBatch>) -> Result<()> {
    // Infallible: `chunks` yields at least one range.
    let first = batches.next().expect("at least one batch");
    let mut out = ParquetOut::create_with_unique(path, first.schema(), unique)?;
    for batch in std::iter::once(first).chain(batches) {
        out.write(&batch)?;
    }
    out.commit()
}

/// Person pseudonyms: a keyed hash, under the linkage key, of the person's first record (source
/// and record id), so stable across runs that share the linkage key and meaningless without it.
pub fn person_ids(l: &Linkage, key: &ProjectKey) -> Vec<String> {
    let mac = person_mac(key);
    first_records(l).par_iter().map(|&i| person_id(&mac, l, i, 0)).collect()
}

/// The person-id MAC under the linkage key.
fn person_mac(key: &ProjectKey) -> TokenMac {
    TokenMac::new(&Subkey::derive(key, &Purpose::PersonId))
}

/// Each person's first record.
fn first_records(l: &Linkage) -> Vec<usize> {
    let mut first = vec![usize::MAX; l.summary.clustering.persons as usize];
    for (i, &p) in l.person.iter().enumerate() {
        if first[p as usize] == usize::MAX {
            first[p as usize] = i;
        }
    }
    first
}

/// The id of the person whose first record is `i`; try `n` > 0 (a refresh avoiding an earlier
/// person's id) keys the try number in too.
fn person_id(mac: &TokenMac, l: &Linkage, i: usize, n: u32) -> String {
    let r = &l.records;
    let mut buf = Vec::with_capacity(64);
    buf.extend_from_slice(r.sources[r.source[i] as usize].as_bytes());
    buf.push(0);
    buf.extend_from_slice(r.record_id.get(i).as_bytes());
    if n > 0 {
        buf.push(0);
        buf.extend_from_slice(&n.to_le_bytes());
    }
    format!("P{}", &hex::encode(mac.token(&buf).0)[..20])
}

fn clusters_batch(l: &Linkage, ids: &PersonIds, size: &[u32], rows: std::ops::Range<usize>) -> RecordBatch {
    let r = &l.records;
    let n = rows.len();
    // Builders sized up front (growing them by doubling copies every string several times), and
    // filled a column at a time: each loop's reads are independent, so their misses overlap.
    let source_bytes = r.sources.iter().map(String::len).max().unwrap_or(0);
    let persons = &l.person[rows.clone()];
    let mut source = StringBuilder::with_capacity(n, n * source_bytes);
    for i in rows.clone() {
        source.append_value(&r.sources[r.source[i] as usize]);
    }
    let rid = r.record_id.column(&rows.clone().collect::<Vec<_>>());
    let row = UInt64Array::from(r.row_number[rows.clone()].to_vec());
    let pid = ids.0.column(&persons.iter().map(|&p| p as usize).collect::<Vec<_>>());
    let psize: UInt32Array = persons.iter().map(|&p| Some(size[p as usize])).collect();
    let mut stage = StringBuilder::with_capacity(n, n * 13);
    for i in rows.clone() {
        stage.append_value(l.stage[i].as_str());
    }
    let best = Float64Array::from(l.best[rows].to_vec());
    let schema = Schema::new(vec![
        Field::new("source", DataType::Utf8, false),
        Field::new("record_id", DataType::Utf8, false),
        Field::new("row_number", DataType::UInt64, false),
        Field::new("person_id", DataType::Utf8, false),
        Field::new("person_records", DataType::UInt32, false),
        Field::new("link_stage", DataType::Utf8, false),
        Field::new("best_match_probability", DataType::Float64, false),
    ]);
    let cols: Vec<ArrayRef> = vec![
        Arc::new(source.finish()),
        Arc::new(rid),
        Arc::new(row),
        Arc::new(pid),
        Arc::new(psize),
        Arc::new(stage.finish()),
        Arc::new(best),
    ];
    // Infallible: columns built to the schema, all of length n.
    RecordBatch::try_new(Arc::new(schema), cols).expect("clusters batch matches its schema")
}

/// Person ids back to back (one allocation, not one per person), by person number.
struct PersonIds(crate::link::data::Ids);

impl PersonIds {
    fn of(ids: Vec<String>) -> PersonIds {
        let mut out = crate::link::data::Ids::default();
        for id in &ids {
            out.push(id);
        }
        PersonIds(out)
    }
}

fn pairs_batch(l: &Linkage, view: &View, tf: &TfWeights, rows: &[u32]) -> RecordBatch {
    let pairs: Vec<(u32, u32)> = rows.iter().map(|&i| (l.pairs[i as usize].0, l.pairs[i as usize].1)).collect();
    let records: Vec<(usize, usize)> =
        pairs.iter().map(|&(a, b)| (l.reps[a as usize] as usize, l.reps[b as usize] as usize)).collect();
    let scored: Vec<(Pattern, f64)> = rows.iter().map(|&i| (l.pairs[i as usize].2, l.pairs[i as usize].3)).collect();
    let mut adjust = Adjustments::new(tf.adjusted(l.model.comparisons.len()), pairs.len());
    view.for_each_pair(&pairs, |j, rows| adjust.push(&tf.adjustments(rows, 0, 1, scored[j].0)));
    let (fields, cols) = pairs_columns(&l.records, &records, &l.model, &scored, &adjust);
    // Infallible: columns built to the schema, all of one length.
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).expect("pairs batch matches its schema")
}

/// Term-frequency adjustments of a batch of pairs, a column per comparison (empty where a
/// comparison is not adjusted), so that writing a comparison's weights reads only its own.
pub(crate) struct Adjustments {
    adjusted: Vec<bool>,
    by_comparison: Vec<Vec<f64>>,
}

impl Adjustments {
    /// Room for `pairs` pairs; comparison `k` is adjusted where `adjusted[k]`.
    pub(crate) fn new(adjusted: Vec<bool>, pairs: usize) -> Adjustments {
        let by_comparison = adjusted.iter().map(|&a| if a { Vec::with_capacity(pairs) } else { Vec::new() }).collect();
        Adjustments { adjusted, by_comparison }
    }

    /// The next pair's adjustments.
    #[inline]
    pub(crate) fn push(&mut self, adjust: &[f64; crate::link::compare::MAX_COMPARISONS]) {
        for (k, col) in self.by_comparison.iter_mut().enumerate() {
            if self.adjusted[k] {
                col.push(adjust[k]);
            }
        }
    }
}

/// `pairs.parquet`'s columns for pairs of records (indices in `r`) with their patterns, match
/// weights and term-frequency adjustments: both sides' source and record id, each comparison's
/// level and weight (adjustment included), the match weight and probability. Shared by the
/// single-machine writer and the pair kernel ([`crate::link::pairs`]), so both write the same
/// rows. Built a column at a time: each loop's reads are independent of each other, so the
/// processor overlaps their cache misses.
pub(crate) fn pairs_columns(
    r: &crate::link::data::Records,
    records: &[(usize, usize)],
    m: &crate::link::model::Model,
    scored: &[(Pattern, f64)],
    adjust: &Adjustments,
) -> (Vec<Field>, Vec<ArrayRef>) {
    let n = records.len();
    let mut fields = Vec::new();
    let mut cols: Vec<ArrayRef> = Vec::new();
    let source_bytes = r.sources.iter().map(String::len).max().unwrap_or(0);
    for (side, name) in ["left", "right"].into_iter().enumerate() {
        let of: Vec<usize> = records.iter().map(|&(x, y)| if side == 0 { x } else { y }).collect();
        let mut source = StringBuilder::with_capacity(n, n * source_bytes);
        for &i in &of {
            source.append_value(&r.sources[r.source[i] as usize]);
        }
        fields.push(Field::new(format!("{name}_source"), DataType::Utf8, false));
        fields.push(Field::new(format!("{name}_record_id"), DataType::Utf8, false));
        cols.push(Arc::new(source.finish()));
        cols.push(Arc::new(r.record_id.column(&of)));
    }
    for (k, comp) in m.comparisons.iter().enumerate() {
        // As `Model::explain`: each level's weight computed once, not per pair.
        let weight: Vec<f64> = comp.levels.iter().map(|l| l.weight()).collect();
        let label_bytes = comp.levels.iter().map(|l| l.label.len()).max().unwrap_or(0);
        let (mut levels, mut weights) =
            (StringBuilder::with_capacity(n, n * label_bytes), Float64Builder::with_capacity(n));
        let adjusted = &adjust.by_comparison[k];
        for (j, &(p, _)) in scored.iter().enumerate() {
            let l = p.get(k) as usize;
            levels.append_value(&comp.levels[l].label);
            weights.append_value(if l == 0 { 0.0 } else { weight[l] + adjusted.get(j).copied().unwrap_or(0.0) });
        }
        fields.push(Field::new(format!("{}_level", comp.name), DataType::Utf8, false));
        fields.push(Field::new(format!("{}_weight", comp.name), DataType::Float64, false));
        cols.push(Arc::new(levels.finish()));
        cols.push(Arc::new(weights.finish()));
    }
    let total: Float64Array = scored.iter().map(|&(_, w)| Some(w)).collect();
    let prob: Float64Array = scored.iter().map(|&(_, w)| Some(crate::link::model::Model::probability(w))).collect();
    fields.push(Field::new("match_weight", DataType::Float64, false));
    fields.push(Field::new("match_probability", DataType::Float64, false));
    cols.push(Arc::new(total));
    cols.push(Arc::new(prob));
    (fields, cols)
}
