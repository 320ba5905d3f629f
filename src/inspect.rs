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
    /// Columns readable without a key, with why each is there.
    pub in_clear: Vec<(String, String)>,
    /// The file's size in bytes.
    pub bytes: u64,
    /// The file's SHA-256, for the recipient to check what arrived.
    pub sha256: String,
}

/// A file's size and SHA-256 (hex).
pub fn digest(path: &Path) -> Result<(u64, String)> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| crate::error::Error::io("reading", path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf).map_err(|e| crate::error::Error::io("reading", path, e))?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((n, hex::encode(h.finalize())))
}

/// The lines saying what leaves in clear and what to send, as `inspect` and `tokenise` end.
pub fn what_leaves(file: &str, manifest: &Manifest, bytes: u64, sha256: &str) -> String {
    let mut t = String::new();
    let in_clear = manifest.in_clear();
    let _ = writeln!(t, "leaves in clear (readable without a key):");
    if in_clear.is_empty() {
        let _ = writeln!(t, "  nothing: every column is a keyed token or Bloom filter");
    }
    for (c, why) in &in_clear {
        let _ = writeln!(t, "  {c:<24} {why}");
    }
    let _ = writeln!(t, "everything else is keyed tokens and Bloom filters under key id {}.", manifest.key_id);
    let _ = writeln!(
        t,
        "send: {file} ({} bytes, SHA-256 {sha256}); the recipient checks the SHA-256 and the key id",
        group_digits(bytes)
    );
    t
}

/// Reads an extract's manifest and schema.
pub fn inspect(path: &Path) -> Result<Inspection> {
    let (manifest, meta) = Manifest::read(path)?;
    let fm = meta.file_metadata();
    let arrow = parquet::arrow::parquet_to_arrow_schema(fm.schema_descr(), fm.key_value_metadata()).map_err(|_| {
        crate::error::Error::manifest(path, "its schema could not be read as Arrow; the file may be damaged")
    })?;
    let schema = arrow.fields().iter().map(|f| (f.name().clone(), f.data_type().to_string())).collect();
    let (bytes, sha256) = digest(path)?;
    Ok(Inspection {
        file: path.display().to_string(),
        rows: meta.file_metadata().num_rows().max(0) as u64,
        row_groups: meta.num_row_groups(),
        in_clear: manifest.in_clear(),
        manifest,
        schema,
        bytes,
        sha256,
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
        let _ = writeln!(t);
        t.push_str(&what_leaves(&self.file, &self.manifest, self.bytes, &self.sha256));
        t
    }
}
