//! Pseudonymised extracts loaded for linkage: checked against each other, then held as
//! fixed-width token columns in memory.
//!
//! Checks first: every extract must be a pseudolink extract of this format version, and all must
//! share one key id (tokens under different keys never agree, so linking them would silently
//! find nothing). Fields are found through the manifests; a field an extract lacks is null for
//! its records.
//!
//! Here the columns and [`Records`]; `load.rs` reads extracts (files, or Arrow batches in memory)
//! into them, coding each token through a dictionary (`dicts.rs`); `checks.rs` holds the checks
//! of extracts against each other (one key, one profile, no copies) and of record ids.

mod checks;
mod dicts;
mod load;

pub use load::repeated_record_id;

use std::hash::Hasher;
use std::path::{Path, PathBuf};

use rustc_hash::FxHasher;

use crate::config::FieldType;

/// A 128-bit token as read from an extract.
pub type Tok = [u8; 16];

/// A nullable token column, dictionary-coded: the linker only ever asks whether two tokens are
/// equal, so each distinct token is replaced on loading by a 32-bit code (1, 2, …; 0 where the
/// value is missing). Four bytes instead of seventeen per value is what lets tens of millions of
/// records fit in memory, and comparing codes is cheaper than comparing tokens.
#[derive(Debug, Clone, Default)]
pub struct TokCol {
    /// Code per record; 0 where missing.
    pub codes: Vec<u32>,
}

impl TokCol {
    /// The code of record `i`'s token, if present.
    #[inline]
    pub fn get(&self, i: usize) -> Option<u32> {
        let c = self.codes[i];
        (c != 0).then_some(c)
    }

    /// Whether record `i` has a value.
    #[inline]
    pub fn has(&self, i: usize) -> bool {
        self.codes[i] != 0
    }
}

/// A nullable Bloom-filter column of fixed width. Records holding the same filter (everyone
/// called SMITH, unless the hardening adds per-record noise) share one stored copy.
#[derive(Debug, Clone, Default)]
pub struct BloomCol {
    /// Bytes per filter.
    pub width: usize,
    /// Distinct filters, back to back; filter `c` (a code, from 1) at `(c - 1) * width`.
    pub data: Vec<u8>,
    /// Code per record; 0 where missing.
    pub codes: Vec<u32>,
}

impl BloomCol {
    /// The filter of record `i`, if present.
    #[inline]
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        match self.codes[i] {
            0 => None,
            c => {
                let at = (c as usize - 1) * self.width;
                Some(&self.data[at..at + self.width])
            }
        }
    }
}

/// Record ids, stored back to back as one string with end offsets: no allocation per record.
#[derive(Debug, Clone, Default)]
pub struct Ids {
    text: String,
    ends: Vec<u64>,
}

impl Ids {
    /// Record `i`'s id.
    #[inline]
    pub fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }

    /// Bytes of record `i`'s id.
    #[inline]
    pub fn len_of(&self, i: usize) -> usize {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        self.ends[i] as usize - start
    }

    /// Bytes of the ids of records `rows` together.
    pub fn bytes(&self, rows: std::ops::Range<usize>) -> usize {
        let end = |i: usize| if i == 0 { 0 } else { self.ends[i - 1] as usize };
        end(rows.end) - end(rows.start)
    }

    /// Ids held.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether none are held.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The ids of `rows` as an Arrow text column. Copied in two tight passes — the ids' extents,
    /// then their bytes — so that ids scattered over memory (the second record of a candidate
    /// pair) are fetched many at a time rather than one cache miss after another.
    pub fn column(&self, rows: &[usize]) -> arrow_array::StringArray {
        let extent = |i: usize| (if i == 0 { 0 } else { self.ends[i - 1] as usize }, self.ends[i] as usize);
        let extents: Vec<(usize, usize)> = rows.iter().map(|&i| extent(i)).collect();
        let total: usize = extents.iter().map(|(s, e)| e - s).sum();
        if total > i32::MAX as usize {
            return rows.iter().map(|&i| Some(self.get(i))).collect();
        }
        let mut offsets = Vec::with_capacity(rows.len() + 1);
        let mut bytes = Vec::with_capacity(total);
        offsets.push(0i32);
        for &(s, e) in &extents {
            bytes.extend_from_slice(&self.text.as_bytes()[s..e]);
            offsets.push(bytes.len() as i32);
        }
        // Whole ids of a `String`, so valid UTF-8: the check cannot fail.
        arrow_array::StringArray::try_new(
            arrow_buffer::OffsetBuffer::new(offsets.into()),
            arrow_buffer::Buffer::from_vec(bytes),
            None,
        )
        .unwrap_or_else(|_| rows.iter().map(|&i| Some(self.get(i))).collect())
    }

    pub(crate) fn push(&mut self, id: &str) {
        self.text.push_str(id);
        self.ends.push(self.text.len() as u64);
    }
}

