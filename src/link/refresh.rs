//! Monthly refresh: person ids carried over from an earlier linkage.
//!
//! TREs receive extracts again every month, and research cohorts, derived tables and outputs
//! already checked out of the TRE are keyed on person ids. A refresh (`link --previous DIR`)
//! links the new deliveries from scratch — so the persons are exactly those a full re-link
//! finds, with the same accuracy — and then gives each person the id they had before:
//!
//! - a person keeps the earlier id held by most of their records that were linked before (ties
//!   to the smaller id). Each earlier id goes to one person only, taken by the person holding
//!   most of its records (then the smaller id, then the person with the earlier first record);
//! - a person holding no earlier id (only new records, or records whose earlier id another
//!   person took) gets a new id, keyed by the linkage key as in a first run and never equal to
//!   an earlier id.
//!
//! So a person whose records are unchanged, or only gained new records, keeps their id; where new
//! evidence *merges* two earlier persons, the one holding more of the records keeps their id;
//! where it *splits* one, the larger part keeps it. Every change is listed in
//! `person_changes.parquet` — earlier id, id now, kind, records moved — and counted in
//! `summary.json`:
//! - `merged`: records of an earlier person now in a person who kept another earlier id;
//! - `split`: records of an earlier person now in a person with a new id;
//! - `retired`: an earlier id none of whose records was delivered again.

use std::path::Path;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch, StringArray, UInt64Array};
use arrow_schema::{DataType, Field, Schema};
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::link::Linkage;

/// File name of the change list in a linkage folder.
pub const CHANGES_FILE: &str = "person_changes.parquet";

/// An earlier linkage's person ids, by record.
#[derive(Debug, Default)]
pub struct Previous {
    /// Record digest → index into `ids`.
    by_record: FxHashMap<u128, u32>,
    /// Earlier person ids, distinct.
    ids: Vec<String>,
    /// Records per earlier id.
    records: Vec<u64>,
    /// The earlier model's key id (its extracts' project key, and TRE key when re-keyed).
    key_id: String,
}

