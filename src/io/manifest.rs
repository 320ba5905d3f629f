//! The manifest embedded in every pseudonymised extract.
//!
//! Stored as JSON under the Parquet key-value metadata key [`MANIFEST_KEY`], it says what the
//! file is (format and version, tool and normalisation versions), which key made its tokens
//! (the public key id), which provider it came from, every field with its columns and encodings
//! and their parameters, the row counts, and the SHA-256 of the tokenise config. The linker reads
//! its defaults from here and refuses extracts whose key id or format version disagree.

use std::fs::File;
use std::path::Path;

use parquet::file::metadata::ParquetMetaData;
use parquet::file::reader::{FileReader, SerializedFileReader};
use serde::{Deserialize, Serialize};

use crate::config::{FieldType, PassType, RecordIdMode};
use crate::encode::bloom::BloomParams;
use crate::error::{Error, Result};
use crate::io::schema::{self, Encoding};
use crate::token::Purpose;

/// Parquet key-value metadata key holding the manifest.
pub const MANIFEST_KEY: &str = "pseudolink.manifest";
/// The `format` value of pseudonymised extracts.
pub const FORMAT_NAME: &str = "pseudolink-extract";
/// The extract format version this build writes and reads. Tokens are the contract between
/// providers: anything that changes a token changes this.
/// Version 2: rows in keyed order, no input row numbers.
pub const FORMAT_VERSION: u32 = 2;

/// An extract's manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`FORMAT_NAME`].
    pub format: String,
    /// [`FORMAT_VERSION`] when written.
    pub format_version: u32,
    /// The pseudolink version that wrote the file.
    pub tool_version: String,
    /// [`crate::encode::NORMALISATION_VERSION`] when written.
    pub normalisation_version: u32,
    /// The public id of the key that made the tokens.
    pub key_id: String,
    /// The provider's source code.
    pub source: String,
    /// SHA-256 (hex) of the tokenise config file.
    pub config_sha256: String,
    /// The record id column and whether it was pseudonymised.
    pub record_id_mode: RecordIdMode,
    /// Identifying fields and their encoded columns.
    pub fields: Vec<ManifestField>,
    /// Pass-through columns.
    pub passthrough: Vec<ManifestPassthrough>,
    /// Bloom-filter parameters used by every `bloom` column.
    pub bloom: BloomParams,
    /// Row counts.
    pub rows: RowCounts,
    /// The public id of the TRE key `rekey` applied, when it has been (tokens then depend on
    /// both keys); absent for an extract as the provider made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tre_key_id: Option<String>,
}

/// A field in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestField {
    /// Output name prefix.
    pub name: String,
    /// Field type.
    #[serde(rename = "type")]
    pub kind: FieldType,
    /// Its columns.
    pub columns: Vec<ManifestColumn>,
}

/// A column in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestColumn {
    /// Column name.
    pub name: String,
    /// What the column holds (`token`, `bloom` …).
    pub encoding: Encoding,
    /// What part of the field it encodes (`full`, `sector`, `phonetic` …).
    pub part: String,
    /// The subkey label its tokens or Bloom hashes were made under, if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub purpose: Option<String>,
    /// Fixed width in bytes, for binary columns.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub bytes: Option<usize>,
}

/// A pass-through column in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestPassthrough {
    /// Output column name.
    pub name: String,
    /// Value type.
    #[serde(rename = "type")]
    pub kind: PassType,
}

/// Row counts: every row read is written (record-level problems become statuses, not drops).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowCounts {
    /// Data rows read from the input.
    pub read: u64,
    /// Rows written to the extract.
    pub written: u64,
}

impl Manifest {
    /// The manifest an in-memory extract carries in its Arrow schema's metadata (where
    /// [`crate::tokenise::tokenise_arrow`] puts it, and where pyarrow puts a Parquet extract's),
    /// checked as [`Manifest::read`] checks a file's: `rows` is the rows the extract holds and
    /// `label` names it in messages.
    pub fn from_schema(label: &Path, schema: &arrow_schema::Schema, rows: u64) -> Result<Manifest> {
        let json = schema.metadata().get(MANIFEST_KEY).ok_or_else(|| {
            Error::manifest(label, "is not a pseudolink extract (its schema has no manifest); make it with `tokenise`")
        })?;
        let m = Manifest::from_json(json).map_err(|p| Error::manifest(label, p))?;
        if m.rows.written != rows {
            return Err(Error::manifest(
                label,
                "its manifest's row count disagrees with the rows it holds; rows were added or removed after \
                 tokenising. Link the extract as it was tokenised",
            ));
        }
        m.check_contract(schema).map_err(|p| {
            Error::manifest(
                label,
                format!("{p}; the table does not match what `tokenise` writes and may have been altered"),
            )
        })?;
        Ok(m)
    }