/// A pseudonymised extract held in memory: its Arrow schema (with the manifest in its metadata)
/// and its batches. `label` names it in messages, as a file's path would.
#[derive(Debug, Clone)]
pub struct ArrowExtract {
    /// The extract's name in messages.
    pub label: PathBuf,
    /// Its schema, with the manifest under [`crate::io::manifest::MANIFEST_KEY`].
    pub schema: arrow_schema::SchemaRef,
    /// Its rows.
    pub batches: Vec<arrow_array::RecordBatch>,
    /// Set when each row stands for identical records grouped elsewhere (by a Spark job), with
    /// how many and which.
    pub grouped: Option<Grouped>,
}

/// An extract's rows each standing for one or more of its records whose linkage columns are all
/// equal: the records were grouped where they live (a Spark job's `GROUP BY`), so that only
/// the distinct rows travel to the one process that forms identities and clusters them. The
/// linkage is the one the records themselves would give: every count weighs a row by its
/// records, and the order-dependent choices (numbering, representatives, person ids) take the
/// row's first record, as they would take it among the records.
#[derive(Debug, Clone, Default)]
pub struct Grouped {
    /// Records per row.
    pub records: Vec<u32>,
    /// The 1-based row number of each row's first record in the extract; the row's `record_id`
    /// is that record's.
    pub first_row: Vec<u64>,
    /// The least [`content_hash`] among each row's records.
    pub least_hash: Vec<u64>,
}

/// A record's place in the content order training samples from ([`crate::link::pipeline`]): an
/// FxHash of its source and record id. FxHash is a fixed algorithm pinned by the lock file,
/// unlike std's DefaultHasher, whose output may change between Rust releases (and with it the
/// u sample and the model).
pub fn content_hash(source: &str, record_id: &str) -> u64 {
    use std::hash::Hash;
    let mut h = FxHasher::default();
    source.hash(&mut h);
    record_id.hash(&mut h);
    h.finish()
}

/// The identifying columns the linker compares, one entry per record.
#[derive(Debug, Clone, Default)]
pub struct Records {
    /// Extract paths, in input order.
    pub files: Vec<PathBuf>,
    /// Source code per extract.
    pub sources: Vec<String>,
    /// The common key id.
    pub key_id: String,
    /// The common TRE key id, when the extracts were re-keyed.
    pub tre_key_id: Option<String>,
    /// Extract index per record.
    pub source: Vec<u16>,
    /// Record id per record.
    pub record_id: Ids,
    /// Input row number per record.
    pub row_number: Vec<u64>,
    /// NHS-number token (valid numbers only).
    pub nhs: TokCol,
    /// Given name: exact, phonetic, Bloom.
    pub given: (TokCol, TokCol, BloomCol),
    /// Family name: exact, phonetic, Bloom.
    pub family: (TokCol, TokCol, BloomCol),
    /// Date of birth: full, swapped, year-month, year.
    pub dob: [TokCol; 4],
    /// Postcode: full, sector, district, area.
    pub postcode: [TokCol; 4],
    /// Sex: 0 missing, otherwise a small code per distinct value.
    pub sex: Vec<u8>,
    /// Records per extract.
    pub counts: Vec<u64>,
    /// Records each row stands for, when rows were grouped elsewhere ([`Grouped`]); empty when
    /// every row is one record.
    pub weight: Vec<u32>,
    /// The least [`content_hash`] of each row's records, when rows were grouped elsewhere.
    pub least_hash: Vec<u64>,
    /// Whether name tokens are salted with the date of birth (the `resistant` profile): two
    /// records' name tokens can then agree only when their dates of birth do.
    pub salted_names: bool,
    /// Frequency bands of the given and family names (`encode::band`; 0 when absent), written
    /// beside salted name tokens.
    pub name_bands: [Vec<u8>; 2],
    /// Identifier and string fields (a local or national id, an address line …), by name, in
    /// the order the extracts first declare them; an extract without one has it missing.
    pub extras: Vec<ExtraField>,
}

