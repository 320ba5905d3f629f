//! Pseudonymised extracts loaded for linkage: checked against each other, then held as
//! fixed-width token columns in memory.
//!
//! Checks first: every extract must be a pseudolink extract of this format version, and all must
//! share one key id (tokens under different keys never agree, so linking them would silently
//! find nothing). Fields are found through the manifests; a field an extract lacks is null for
//! its records.

use std::path::{Path, PathBuf};

use std::hash::Hasher;

use arrow_array::{Array, FixedSizeBinaryArray, StringArray};
use parquet::arrow::ProjectionMask;
use rustc_hash::{FxHashMap, FxHasher};

use crate::config::FieldType;
use crate::error::{Error, Result, group_digits};
use crate::io::manifest::Manifest;
use crate::io::schema::RECORD_ID;

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

    /// Refuses two extracts holding the same records' identifying tokens (the same data tokenised
    /// again under another `source`): every record and event would count twice. Compared by a
    /// fingerprint of each extract's sorted per-record token tuples.
    fn refuse_copies(&self) -> Result<()> {
        use std::hash::Hasher;
        // Per source, each row's token hash with the records it stands for (one, unless rows were
        // grouped elsewhere): the fingerprint is that of every record's hash, sorted.
        let mut per_source: Vec<Vec<(u64, u64)>> = vec![Vec::new(); self.files.len()];
        for i in 0..self.len() {
            let mut h = FxHasher::default();
            for c in [&self.nhs, &self.given.0, &self.family.0, &self.dob[0], &self.postcode[0]] {
                h.write_u32(c.codes[i]);
            }
            h.write_u8(self.sex[i]);
            per_source[self.source[i] as usize].push((h.finish(), self.records_of(i)));
        }
        let mut seen: rustc_hash::FxHashMap<(u64, u64), usize> = Default::default();
        for (s, mut v) in per_source.into_iter().enumerate() {
            v.sort_unstable();
            let mut h = FxHasher::default();
            let mut records = 0u64;
            for &(x, n) in &v {
                for _ in 0..n {
                    h.write_u64(x);
                }
                records += n;
            }
            if let Some(&first) = seen.get(&(records, h.finish())) {
                return Err(Error::manifest(
                    &self.files[s],
                    format!(
                        "holds the same records as {} (every identifying token equal), under another source; \
                         linking both would count every record twice. Give each extract once",
                        self.files[first].display()
                    ),
                ));
            }
            seen.insert((records, h.finish()), s);
        }
        Ok(())
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

    /// Loads `files`, checking that they can be linked together.
    pub fn load(files: &[PathBuf]) -> Result<Records> {
        if files.is_empty() {
            return Err(Error::usage("give at least one pseudonymised extract to link"));
        }
        let mut manifests = Vec::new();
        for f in files {
            let (m, _) = Manifest::read(f)?;
            manifests.push(m);
        }
        let rows = manifests.iter().map(|m| m.rows.written).sum();
        Records::assemble(files, &manifests, rows, |i, m, source, r, dicts| load_file(&files[i], m, source, r, dicts))
    }

    /// Loads pseudonymised extracts held in memory as Arrow batches (a notebook's tables, or
    /// batches a Spark job gathered), with exactly the checks [`Records::load`] makes of files.
    /// Each extract's manifest is read from its schema's metadata, where `tokenise_arrow` puts it
    /// and where pyarrow puts a Parquet extract's.
    pub fn from_arrow(extracts: &[ArrowExtract]) -> Result<Records> {
        if extracts.is_empty() {
            return Err(Error::usage("give at least one pseudonymised extract to link"));
        }
        let labels: Vec<PathBuf> = extracts.iter().map(|e| e.label.clone()).collect();
        let mut manifests = Vec::new();
        if extracts.iter().any(|e| e.grouped.is_some()) && extracts.iter().any(|e| e.grouped.is_none()) {
            return Err(Error::usage("either every extract's rows are grouped records or none's"));
        }
        for e in extracts {
            let rows: u64 = e.batches.iter().map(|b| b.num_rows() as u64).sum();
            let records = match &e.grouped {
                Some(g) => {
                    let n = rows as usize;
                    if g.records.len() != n || g.first_row.len() != n || g.least_hash.len() != n {
                        return Err(Error::manifest(&e.label, "its grouped rows and their record counts disagree"));
                    }
                    g.records.iter().map(|&w| u64::from(w)).sum()
                }
                None => rows,
            };
            manifests.push(Manifest::from_schema(&e.label, &e.schema, records)?);
        }
        let rows = extracts.iter().flat_map(|e| &e.batches).map(|b| b.num_rows() as u64).sum();
        Records::assemble(&labels, &manifests, rows, |i, m, source, r, dicts| {
            let e = &extracts[i];
            let wanted = Wanted::new(m, &e.schema, r);
            let before = r.len();
            for b in &e.batches {
                load_batch(b, &wanted, &e.label, source, r, dicts)?;
            }
            if let Some(g) = &e.grouped {
                r.row_number.truncate(before);
                r.row_number.extend_from_slice(&g.first_row);
                r.weight.extend_from_slice(&g.records);
                r.least_hash.extend_from_slice(&g.least_hash);
            }
            Ok(())
        })
    }

    /// Checks extracts' manifests (named by `files` in messages) against each other, before any
    /// record is read: none empty, one TRE key (or none), one profile, one key id, one set of
    /// Bloom-filter settings, each source once. A Spark job makes these checks before its work
    /// on the records, in the order the command line makes them.
    pub fn check_together(files: &[PathBuf], manifests: &[Manifest]) -> Result<()> {
        for (f, m) in files.iter().zip(manifests) {
            if m.rows.written == 0 {
                return Err(Error::manifest(
                    f,
                    "holds no records; an empty extract usually means a failed export. Ask the provider to export and \
                     tokenise again, or leave the file out",
                ));
            }
        }
        let tre_key_id = &manifests[0].tre_key_id;
        for (f, m) in files.iter().zip(manifests).skip(1) {
            if m.tre_key_id != *tre_key_id {
                let state = |id: &Option<String>| match id {
                    Some(id) => format!("re-keyed under TRE key id {id}"),
                    None => "not re-keyed".to_string(),
                };
                return Err(Error::manifest(
                    f,
                    format!(
                        "is {}, but {} is {}; tokens never agree across the two. Re-key every extract with the same \
                         TRE key (`pseudolink rekey`) or none",
                        state(&m.tre_key_id),
                        files[0].display(),
                        state(tre_key_id)
                    ),
                ));
            }
        }
        let salted = manifests[0].salted_names();
        for (f, m) in files.iter().zip(manifests).skip(1) {
            if m.salted_names() != salted {
                let profile = |s: bool| if s { "the `resistant` profile" } else { "the `standard` profile" };
                return Err(Error::manifest(
                    f,
                    format!(
                        "was tokenised with {}, but {} with {}; their name tokens never agree. Tokenise every extract \
                         of a project with the same profile",
                        profile(m.salted_names()),
                        files[0].display(),
                        profile(salted)
                    ),
                ));
            }
        }
        let key_id = &manifests[0].key_id;
        for (f, m) in files.iter().zip(manifests).skip(1) {
            if m.key_id != *key_id {
                return Err(Error::manifest(
                    f,
                    format!(
                        "was tokenised with key id {}, but {} with key id {key_id}; tokens under different keys never \
                         agree. Ask the provider to tokenise again with the project's key",
                        m.key_id,
                        files[0].display()
                    ),
                ));
            }
        }
        for (f, m) in files.iter().zip(manifests).skip(1) {
            if m.bloom != manifests[0].bloom {
                return Err(Error::manifest(
                    f,
                    format!(
                        "uses Bloom-filter settings that differ from {}'s; all extracts of a project must use the same \
                         [bloom] settings in their tokenise configs",
                        files[0].display()
                    ),
                ));
            }
        }
        for (i, (f, m)) in files.iter().zip(manifests).enumerate() {
            if let Some((g, _)) = files.iter().zip(manifests).take(i).find(|(_, n)| n.source == m.source) {
                return Err(Error::manifest(
                    f,
                    format!(
                        "is of source `{}`, as {} is (the same extract given twice, or two extracts claiming one source); \
                         give each source once, or tokenise the second with its own `source`",
                        m.source,
                        g.display()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Checks `manifests` (one per extract, named by `files` in messages) against each other,
    /// then loads each extract's `rows` rows in all through `load_each`.
    fn assemble(
        files: &[PathBuf],
        manifests: &[Manifest],
        rows: u64,
        mut load_each: impl FnMut(usize, &Manifest, u16, &mut Records, &mut Dicts) -> Result<()>,
    ) -> Result<Records> {
        Records::check_together(files, manifests)?;
        let tre_key_id = manifests[0].tre_key_id.clone();
        let salted = manifests[0].salted_names();
        let key_id = manifests[0].key_id.clone();
        let bloom_width = manifests
            .iter()
            .flat_map(|m| m.fields.iter())
            .flat_map(|f| f.columns.iter())
            .find_map(|c| (c.encoding == crate::io::schema::Encoding::Bloom).then_some(c.bytes.unwrap_or(0)));
        let mut r = Records { files: files.to_vec(), key_id, tre_key_id, salted_names: salted, ..Default::default() };
        let width = bloom_width.unwrap_or(0);
        r.given.2.width = width;
        r.family.2.width = width;
        for m in manifests {
            for f in m.fields.iter().filter(|f| matches!(f.kind, FieldType::Identifier | FieldType::String)) {
                let bloom = f.columns.iter().any(|c| c.part == "bloom");
                match r.extras.iter_mut().find(|e| e.name == f.name) {
                    Some(e) => {
                        if bloom && e.bloom.is_none() {
                            e.bloom = Some(BloomCol { width, ..Default::default() });
                        }
                    }
                    None => r.extras.push(ExtraField {
                        name: f.name.clone(),
                        kind: Some(f.kind),
                        bloom: bloom.then(|| BloomCol { width, ..Default::default() }),
                        ..Default::default()
                    }),
                }
            }
        }
        r.reserve(rows as usize);
        let mut dicts = Dicts {
            blooms: vec![FxHashMap::default(); 2 + r.extras.len()],
            extra_tokens: vec![FxHashMap::default(); r.extras.len()],
            ..Default::default()
        };
        for (fi, (f, m)) in files.iter().zip(manifests).enumerate() {
            r.sources.push(m.source.clone());
            let before = r.len();
            load_each(fi, m, fi as u16, &mut r, &mut dicts)?;
            r.counts.push((before..r.len()).map(|i| r.records_of(i)).sum());
            let mut seen = rustc_hash::FxHashSet::default();
            seen.reserve(r.len() - before);
            if let Some(dup) = (before..r.len()).find(|&i| !seen.insert(r.record_id.get(i))) {
                return Err(Error::manifest(
                    f,
                    format!(
                        "row {}'s record id appears earlier in the extract too; record ids must be unique within an \
                         extract so that every record can be accounted for. Ask the provider to check the record id column",
                        group_digits(r.row_number[dup])
                    ),
                ));
            }
        }
        r.refuse_copies()?;
        Ok(r)
    }

    fn reserve(&mut self, n: usize) {
        self.source.reserve_exact(n);
        self.record_id.ends.reserve_exact(n);
        self.row_number.reserve_exact(n);
        self.sex.reserve_exact(n);
        for c in self.token_columns_mut() {
            c.codes.reserve_exact(n);
        }
        self.given.2.codes.reserve_exact(n);
        self.family.2.codes.reserve_exact(n);
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

/// Which dictionary each token column codes through. Columns compared across each other share
/// one, so that equal tokens get equal codes: given and family name exact tokens (names entered
/// the wrong way round), and full and swapped dates of birth (day and month transposed), are
/// tokenised under one subkey each for exactly that comparison.
const SHARED_DICTIONARY: [usize; 13] = [0, 1, 2, 1, 4, 5, 5, 7, 8, 9, 10, 11, 12];

/// The dictionaries that turn tokens and filters into codes while loading, shared by all
/// extracts so that equal tokens in different extracts get equal codes; dropped once loading ends.
#[derive(Default)]
struct Dicts {
    tokens: [FxHashMap<Tok, u32>; 13],
    /// Hash of a filter's bytes → its code: the given-name and family-name filters, then each
    /// extra field's.
    blooms: Vec<FxHashMap<u64, u32>>,
    /// Token → code per extra field.
    extra_tokens: Vec<FxHashMap<Tok, u32>>,
    sex: Vec<String>,
}

impl Dicts {
    fn extra_token(&mut self, field: usize, t: &[u8]) -> u32 {
        let mut key = [0u8; 16];
        key.copy_from_slice(t);
        let d = &mut self.extra_tokens[field];
        let next = d.len() as u32 + 1;
        *d.entry(key).or_insert(next)
    }

    fn token(&mut self, column: usize, t: &[u8]) -> u32 {
        let mut key = [0u8; 16];
        key.copy_from_slice(t);
        let d = &mut self.tokens[SHARED_DICTIONARY[column]];
        let next = d.len() as u32 + 1;
        *d.entry(key).or_insert(next)
    }

    /// The code of filter `f` in `col`, storing it if new. Filters are found by a 64-bit hash
    /// and confirmed byte for byte; on the (vanishingly rare) collision with a different filter the
    /// new one is stored again under a code of its own, so no filter is ever confused with another.
    fn bloom(&mut self, which: usize, col: &mut BloomCol, f: &[u8]) -> u32 {
        let h = {
            let mut h = FxHasher::default();
            h.write(f);
            h.finish()
        };
        let stored = col.data.len() / col.width.max(1);
        let at = |c: u32| (c as usize - 1) * col.width;
        match self.blooms[which].get(&h) {
            Some(&c) if col.data[at(c)..at(c) + col.width] == *f => c,
            Some(_) => {
                col.data.extend_from_slice(f);
                stored as u32 + 1
            }
            None => {
                col.data.extend_from_slice(f);
                self.blooms[which].insert(h, stored as u32 + 1);
                stored as u32 + 1
            }
        }
    }

    fn sex(&mut self, v: &str) -> u8 {
        match self.sex.iter().position(|s| s == v) {
            Some(p) => p as u8 + 1,
            None if self.sex.len() < 250 => {
                self.sex.push(v.to_string());
                self.sex.len() as u8
            }
            None => 0,
        }
    }
}

/// Column names of a field's parts, from the manifest.
fn part(m: &Manifest, kind: FieldType, part: &str) -> Option<String> {
    m.fields.iter().find(|f| f.kind == kind)?.columns.iter().find(|c| c.part == part).map(|c| c.name.clone())
}

/// Appends one batch's Bloom filters of column `name` to `col`, coded through dictionary `which`
/// (every filter missing when the extract lacks the column).
fn load_blooms(
    batch: &arrow_array::RecordBatch,
    name: Option<&str>,
    which: usize,
    col: &mut BloomCol,
    dicts: &mut Dicts,
    path: &Path,
) -> Result<()> {
    let n = batch.num_rows();
    let Some(c) = name.and_then(|nm| batch.column_by_name(nm)) else {
        col.codes.extend(std::iter::repeat_n(0, n));
        return Ok(());
    };
    let a = c
        .as_any()
        .downcast_ref::<FixedSizeBinaryArray>()
        .filter(|a| a.value_length() as usize == col.width)
        .ok_or_else(|| Error::manifest(path, "a Bloom-filter column does not match its manifest"))?;
    for i in 0..n {
        let code = if a.is_valid(i) { dicts.bloom(which, col, a.value(i)) } else { 0 };
        col.codes.push(code);
    }
    Ok(())
}

/// The columns of one extract that linkage reads, found through its manifest and present in its
/// schema, in the order the loader fills `Records`.
struct Wanted {
    /// In the order of `Records::token_columns_mut`.
    tokens: [Option<String>; 13],
    blooms: [Option<String>; 2],
    sex: Option<String>,
    bands: [Option<String>; 2],
    /// Each extra field's token and Bloom columns, in `Records::extras` order.
    extras: Vec<(Option<String>, Option<String>)>,
}

impl Wanted {
    fn new(m: &Manifest, schema: &arrow_schema::Schema, r: &Records) -> Wanted {
        use FieldType::{DateOfBirth, FamilyName, GivenName, NhsNumber, Postcode, Sex};
        let wanted = |kind, p: &str| part(m, kind, p).filter(|c| schema.column_with_name(c).is_some());
        let dob = ["full", "swapped", "year_month", "year"].map(|p| wanted(DateOfBirth, p));
        let pc = ["full", "sector", "district", "area"].map(|p| wanted(Postcode, p));
        let [d0, d1, d2, d3] = dob;
        let [p0, p1, p2, p3] = pc;
        let tokens: [Option<String>; 13] = [
            wanted(NhsNumber, "token"),
            wanted(GivenName, "exact"),
            wanted(GivenName, "phonetic"),
            wanted(FamilyName, "exact"),
            wanted(FamilyName, "phonetic"),
            d0,
            d1,
            d2,
            d3,
            p0,
            p1,
            p2,
            p3,
        ];
        let extra_part = |name: &str, p: &str| {
            m.fields
                .iter()
                .find(|f| f.name == name && matches!(f.kind, FieldType::Identifier | FieldType::String))
                .and_then(|f| f.columns.iter().find(|c| c.part == p))
                .map(|c| c.name.clone())
                .filter(|c| schema.column_with_name(c).is_some())
        };
        Wanted {
            tokens,
            blooms: [wanted(GivenName, "bloom"), wanted(FamilyName, "bloom")],
            sex: wanted(Sex, "category").or_else(|| wanted(Sex, "token")),
            bands: [wanted(GivenName, "band"), wanted(FamilyName, "band")],
            extras: r.extras.iter().map(|e| (extra_part(&e.name, "token"), extra_part(&e.name, "bloom"))).collect(),
        }
    }

    /// Every column named, with the record id first.
    fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = vec![RECORD_ID];
        let all = self.tokens.iter().chain(&self.blooms).chain(std::iter::once(&self.sex)).chain(&self.bands);
        names.extend(all.flatten().map(String::as_str));
        names.extend(self.extras.iter().flat_map(|(t, b)| t.iter().chain(b)).map(String::as_str));
        names
    }
}

/// Loads one extract file, reading only the columns linkage uses: pass-through activity columns
/// stay on disk.
fn load_file(path: &Path, m: &Manifest, source: u16, r: &mut Records, dicts: &mut Dicts) -> Result<()> {
    let file = std::fs::File::open(path).map_err(|e| Error::io("opening", path, e))?;
    let builder = crate::io::parquet::reader_builder(file)
        .map_err(|_| Error::manifest(path, "is not a readable Parquet file (it may be truncated or damaged)"))?;
    let schema = builder.schema().clone();
    let wanted = Wanted::new(m, &schema, r);
    let names = wanted.names();
    let roots: Vec<usize> = schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| names.contains(&f.name().as_str()))
        .map(|(i, _)| i)
        .collect();
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(65_536)
        .build()
        .map_err(|_| Error::manifest(path, "could not be read"))?;
    crate::io::parquet::read_ahead(crate::io::parquet::Guarded(reader), 2, |batch| {
        let batch =
            batch.map_err(|_| Error::manifest(path, "could not be decoded (it may be truncated or damaged)"))?;
        load_batch(&batch, &wanted, path, source, r, dicts)
    })
}

/// Appends one batch of extract `source` (named `path` in errors) to `r`.
fn load_batch(
    batch: &arrow_array::RecordBatch,
    wanted: &Wanted,
    path: &Path,
    source: u16,
    r: &mut Records,
    dicts: &mut Dicts,
) -> Result<()> {
    let Wanted { tokens, blooms, sex, bands, extras } = wanted;
    // Rows load extract by extract, so this extract's rows start where the sources before it end.
    let first_of_file = r.source.partition_point(|&s| s < source) as u64;
    {
        let n = batch.num_rows();
        let ids = batch
            .column_by_name(RECORD_ID)
            .and_then(|c| c.as_any().downcast_ref::<StringArray>().cloned())
            .ok_or_else(|| Error::manifest(path, "has no text `record_id` column"))?;
        for i in 0..n {
            r.record_id.push(ids.value(i));
        }
        // A record's row number is its 1-based row in this extract.
        let first = r.record_id.len() as u64 - n as u64 - first_of_file + 1;
        r.row_number.extend(first..first + n as u64);
        r.source.extend(std::iter::repeat_n(source, n));
        for (k, (name, col)) in tokens.iter().zip(r.token_columns_mut()).enumerate() {
            let Some(name) = name else {
                col.codes.extend(std::iter::repeat_n(0, n));
                continue;
            };
            let a = batch
                .column_by_name(name)
                .and_then(|c| c.as_any().downcast_ref::<FixedSizeBinaryArray>().cloned())
                .filter(|a| a.value_length() == 16)
                .ok_or_else(|| {
                    Error::manifest(path, format!("column `{name}` is not a 16-byte token column as its manifest says"))
                })?;
            col.codes.extend((0..n).map(|i| if a.is_valid(i) { dicts.token(k, a.value(i)) } else { 0 }));
        }
        for (which, name) in blooms.iter().enumerate() {
            let col = if which == 0 { &mut r.given.2 } else { &mut r.family.2 };
            load_blooms(batch, name.as_deref(), which, col, dicts, path)?;
        }
        for (k, (token, bloom)) in extras.iter().enumerate() {
            let e = &mut r.extras[k];
            match token.as_ref().and_then(|nm| batch.column_by_name(nm)) {
                None => e.token.codes.extend(std::iter::repeat_n(0, n)),
                Some(c) => {
                    let a = c
                        .as_any()
                        .downcast_ref::<FixedSizeBinaryArray>()
                        .filter(|a| a.value_length() == 16)
                        .ok_or_else(|| {
                            Error::manifest(path, "an identifier token column does not match its manifest")
                        })?;
                    e.token
                        .codes
                        .extend((0..n).map(|i| if a.is_valid(i) { dicts.extra_token(k, a.value(i)) } else { 0 }));
                }
            }
            if let Some(col) = e.bloom.as_mut() {
                load_blooms(batch, bloom.as_deref(), 2 + k, col, dicts, path)?;
            }
        }
        for (name, col) in bands.iter().zip(&mut r.name_bands) {
            match name.as_ref().and_then(|nm| batch.column_by_name(nm)) {
                None => col.extend(std::iter::repeat_n(0u8, n)),
                Some(c) => {
                    let a = c
                        .as_any()
                        .downcast_ref::<arrow_array::Int32Array>()
                        .ok_or_else(|| Error::manifest(path, "a name-band column does not match its manifest"))?;
                    col.extend((0..n).map(|i| if a.is_valid(i) { a.value(i).clamp(0, 3) as u8 } else { 0 }));
                }
            }
        }
        match sex.as_ref().and_then(|s| batch.column_by_name(s)) {
            None => r.sex.extend(std::iter::repeat_n(0u8, n)),
            Some(c) => {
                if let Some(a) = c.as_any().downcast_ref::<StringArray>() {
                    r.sex.extend((0..n).map(|i| if a.is_valid(i) { dicts.sex(a.value(i)) } else { 0 }));
                } else if let Some(a) = c.as_any().downcast_ref::<FixedSizeBinaryArray>() {
                    r.sex.extend((0..n).map(|i| if a.is_valid(i) { dicts.sex(&hex::encode(a.value(i))) } else { 0 }));
                } else {
                    r.sex.extend(std::iter::repeat_n(0u8, n));
                }
            }
        }
    }
    Ok(())
}