/// Whether `id` is a person id as `link` writes them: `P` and 20 lower-case hex digits.
fn is_person_id(id: &str) -> bool {
    id.len() == 21 && id.starts_with('P') && id[1..].bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Previous {
    /// Reads `dir/clusters.parquet` of an earlier linkage.
    pub fn read(dir: &Path) -> Result<Previous> {
        let path = dir.join("clusters.parquet");
        let not_linkage = || {
            Error::usage(format!(
                "--previous {}: not a finished linkage folder (it needs the clusters.parquet, model.json and \
                 summary.json a `link` run writes)",
                dir.display()
            ))
        };
        let json = |name: &str| -> Result<serde_json::Value> {
            let text = std::fs::read_to_string(dir.join(name)).map_err(|_| not_linkage())?;
            serde_json::from_str(&text).map_err(|_| not_linkage())
        };
        let summary = json("summary.json")?;
        let key_id = json("model.json")?.get("key_id").and_then(|k| k.as_str()).unwrap_or_default().to_string();
        if crate::link::summary::field(&summary, &["records", "total"], "records").as_u64().is_none()
            || key_id.is_empty()
            || !path.exists()
        {
            return Err(not_linkage());
        }
        let reader = crate::io::parquet::read_columns(
            &path,
            &["source", "record_id", "person_id"],
            "lacks the source, record_id and person_id columns of a linkage's clusters.parquet",
        )?;
        let mut p = Previous { key_id, ..Previous::default() };
        let mut index: FxHashMap<String, u32> = FxHashMap::default();
        for batch in reader {
            let batch = batch.map_err(|_| Error::manifest(&path, "could not be decoded"))?;
            let col = |name: &str| {
                batch
                    .column_by_name(name)
                    .and_then(|c| c.as_any().downcast_ref::<StringArray>().cloned())
                    .ok_or_else(|| Error::manifest(&path, format!("column `{name}` is not text")))
            };
            let (source, record, person) = (col("source")?, col("record_id")?, col("person_id")?);
            if source.null_count() + record.null_count() + person.null_count() > 0 {
                return Err(Error::manifest(&path, "has an empty source, record id or person id"));
            }
            let digests: Vec<u128> = {
                use rayon::prelude::*;
                (0..batch.num_rows())
                    .into_par_iter()
                    .map(|i| crate::io::digest128(&[source.value(i), record.value(i)]))
                    .collect()
            };
            p.by_record.reserve(digests.len());
            for (i, d) in digests.into_iter().enumerate() {
                let id = match index.get(person.value(i)) {
                    Some(&id) => id,
                    None if !is_person_id(person.value(i)) => {
                        return Err(Error::manifest(
                            &path,
                            format!(
                                "row {}: the person id is not one `link` writes (P and 20 hex digits); the file has \
                                 been altered. Refresh from the linkage folder as `link` wrote it",
                                crate::error::group_digits(i as u64 + 1)
                            ),
                        ));
                    }
                    None => {
                        let id = p.ids.len() as u32;
                        p.ids.push(person.value(i).to_string());
                        p.records.push(0);
                        index.insert(person.value(i).to_string(), id);
                        id
                    }
                };
                p.records[id as usize] += 1;
                if p.by_record.insert(d, id).is_some() {
                    return Err(Error::manifest(&path, "lists one record twice"));
                }
            }
        }
        Ok(p)
    }
}

impl Previous {
    /// Refuses to carry ids over to linkage `l` when the earlier linkage was made from extracts
    /// under another key: their record ids (keyed tokens) never meet, so every person would
    /// silently get a new id.
    pub fn check_fits(&self, l: &Linkage) -> std::result::Result<(), crate::error::Invalid> {
        if self.key_id != l.model.key_id {
            return Err(format!(
                "the earlier linkage was made from extracts under key id {}, these are under {}; their record ids \
                 never meet, so no person could keep an id. Refresh from a linkage of this project's extracts",
                self.key_id, l.model.key_id
            )
            .into());
        }
        Ok(())
    }

    /// Records of the earlier linkage.
    pub fn records(&self) -> u64 {
        self.records.iter().sum()
    }

    /// Persons of the earlier linkage.
    pub fn persons(&self) -> u64 {
        self.ids.len() as u64
    }
}

/// One listed change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The earlier person id.
    pub old_id: String,
    /// The person id now (empty for `retired`).
    pub new_id: String,
    /// `merged`, `split` or `retired`.
    pub kind: &'static str,
    /// Records moved (for `retired`, the earlier person's records).
    pub records: u64,
}

/// What a refresh did, for `summary.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RefreshSummary {
    /// Persons of the earlier linkage.
    pub previous_persons: u64,
    /// Persons now who kept an earlier id.
    pub persons_kept: u64,
    /// Persons now with a new id.
    pub persons_new: u64,
    /// Records linked before (found in the earlier linkage).
    pub records_previous: u64,
    /// Records not in the earlier linkage.
    pub records_new: u64,
    /// Change rows by kind.
    pub merged: u64,
    /// Rows of kind `split`.
    pub split: u64,
    /// Earlier ids whose records were not delivered again.
    pub retired: u64,
}

/// Person ids after a refresh, the changes, and their summary.
#[derive(Debug, Clone)]
pub struct Refresh {
    /// Id per person now.
    pub ids: Vec<String>,
    /// The listed changes, by earlier id then id now.
    pub changes: Vec<Change>,
    /// Counts.
    pub summary: RefreshSummary,
}