/// An identifier or string field: its token and, when the tokenise config asked for one, its
/// Bloom filter (for Dice similarity on typos).
#[derive(Debug, Clone, Default)]
pub struct ExtraField {
    /// The field's name in the tokenise configs (tokens agree across extracts under one name).
    pub name: String,
    /// `identifier` or `string`.
    pub kind: Option<FieldType>,
    /// The exact token.
    pub token: TokCol,
    /// The Bloom filter, when some extract has one.
    pub bloom: Option<BloomCol>,
}

impl Records {
    /// Records row `i` stands for: one, unless rows were grouped elsewhere ([`Grouped`]).
    pub fn records_of(&self, i: usize) -> u64 {
        self.weight.get(i).map_or(1, |&w| u64::from(w))
    }

    /// The least [`content_hash`] among row `i`'s records.
    pub fn least_hash_of(&self, i: usize) -> u64 {
        match self.least_hash.get(i) {
            Some(&h) => h,
            None => content_hash(&self.sources[self.source[i] as usize], self.record_id.get(i)),
        }
    }

    /// The extra field called `name`.
    pub fn extra(&self, name: &str) -> Option<usize> {
        self.extras.iter().position(|e| e.name == name)
    }

    /// How many sources hold a value of extra field `e`: two or more for an identifier shared
    /// across sources (a national id), one for a provider's own patient reference.
    pub fn sources_holding(&self, e: usize) -> usize {
        let mut seen = vec![false; self.sources.len()];
        let col = &self.extras[e].token;
        for i in 0..self.len() {
            if !seen[self.source[i] as usize] && col.has(i) {
                seen[self.source[i] as usize] = true;
            }
        }
        seen.iter().filter(|&&s| s).count()
    }
}

impl Records {
    /// Records loaded.
    pub fn len(&self) -> usize {
        self.record_id.len()
    }

    /// Whether none were loaded.
    pub fn is_empty(&self) -> bool {
        self.record_id.is_empty()
    }

    /// Extracts none of whose records holds any identifying token, with their record counts.
    pub fn without_identifiers(&self) -> Vec<(&Path, u64)> {
        let mut any = vec![false; self.files.len()];
        for i in 0..self.len() {
            let s = self.source[i] as usize;
            if !any[s] {
                any[s] = self.nhs.has(i)
                    || self.given.0.has(i)
                    || self.family.0.has(i)
                    || self.dob.iter().any(|c| c.has(i))
                    || self.postcode.iter().any(|c| c.has(i))
                    || self.given.2.codes[i] != 0
                    || self.family.2.codes[i] != 0;
            }
        }
        any.iter()
            .enumerate()
            .filter(|(_, a)| !**a)
            .map(|(s, _)| (self.files[s].as_path(), self.counts.get(s).copied().unwrap_or(0)))
            .collect()
    }

    /// The thirteen token columns, in [`Records::token_columns_mut`]'s order.
    pub(crate) fn token_columns(&self) -> [&TokCol; 13] {
        let [d0, d1, d2, d3] = &self.dob;
        let [p0, p1, p2, p3] = &self.postcode;
        [&self.nhs, &self.given.0, &self.given.1, &self.family.0, &self.family.1, d0, d1, d2, d3, p0, p1, p2, p3]
    }

    /// The thirteen token columns, in a fixed order (NHS, given exact and phonetic, family exact
    /// and phonetic, the four date-of-birth parts, the four postcode parts).
    pub(crate) fn token_columns_mut(&mut self) -> [&mut TokCol; 13] {
        let [d0, d1, d2, d3] = &mut self.dob;
        let [p0, p1, p2, p3] = &mut self.postcode;
        [
            &mut self.nhs,
            &mut self.given.0,
            &mut self.given.1,
            &mut self.family.0,
            &mut self.family.1,
            d0,
            d1,
            d2,
            d3,
            p0,
            p1,
            p2,
            p3,
        ]
    }
}