    /// Every column of the extract that is not a keyed token or Bloom filter — what leaves the
    /// provider readable — with why it is there.
    pub fn in_clear(&self) -> Vec<(String, String)> {
        use crate::io::schema::Encoding;
        let mut out = Vec::new();
        if self.record_id_mode == crate::config::RecordIdMode::Keep {
            out.push((
                schema::RECORD_ID.to_string(),
                "your record id as it is (record_id mode = \"keep\")".to_string(),
            ));
        }
        for f in &self.fields {
            for c in &f.columns {
                let why = match c.encoding {
                    Encoding::Token | Encoding::Bloom => continue,
                    Encoding::Status => "NHS-number status (valid, missing, bad_format …; no digits)".to_string(),
                    Encoding::Plain => format!("{} as a category (plain = true)", f.kind.as_str()),
                    Encoding::Year => "year of birth (release_year = true)".to_string(),
                    Encoding::Band => "name frequency band 1-3 (the resistant profile)".to_string(),
                };
                out.push((c.name.clone(), why));
            }
        }
        for p in &self.passthrough {
            out.push((p.name.clone(), format!("pass-through {} column ([[passthrough]])", p.kind.as_str())));
        }
        out
    }

    /// Reads the manifest of a pseudonymised extract, checking it is one this build reads.
    pub fn read(path: &Path) -> Result<(Manifest, ParquetMetaData)> {
        let file = File::open(path).map_err(|e| Error::io("opening", path, e))?;
        let reader = SerializedFileReader::new(file)
            .map_err(|_| Error::manifest(path, "is not a readable Parquet file (it may be truncated or damaged)"))?;
        let meta = reader.metadata().clone();
        let kv = meta.file_metadata().key_value_metadata();
        let json = kv
            .and_then(|kv| kv.iter().find(|e| e.key == MANIFEST_KEY))
            .and_then(|e| e.value.clone())
            .ok_or_else(|| {
                Error::manifest(
                    path,
                    "is not a pseudolink extract (it has no manifest); make it with `pseudolink tokenise`",
                )
            })?;
        let m = Manifest::from_json(&json).map_err(|p| Error::manifest(path, p))?;
        if m.rows.written != meta.file_metadata().num_rows().max(0) as u64 {
            return Err(Error::manifest(
                path,
                "its manifest's row count disagrees with the file's; the file may have been altered. Ask the provider to send it again",
            ));
        }
        let arrow = parquet::arrow::parquet_to_arrow_schema(meta.file_metadata().schema_descr(), kv).map_err(|_| {
            Error::manifest(path, "its columns cannot be read as Arrow columns; the file may be damaged")
        })?;
        m.check_contract(&arrow).map_err(|p| {
            Error::manifest(path, format!("{p}; the file does not match what `pseudolink tokenise` writes and may have been altered. Ask the provider to send it again"))
        })?;
        Ok((m, meta))
    }

    /// Parses and checks manifest JSON; the error is a sentence for the user.
    pub fn from_json(json: &str) -> std::result::Result<Manifest, crate::error::Invalid> {
        let probe: serde_json::Value = serde_json::from_str(json)
            .map_err(|_| "its manifest is not valid JSON; the file may be damaged".to_string())?;
        if probe.get("format").and_then(|v| v.as_str()) != Some(FORMAT_NAME) {
            return Err("its manifest is not a pseudolink extract manifest".into());
        }
        let version = probe.get("format_version").and_then(|v| v.as_u64());
        if version != Some(u64::from(FORMAT_VERSION)) {
            return Err(format!(
                "has extract format version {}, but this pseudolink reads version {FORMAT_VERSION}; tokenise again with the release the project agreed on",
                version.map_or("unknown".into(), |v| v.to_string())
            ).into());
        }
        let normalisation = probe.get("normalisation_version").and_then(|v| v.as_u64());
        if normalisation != Some(u64::from(crate::encode::NORMALISATION_VERSION)) {
            return Err(format!(
                "was tokenised with normalisation version {}, but this pseudolink normalises by version {}: its tokens \
                 would not agree with this release's; tokenise again with the release the project agreed on",
                normalisation.map_or("unknown".into(), |v| v.to_string()),
                crate::encode::NORMALISATION_VERSION
            )
            .into());
        }
        serde_json::from_value(probe).map_err(|e| {
            // serde's message may quote a manifest value; keep only its category and position.
            format!("its manifest is malformed ({}); the file may be damaged", e.classify_name()).into()
        })
    }

