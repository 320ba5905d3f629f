//! The person of every linked record, read from a linkage's `clusters.parquet`, and the checks
//! that the extracts given to `timeline` are the ones that were linked.
//!
//! Records are found by source and input row number (both in every extract and in the clusters
//! file), so the lookup holds a few bytes per record rather than every record id; a 64-bit hash of
//! the record id confirms that the row is the same record.

use std::collections::BTreeMap;
use std::hash::Hasher;
use std::path::Path;

use arrow_array::{Array, StringArray, UInt64Array};
use rustc_hash::FxHasher;

use crate::error::{Error, Result};

/// Where one source's records belong.
#[derive(Debug, Default)]
pub struct SourceRows {
    /// Per input row number (index = row number): person rank, or `u32::MAX` where no record.
    pub person: Vec<u32>,
    /// Per input row number: hash of the record id.
    pub id_hash: Vec<u64>,
    /// Per input row number: whether an extract row has claimed it.
    pub seen: Vec<bool>,
    /// Records in the clusters file for this source.
    pub records: u64,
}

/// Persons of a linkage: ids in sorted order (a person's rank is its position) and the rows of
/// each source.
#[derive(Debug, Default)]
pub struct Persons {
    /// Person ids, sorted.
    pub ids: Vec<String>,
    /// Rows by source code.
    pub sources: BTreeMap<String, SourceRows>,
}

/// Hash of a record id, for the same-record check.
pub fn id_hash(id: &str) -> u64 {
    let mut h = FxHasher::default();
    h.write(id.as_bytes());
    h.finish()
}

impl Persons {
    /// Reads `clusters.parquet` of the linkage folder `links`.
    pub fn read(links: &Path) -> Result<Persons> {
        let path = links.join("clusters.parquet");
        if !links.join("summary.json").exists() {
            return Err(Error::usage(format!(
                "{} is not a finished linkage (it has no summary.json); run `pseudolink link` into it first",
                links.display()
            )));
        }
        let bad = |why: &str| Error::manifest(&path, why.to_string());
        let file = std::fs::File::open(&path).map_err(|e| Error::io("opening", &path, e))?;
        let reader = crate::io::parquet::reader_builder(file)
            .map_err(|_| bad("is not a readable Parquet file"))?
            .with_batch_size(65_536)
            .build()
            .map_err(|_| bad("could not be read"))?;
        let mut rows: Vec<(u32, u64, u64, u32)> = Vec::new(); // (source, row, id hash, person)
        let mut source_codes: Vec<String> = Vec::new();
        let mut person_codes: rustc_hash::FxHashMap<String, u32> = Default::default();
        for batch in reader {
            let batch = batch.map_err(|_| bad("could not be decoded (it may be truncated or damaged)"))?;
            let text =
                |name: &str| batch.column_by_name(name).and_then(|c| c.as_any().downcast_ref::<StringArray>().cloned());
            let (Some(s), Some(r), Some(p)) = (text("source"), text("record_id"), text("person_id")) else {
                return Err(bad("lacks source, record_id or person_id: it is not a pseudolink clusters file"));
            };
            let row = batch
                .column_by_name("row_number")
                .and_then(|c| c.as_any().downcast_ref::<UInt64Array>().cloned())
                .ok_or_else(|| bad("lacks row_number: it is not a pseudolink clusters file"))?;
            for i in 0..batch.num_rows() {
                let sc = match source_codes.iter().position(|x| x == s.value(i)) {
                    Some(k) => k,
                    None => {
                        source_codes.push(s.value(i).to_string());
                        source_codes.len() - 1
                    }
                } as u32;
                let next = person_codes.len() as u32;
                let pc = *person_codes.entry(p.value(i).to_string()).or_insert(next);
                rows.push((sc, row.value(i), id_hash(r.value(i)), pc));
            }
        }
        // Rank persons by id.
        let mut ids: Vec<(String, u32)> = person_codes.into_iter().collect();
        ids.sort_unstable();
        let mut rank = vec![0u32; ids.len()];
        for (k, (_, code)) in ids.iter().enumerate() {
            rank[*code as usize] = k as u32;
        }
        let mut sources: BTreeMap<String, SourceRows> = BTreeMap::new();
        let mut max_rows = vec![0u64; source_codes.len()];
        for r in &rows {
            max_rows[r.0 as usize] = max_rows[r.0 as usize].max(r.1);
        }
        for (code, &max_row) in source_codes.iter().zip(&max_rows) {
            let max_row = max_row as usize;
            let s = SourceRows {
                person: vec![u32::MAX; max_row + 1],
                id_hash: vec![0; max_row + 1],
                seen: vec![false; max_row + 1],
                records: 0,
            };
            sources.insert(code.clone(), s);
        }
        for (sc, row, h, pc) in rows {
            let s = sources.get_mut(&source_codes[sc as usize]).expect("every source was added");
            let at = row as usize;
            if s.person[at] != u32::MAX {
                return Err(bad("holds the same source and row twice; link again to recreate it"));
            }
            s.person[at] = rank[pc as usize];
            s.id_hash[at] = h;
            s.records += 1;
        }
        Ok(Persons { ids: ids.into_iter().map(|(id, _)| id).collect(), sources })
    }
}
