//! Pseudonymised extracts loaded for linkage: checked against each other, then held as
//! fixed-width token columns in memory.
//!
//! Checks first: every extract must be a pseudolink extract of this format version, and all must
//! share one key id (tokens under different keys never agree, so linking them would silently
//! find nothing). Fields are found through the manifests; a field an extract lacks is null for
//! its records.

use std::path::{Path, PathBuf};

use arrow_array::{Array, FixedSizeBinaryArray, StringArray};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::config::FieldType;
use crate::error::{Error, Result};
use crate::io::manifest::Manifest;
use crate::io::schema::{RECORD_ID, ROW_NUMBER};

/// A 128-bit token.
pub type Tok = [u8; 16];

/// A nullable token column.
#[derive(Debug, Clone, Default)]
pub struct TokCol {
    /// Values; all zero where null.
    pub values: Vec<Tok>,
    /// Validity.
    pub valid: Vec<bool>,
}

impl TokCol {
    /// The token of record `i`, if present.
    #[inline]
    pub fn get(&self, i: usize) -> Option<&Tok> {
        if self.valid[i] { Some(&self.values[i]) } else { None }
    }

    fn push_nulls(&mut self, n: usize) {
        self.values.extend(std::iter::repeat_n([0u8; 16], n));
        self.valid.extend(std::iter::repeat_n(false, n));
    }
}

/// A nullable Bloom-filter column of fixed width.
#[derive(Debug, Clone, Default)]
pub struct BloomCol {
    /// Bytes per filter.
    pub width: usize,
    /// Filters, back to back; zero where null.
    pub data: Vec<u8>,
    /// Validity.
    pub valid: Vec<bool>,
}