    /// Checks that the manifest describes exactly the columns tokenise writes for its fields
    /// (names, parts, encodings, token widths and subkey purposes: a column keyed for one purpose
    /// cannot be presented as another's), that no column is claimed twice, and that every column it
    /// declares is in the file with its type. A forged or edited manifest fails here, before any
    /// value is read.
    pub fn check_contract(&self, file: &arrow_schema::Schema) -> std::result::Result<(), crate::error::Invalid> {
        let mut claimed = std::collections::BTreeSet::new();
        claimed.insert(schema::RECORD_ID.to_string());
        match file.field_with_name(schema::RECORD_ID) {
            Ok(f) if f.data_type() == &arrow_schema::DataType::Utf8 => {}
            _ => return Err(format!("it has no text `{}` column", schema::RECORD_ID).into()),
        }
        let bloom_bytes = self.bloom.output_bytes();
        for f in &self.fields {
            let has = |part: &str| f.columns.iter().any(|c| c.part == part);
            let options = schema::FieldOptions {
                plain_sex: has("category"),
                release_year: has("year_of_birth"),
                bloom: has("bloom"),
                salted_names: f.columns.iter().any(|c| c.purpose == Some(Purpose::NameExactByDob.label())),
            };
            let want = schema::field_columns(f.kind, &f.name, options);
            let what = format!("field `{}` ({})", f.name, f.kind.as_str());
            let singular = f.kind.default_output_name().is_some();
            if let Some(owner) = FieldType::owning_standard_name(&f.name).filter(|t| singular && *t != f.kind) {
                return Err(format!("its manifest gives {what} the standard name of type {}", owner.as_str()).into());
            }
            if want.len() != f.columns.len() {
                return Err(format!("its manifest gives {what} {} columns, not {}", f.columns.len(), want.len()).into());
            }
            for (c, w) in f.columns.iter().zip(&want) {
                let part = if w.part.is_empty() { "category" } else { w.part };
                let bytes = match w.encoding {
                    Encoding::Token => Some(crate::token::TOKEN_BYTES),
                    Encoding::Bloom => Some(bloom_bytes),
                    _ => None,
                };
                let ok = c.name == schema::column_name(&f.name, w.part)
                    && c.part == part
                    && c.encoding == w.encoding
                    && c.purpose == w.purpose.as_ref().map(|p| p.label())
                    && c.bytes == bytes;
                if !ok {
                    return Err(format!(
                        "its manifest's column `{}` of {what} is not the {part} column tokenise writes (name, encoding, \
                         width or key purpose differ)",
                        c.name
                    ).into());
                }
                if !claimed.insert(c.name.clone()) {
                    return Err(format!("its manifest names column `{}` twice", c.name).into());
                }
                let arrow = schema::encoded_field(&c.name, c.encoding, bytes.unwrap_or(0));
                match file.field_with_name(&c.name) {
                    Ok(found) if found.data_type() == arrow.data_type() => {}
                    Ok(_) => {
                        return Err(format!("column `{}` does not have the type its manifest declares", c.name).into());
                    }
                    Err(_) => {
                        return Err(format!("column `{}`, declared in its manifest, is not in the file", c.name).into());
                    }
                }
            }
        }
        for p in &self.passthrough {
            if !claimed.insert(p.name.clone()) {
                return Err(format!("its manifest names column `{}` twice", p.name).into());
            }
            match file.field_with_name(&p.name) {
                Ok(found) if found.data_type() == &schema::passthrough_type(p.kind) => {}
                Ok(_) => return Err(format!("column `{}` does not have the type its manifest declares", p.name).into()),
                Err(_) => {
                    return Err(format!("column `{}`, declared in its manifest, is not in the file", p.name).into());
                }
            }
        }
        // And nothing else: a column the manifest does not declare would go unseen by `inspect`
        // and the audit (a plain year of birth dropped from the manifest, say).
        if let Some(extra) = file.fields().iter().find(|f| !claimed.contains(f.name())) {
            return Err(format!("column `{}` is in the file but not in its manifest", extra.name()).into());
        }
        Ok(())
    }

    /// Whether name tokens are salted with the date of birth (the `resistant` profile).
    pub fn salted_names(&self) -> bool {
        let label = Purpose::NameExactByDob.label();
        self.fields.iter().flat_map(|f| f.columns.iter()).any(|c| c.purpose.as_deref() == Some(label.as_str()))
    }

    /// The manifest as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "I/O",
            serde_json::error::Category::Syntax => "syntax",
            serde_json::error::Category::Data => "unexpected content",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}
