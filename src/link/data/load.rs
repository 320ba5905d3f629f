//! Loading pseudonymised extracts (Parquet files, or Arrow batches in memory) into [`Records`]:
//! each token dictionary-coded as it is read, the extracts checked first.

use std::path::{Path, PathBuf};

use arrow_array::{Array, FixedSizeBinaryArray, StringArray};
use parquet::arrow::ProjectionMask;

use rustc_hash::FxHashMap;

use rayon::prelude::*;

use super::checks::first_repeat;
use super::dicts::{Dicts, SHARED_DICTIONARY, code};
use super::{ArrowExtract, BloomCol, ExtraField, Records, TokCol};
use crate::config::FieldType;
use crate::error::{Error, Result, group_digits};
use crate::io::manifest::Manifest;
use crate::io::schema::RECORD_ID;

/// The refusal of an extract whose row `row` repeats an earlier row's record id (also raised by
/// a Spark job, which checks record ids before grouping records).
pub fn repeated_record_id(path: &Path, row: u64) -> Error {
    Error::manifest(
        path,
        format!(
            "row {}'s record id appears earlier in the extract too; record ids must be unique within an extract so \
             that every record can be accounted for. Ask the provider to check the record id column",
            group_digits(row)
        ),
    )
}

impl Records {
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
            if let Some(dup) = first_repeat(&r.record_id, before..r.len()) {
                return Err(repeated_record_id(f, r.row_number[dup]));
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
    let roots = crate::io::parquet::roots(&schema, &names);
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
        let mut arrays: Vec<Option<FixedSizeBinaryArray>> = Vec::with_capacity(tokens.len());
        for name in tokens {
            let Some(name) = name else {
                arrays.push(None);
                continue;
            };
            let a = batch
                .column_by_name(name)
                .and_then(|c| c.as_any().downcast_ref::<FixedSizeBinaryArray>().cloned())
                .filter(|a| a.value_length() == 16)
                .ok_or_else(|| {
                    Error::manifest(path, format!("column `{name}` is not a 16-byte token column as its manifest says"))
                })?;
            arrays.push(Some(a));
        }
        // Each dictionary codes its columns on a thread of its own, in column order (so codes
        // are numbered as one thread would number them).
        let mut groups: Vec<Vec<(Option<&FixedSizeBinaryArray>, &mut TokCol)>> =
            (0..SHARED_DICTIONARY.len()).map(|_| Vec::new()).collect();
        for (k, col) in r.token_columns_mut().into_iter().enumerate() {
            groups[SHARED_DICTIONARY[k]].push((arrays[k].as_ref(), col));
        }
        dicts.tokens.par_iter_mut().zip(groups).for_each(|(dict, members)| {
            for (a, col) in members {
                match a {
                    None => col.codes.extend(std::iter::repeat_n(0, n)),
                    Some(a) => col.codes.extend((0..n).map(|i| if a.is_valid(i) { code(dict, a.value(i)) } else { 0 })),
                }
            }
        });
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
