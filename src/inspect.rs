//! `inspect`: what a pseudonymised extract is — its manifest, schema and row counts — without
//! ever reading a token value.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::error::{Result, group_digits};
use crate::io::manifest::Manifest;

/// What `inspect` shows.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    /// The file inspected.
    pub file: String,
    /// Its manifest.
    pub manifest: Manifest,
    /// Column names and types.
    pub schema: Vec<(String, String)>,
    /// Rows in the file.
    pub rows: u64,
    /// Parquet row groups.
    pub row_groups: usize,
}

/// Reads an extract's manifest and schema.
pub fn inspect(path: &Path) -> Result<Inspection> {
    let (manifest, meta) = Manifest::read(path)?;
    let fm = meta.file_metadata();
    let arrow = parquet::arrow::parquet_to_arrow_schema(fm.schema_descr(), fm.key_value_metadata()).map_err(|_| {
        crate::error::Error::manifest(path, "its schema could not be read as Arrow; the file may be damaged")
    })?;
    let schema = arrow.fields().iter().map(|f| (f.name().clone(), f.data_type().to_string())).collect();
    Ok(Inspection {
        file: path.display().to_string(),
        rows: meta.file_metadata().num_rows().max(0) as u64,
        row_groups: meta.num_row_groups(),
        manifest,
        schema,
    })
}

impl Inspection {
    /// Text for people.
    pub fn to_text(&self) -> String {
        let m = &self.manifest;
        let mut t = String::new();
        let _ = writeln!(t, "file:                  {}", self.file);
        let _ = writeln!(t, "format:                {} v{}", m.format, m.format_version);
        let _ = writeln!(t, "written by:            pseudolink {}", m.tool_version);
        let _ = writeln!(t, "normalisation version: {}", m.normalisation_version);
        let _ = writeln!(t, "source:                {}", m.source);
        let _ = writeln!(t, "key id:                {}", m.key_id);
        let _ = writeln!(
            t,
            "name tokens:           {}",
            if m.salted_names() {
                "salted with the date of birth (profile `resistant`)"
            } else {
                "one per name (profile `standard`)"
            }
        );
        match &m.tre_key_id {
            Some(id) => {
                let _ = writeln!(t, "TRE key id:            {id} (re-keyed: tokens depend on both keys)");
            }
            None => {
                let _ = writeln!(t, "TRE key id:            none (as the provider made it; not re-keyed)");
            }
        }
        let _ = writeln!(t, "config sha256:         {}", m.config_sha256);
        let mode = match m.record_id_mode {
            crate::config::RecordIdMode::Keep => "kept as exported",
            crate::config::RecordIdMode::Pseudonymise => "pseudonymised",
        };
        let _ = writeln!(t, "record ids:            {mode}");
        let _ = writeln!(t, "rows:                  {} in {} row group(s)", group_digits(self.rows), self.row_groups);
        let _ = writeln!(
            t,
            "bloom filters:         {} bits, {} hashes, {}-grams, hardening {}",
            m.bloom.bits,
            m.bloom.hashes,
            m.bloom.ngram,
            serde_json::to_value(m.bloom.hardening).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
        );
        let _ = writeln!(t, "\nfields:");
        for f in &m.fields {
            let cols: Vec<String> = f.columns.iter().map(|c| c.name.clone()).collect();
            let _ = writeln!(t, "  {:<16} {:<14} {}", f.name, f.kind.as_str(), cols.join(", "));
        }
        if !m.passthrough.is_empty() {
            let _ = writeln!(t, "\npass-through:");
            for p in &m.passthrough {
                let _ = writeln!(t, "  {:<16} {}", p.name, p.kind.as_str());
            }
        }
        let _ = writeln!(t, "\nschema:");
        for (name, ty) in &self.schema {
            let _ = writeln!(t, "  {name:<24} {ty}");
        }
        t
    }
}