/// Carries earlier ids over to the persons of `l`; `fresh(p, n)` is person `p`'s new id, the
/// `n`-th try (tries go on while an id equals an earlier one).
pub fn carry_over(l: &Linkage, prev: &Previous, fresh: impl Fn(usize, u32) -> String) -> Refresh {
    use rayon::prelude::*;
    let r = &l.records;
    let persons = l.summary.clustering.persons as usize;
    let mut first = vec![usize::MAX; persons];
    for (i, &p) in l.person.iter().enumerate() {
        first[p as usize] = first[p as usize].min(i);
    }
    // Each record's (person now, earlier id), sorted: runs are the records a person holds of
    // an earlier id.
    let mut links: Vec<(u32, u32)> = (0..r.len())
        .into_par_iter()
        .filter_map(|i| {
            let old =
                prev.by_record.get(&crate::io::digest128(&[&r.sources[r.source[i] as usize], r.record_id.get(i)]))?;
            Some((l.person[i], *old))
        })
        .collect();
    links.par_sort_unstable();
    let mut summary = RefreshSummary {
        previous_persons: prev.ids.len() as u64,
        records_previous: links.len() as u64,
        records_new: (r.len() - links.len()) as u64,
        ..Default::default()
    };
    let held: Vec<((u32, u32), u64)> = links.chunk_by(|a, b| a == b).map(|run| (run[0], run.len() as u64)).collect();
    drop(links);
    let mut candidates = held.clone();
    // Most records first, then the smaller earlier id, then the person with the earlier first
    // record: the assignment does not depend on hash-map order.
    candidates.sort_by(|(a, n), (b, m)| {
        m.cmp(n)
            .then_with(|| prev.ids[a.1 as usize].cmp(&prev.ids[b.1 as usize]))
            .then_with(|| first[a.0 as usize].cmp(&first[b.0 as usize]))
    });
    let mut kept: Vec<Option<u32>> = vec![None; persons];
    let mut taken = vec![false; prev.ids.len()];
    for &((p, old), _) in &candidates {
        if kept[p as usize].is_none() && !taken[old as usize] {
            kept[p as usize] = Some(old);
            taken[old as usize] = true;
        }
    }
    let earlier: rustc_hash::FxHashSet<&str> = prev.ids.iter().map(String::as_str).collect();
    let ids: Vec<String> = (0..persons)
        .map(|p| match kept[p] {
            Some(old) => prev.ids[old as usize].clone(),
            None => (0..).map(|n| fresh(p, n)).find(|id| !earlier.contains(id.as_str())).unwrap_or_default(),
        })
        .collect();
    summary.persons_kept = kept.iter().filter(|k| k.is_some()).count() as u64;
    summary.persons_new = persons as u64 - summary.persons_kept;
    let mut changes: Vec<Change> = Vec::new();
    let mut seen = vec![false; prev.ids.len()];
    for &((p, old), n) in &held {
        seen[old as usize] = true;
        if kept[p as usize] == Some(old) {
            continue;
        }
        let kind = if kept[p as usize].is_some() { "merged" } else { "split" };
        changes.push(Change {
            old_id: prev.ids[old as usize].clone(),
            new_id: ids[p as usize].clone(),
            kind,
            records: n,
        });
    }
    for (old, s) in seen.iter().enumerate() {
        if !s {
            changes.push(Change {
                old_id: prev.ids[old].clone(),
                new_id: String::new(),
                kind: "retired",
                records: prev.records[old],
            });
        }
    }
    changes.sort_by(|a, b| (&a.old_id, &a.new_id).cmp(&(&b.old_id, &b.new_id)));
    for c in &changes {
        match c.kind {
            "merged" => summary.merged += 1,
            "split" => summary.split += 1,
            _ => summary.retired += 1,
        }
    }
    Refresh { ids, changes, summary }
}

/// `person_changes.parquet`'s rows.
pub fn changes_batch(changes: &[Change]) -> RecordBatch {
    let text = |f: fn(&Change) -> &str| -> ArrayRef { Arc::new(StringArray::from_iter_values(changes.iter().map(f))) };
    let schema = Schema::new(vec![
        Field::new("old_person_id", DataType::Utf8, false),
        Field::new("new_person_id", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("records", DataType::UInt64, false),
    ]);
    let cols = vec![
        text(|c| c.old_id.as_str()),
        text(|c| c.new_id.as_str()),
        text(|c| c.kind),
        Arc::new(UInt64Array::from_iter_values(changes.iter().map(|c| c.records))) as ArrayRef,
    ];
    // Infallible: columns built to the schema, all of one length.
    RecordBatch::try_new(Arc::new(schema), cols).expect("changes batch matches its schema")
}