impl BloomCol {
    /// The filter of record `i`, if present.
    #[inline]
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        if self.valid[i] { Some(&self.data[i * self.width..(i + 1) * self.width]) } else { None }
    }
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
    /// Extract index per record.
    pub source: Vec<u16>,
    /// Record id per record.
    pub record_id: Vec<String>,
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
        for (f, m) in files.iter().zip(&manifests) {
            if m.rows.written == 0 {
                return Err(Error::manifest(
                    f,
                    "holds no records; an empty extract usually means a failed export. Ask the provider to export and \
                     tokenise again, or leave the file out",
                ));
            }
        }
        let key_id = manifests[0].key_id.clone();
        for (f, m) in files.iter().zip(&manifests).skip(1) {
            if m.key_id != key_id {
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
        let bloom_width = manifests
            .iter()
            .flat_map(|m| m.fields.iter())
            .flat_map(|f| f.columns.iter())
            .find_map(|c| (c.encoding == crate::io::schema::Encoding::Bloom).then_some(c.bytes.unwrap_or(0)));
        let mut r = Records { files: files.to_vec(), key_id, ..Default::default() };
        let width = bloom_width.unwrap_or(0);
        r.given.2.width = width;
        r.family.2.width = width;
        for (f, m) in files.iter().zip(&manifests).skip(1) {
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
        let mut sex_codes: Vec<String> = Vec::new();
        for (fi, (f, m)) in files.iter().zip(&manifests).enumerate() {
            r.sources.push(m.source.clone());
            let before = r.len();
            load_one(f, m, fi as u16, &mut r, &mut sex_codes)?;
            r.counts.push((r.len() - before) as u64);
            let mut seen = std::collections::HashSet::with_capacity(r.len() - before);
            if let Some(dup) = r.record_id[before..].iter().find(|id| !seen.insert(id.as_str())) {
                return Err(Error::manifest(
                    f,
                    format!(
                        "holds record id `{dup}` more than once; record ids must be unique within an extract so that every \
                         record can be accounted for. Ask the provider to check the record id column"
                    ),
                ));
            }
        }
        Ok(r)
    }
}

/// Column names of a field's parts, from the manifest.
fn part(m: &Manifest, kind: FieldType, part: &str) -> Option<String> {
    m.fields.iter().find(|f| f.kind == kind)?.columns.iter().find(|c| c.part == part).map(|c| c.name.clone())
}

fn load_one(path: &Path, m: &Manifest, source: u16, r: &mut Records, sex_codes: &mut Vec<String>) -> Result<()> {
    let file = std::fs::File::open(path).map_err(|e| Error::io("opening", path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|_| Error::manifest(path, "is not a readable Parquet file (it may be truncated or damaged)"))?;
    let schema = builder.schema().clone();
    use FieldType::{DateOfBirth, FamilyName, GivenName, NhsNumber, Postcode, Sex};
    let wanted = |kind, p: &str| part(m, kind, p).filter(|c| schema.column_with_name(c).is_some());
    let nhs = wanted(NhsNumber, "token");
    let given = [wanted(GivenName, "exact"), wanted(GivenName, "phonetic"), wanted(GivenName, "bloom")];
    let family = [wanted(FamilyName, "exact"), wanted(FamilyName, "phonetic"), wanted(FamilyName, "bloom")];
    let dob = ["full", "swapped", "year_month", "year"].map(|p| wanted(DateOfBirth, p));
    let pc = ["full", "sector", "district", "area"].map(|p| wanted(Postcode, p));
    let sex = wanted(Sex, "category").or_else(|| wanted(Sex, "token"));
    // Read only the columns linkage uses: pass-through activity columns stay on disk.
    let mut names: Vec<&str> = vec![RECORD_ID, ROW_NUMBER];
    let all = std::iter::once(&nhs).chain(&given).chain(&family).chain(&dob).chain(&pc).chain(std::iter::once(&sex));
    names.extend(all.flatten().map(String::as_str));
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
    for batch in reader {
        let batch =
            batch.map_err(|_| Error::manifest(path, "could not be decoded (it may be truncated or damaged)"))?;
        let n = batch.num_rows();
        let ids = batch
            .column_by_name(RECORD_ID)
            .and_then(|c| c.as_any().downcast_ref::<StringArray>().cloned())
            .ok_or_else(|| Error::manifest(path, "has no text `record_id` column"))?;
        r.record_id.extend((0..n).map(|i| ids.value(i).to_string()));
        let rows = batch
            .column_by_name(ROW_NUMBER)
            .and_then(|c| c.as_any().downcast_ref::<arrow_array::UInt64Array>().cloned())
            .ok_or_else(|| Error::manifest(path, "has no `row_number` column"))?;
        r.row_number.extend(rows.values().iter().copied());
        r.source.extend(std::iter::repeat_n(source, n));
        let tok = |name: &Option<String>, col: &mut TokCol| -> Result<()> {
            let Some(name) = name else {
                col.push_nulls(n);
                return Ok(());
            };
            let a = batch
                .column_by_name(name)
                .and_then(|c| c.as_any().downcast_ref::<FixedSizeBinaryArray>().cloned())
                .filter(|a| a.value_length() == 16)
                .ok_or_else(|| {
                    Error::manifest(path, format!("column `{name}` is not a 16-byte token column as its manifest says"))
                })?;
            for i in 0..n {
                if a.is_valid(i) {
                    let mut t = [0u8; 16];
                    t.copy_from_slice(a.value(i));
                    col.values.push(t);
                    col.valid.push(true);
                } else {
                    col.values.push([0u8; 16]);
                    col.valid.push(false);
                }
            }
            Ok(())
        };
        let bloom = |name: &Option<String>, col: &mut BloomCol| -> Result<()> {
            match name.as_ref().and_then(|nm| batch.column_by_name(nm)) {
                None => {
                    col.data.extend(std::iter::repeat_n(0u8, n * col.width));
                    col.valid.extend(std::iter::repeat_n(false, n));
                }
                Some(c) => {
                    let a = c
                        .as_any()
                        .downcast_ref::<FixedSizeBinaryArray>()
                        .filter(|a| a.value_length() as usize == col.width)
                        .ok_or_else(|| Error::manifest(path, "a Bloom-filter column does not match its manifest"))?;
                    for i in 0..n {
                        if a.is_valid(i) {
                            col.data.extend_from_slice(a.value(i));
                            col.valid.push(true);
                        } else {
                            col.data.extend(std::iter::repeat_n(0u8, col.width));
                            col.valid.push(false);
                        }
                    }
                }
            }
            Ok(())
        };
        tok(&nhs, &mut r.nhs)?;
        tok(&given[0], &mut r.given.0)?;
        tok(&given[1], &mut r.given.1)?;
        bloom(&given[2], &mut r.given.2)?;
        tok(&family[0], &mut r.family.0)?;
        tok(&family[1], &mut r.family.1)?;
        bloom(&family[2], &mut r.family.2)?;
        for k in 0..4 {
            tok(&dob[k], &mut r.dob[k])?;
            tok(&pc[k], &mut r.postcode[k])?;
        }
        match sex.as_ref().and_then(|s| batch.column_by_name(s)) {
            None => r.sex.extend(std::iter::repeat_n(0u8, n)),
            Some(c) => {
                let text: Vec<Option<String>> = if let Some(a) = c.as_any().downcast_ref::<StringArray>() {
                    (0..n).map(|i| a.is_valid(i).then(|| a.value(i).to_string())).collect()
                } else if let Some(a) = c.as_any().downcast_ref::<FixedSizeBinaryArray>() {
                    (0..n).map(|i| a.is_valid(i).then(|| hex::encode(a.value(i)))).collect()
                } else {
                    vec![None; n]
                };
                for t in text {
                    let code = match t {
                        None => 0,
                        Some(v) => match sex_codes.iter().position(|s| *s == v) {
                            Some(p) => p as u8 + 1,
                            None if sex_codes.len() < 250 => {
                                sex_codes.push(v);
                                sex_codes.len() as u8
                            }
                            None => 0,
                        },
                    };
                    r.sex.push(code);
                }
            }
        }
    }
    Ok(())
}
