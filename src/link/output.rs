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
use crate::link::{Linkage, output_paths};
use crate::token::key::KeyRole;
use crate::token::{ProjectKey, Purpose, Subkey, TokenMac};
use arrow_array::builder::{Float64Builder, StringBuilder, UInt32Builder, UInt64Builder};
use arrow_array::{ArrayRef, RecordBatch};
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
            let unique = ["left_record_id", "right_record_id"];
            write_batches(&pairs, &unique, built_in_parallel(kept.len(), |c| pairs_batch(l, &kept[c])))
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
    built_in_parallel(l.records.len(), |c| clusters_batch(l, &ids, &size, c)).collect()
}

/// `pairs.parquet`'s rows as Arrow batches: the pairs at or above the run's floor.
pub fn pairs_batches(l: &Linkage) -> Vec<RecordBatch> {
    let kept = kept_pairs(l);
    built_in_parallel(kept.len(), |c| pairs_batch(l, &kept[c])).collect()
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

fn clusters_batch(l: &Linkage, ids: &[String], size: &[u32], rows: std::ops::Range<usize>) -> RecordBatch {
    let r = &l.records;
    let n = rows.len();
    // Builders sized up front: growing them by doubling copies every string several times.
    let rid_bytes = r.record_id.bytes(rows.clone());
    let source_bytes = r.sources.iter().map(String::len).max().unwrap_or(0);
    let text = |bytes: usize| StringBuilder::with_capacity(n, bytes);
    let (mut source, mut rid, mut row, mut pid, mut psize, mut stage, mut best) = (
        text(n * source_bytes),
        text(rid_bytes),
        UInt64Builder::with_capacity(n),
        text(n * ids.first().map_or(0, String::len)),
        UInt32Builder::with_capacity(n),
        text(n * 13),
        Float64Builder::with_capacity(n),
    );
    for i in rows {
        source.append_value(&r.sources[r.source[i] as usize]);
        rid.append_value(r.record_id.get(i));
        row.append_value(r.row_number[i]);
        pid.append_value(&ids[l.person[i] as usize]);
        psize.append_value(size[l.person[i] as usize]);
        stage.append_value(l.stage[i].as_str());
        best.append_value(l.best[i]);
    }
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
        Arc::new(rid.finish()),
        Arc::new(row.finish()),
        Arc::new(pid.finish()),
        Arc::new(psize.finish()),
        Arc::new(stage.finish()),
        Arc::new(best.finish()),
    ];
    // Infallible: columns built to the schema, all of length n.
    RecordBatch::try_new(Arc::new(schema), cols).expect("clusters batch matches its schema")
}

fn pairs_batch(l: &Linkage, rows: &[u32]) -> RecordBatch {
    let pairs = rows.iter().map(|&i| {
        let (a, b, p, w) = l.pairs[i as usize];
        (l.reps[a as usize] as usize, l.reps[b as usize] as usize, p, w)
    });
    let (fields, cols) = pairs_columns(&l.records, &l.comparisons, &l.model, &l.term_frequencies, pairs);
    // Infallible: columns built to the schema, all of one length.
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).expect("pairs batch matches its schema")
}

/// `pairs.parquet`'s columns for `pairs` (the two records' indices in `r`, the pattern and the
/// match weight): both sides' source and record id, each comparison's level and weight (term
/// frequencies included), the match weight and probability. Shared by the single-machine writer
/// and the pair kernel ([`crate::link::pairs`]), so both write the same rows.
pub(crate) fn pairs_columns(
    r: &crate::link::data::Records,
    c: &crate::link::compare::Comparisons,
    m: &crate::link::model::Model,
    tf: &crate::link::term_frequency::TermFrequencies,
    pairs: impl Iterator<Item = (usize, usize, crate::link::compare::Pattern, f64)>,
) -> (Vec<Field>, Vec<ArrayRef>) {
    let mut fields = vec![
        Field::new("left_source", DataType::Utf8, false),
        Field::new("left_record_id", DataType::Utf8, false),
        Field::new("right_source", DataType::Utf8, false),
        Field::new("right_record_id", DataType::Utf8, false),
    ];
    let mut text: Vec<StringBuilder> = (0..4).map(|_| StringBuilder::new()).collect();
    let mut levels: Vec<StringBuilder> = m.comparisons.iter().map(|_| StringBuilder::new()).collect();
    let mut weights: Vec<Float64Builder> = m.comparisons.iter().map(|_| Float64Builder::new()).collect();
    let (mut total, mut prob) = (Float64Builder::new(), Float64Builder::new());
    for (x, y, p, w) in pairs {
        for (k, rec) in [x, y].into_iter().enumerate() {
            text[2 * k].append_value(&r.sources[r.source[rec] as usize]);
            text[2 * k + 1].append_value(r.record_id.get(rec));
        }
        let adjust = tf.adjustments(m, c, r, x, y, p);
        // As `Model::explain`, without allocating per pair.
        for (k, comp) in m.comparisons.iter().enumerate() {
            let level = &comp.levels[p.get(k) as usize];
            levels[k].append_value(&level.label);
            weights[k].append_value(if p.get(k) == 0 { 0.0 } else { level.weight() + adjust[k] });
        }
        total.append_value(w);
        prob.append_value(crate::link::model::Model::probability(w));
    }
    let mut cols: Vec<ArrayRef> = text.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef).collect();
    for (k, comp) in m.comparisons.iter().enumerate() {
        fields.push(Field::new(format!("{}_level", comp.name), DataType::Utf8, false));
        fields.push(Field::new(format!("{}_weight", comp.name), DataType::Float64, false));
        cols.push(Arc::new(levels[k].finish()));
        cols.push(Arc::new(weights[k].finish()));
    }
    fields.push(Field::new("match_weight", DataType::Float64, false));
    fields.push(Field::new("match_probability", DataType::Float64, false));
    cols.push(Arc::new(total.finish()));
    cols.push(Arc::new(prob.finish()));
    (fields, cols)
}
