//! Properties checked on arbitrary input, one function per parser of untrusted input.
//!
//! Each function takes raw bytes, feeds them to one parser, and panics if a property fails —
//! not only if the parser panics. The fuzz targets in `fuzz/` call them under libFuzzer, and the
//! test suite replays the committed corpus in `fuzz/corpus/<target>/` through them on every run
//! (`tests/fuzz_corpus.rs`), so CI exercises every target.

use std::path::Path;

use crate::config::TokeniseConfig;
use crate::encode::Outcome;
use crate::encode::date::{DateFormats, parse_date};
use crate::encode::name::normalise_name;
use crate::encode::postcode::normalise_postcode;
use crate::token::nhs_number::{NhsNumber, check_digit};

/// A property check on raw input: panics when a property fails.
pub type Check = fn(&[u8]);

/// The targets, by name (as in `fuzz/fuzz_targets/<name>.rs` and `fuzz/corpus/<name>/`).
pub const TARGETS: [(&str, Check); 10] = [
    ("nhs_number", nhs_number),
    ("date", date),
    ("postcode", postcode),
    ("name", name),
    ("tokenise_config", tokenise_config),
    ("link_config", link_config),
    ("model_json", model_json),
    ("manifest_json", manifest_json),
    ("csv_extract", csv_extract),
    ("parquet_extract", parquet_extract),
];

/// A fresh folder under the system's temp folder, removed on drop.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new() -> Scratch {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("pseudolink-fuzz-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&p).expect("a temp folder");
        Scratch(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// NHS numbers: a number is accepted only if it has ten digits with a valid modulus-11 check
/// digit, and its digits parse back to the same number.
pub fn nhs_number(data: &[u8]) {
    let t = text(data);
    if let Ok(n) = NhsNumber::parse(&t) {
        let d = n.digits();
        assert!(d.iter().all(u8::is_ascii_digit), "accepted digits are digits");
        assert_eq!(check_digit(&d[..9]).map(|c| b'0' + c), Some(d[9]), "accepted check digit is valid");
        let again = NhsNumber::parse(std::str::from_utf8(d).expect("ASCII digits")).expect("digits reparse");
        assert_eq!(again.digits(), d);
    }
}

/// Dates: a parsed date is within the year range, and its ISO form parses back to itself.
pub fn date(data: &[u8]) {
    let t = text(data);
    let formats = DateFormats::defaults();
    let (o, d) = parse_date(&t, &formats, 1880, 2100);
    assert_eq!(o == Outcome::Value, d.is_some());
    if let Some(d) = d {
        use chrono::Datelike;
        assert!((1880..=2100).contains(&d.year()));
        let iso = d.format("%Y-%m-%d").to_string();
        assert_eq!(parse_date(&iso, &formats, 1880, 2100).1, Some(d), "ISO round trip");
    }
}

/// Postcodes: normalisation is idempotent and its parts are prefixes of the whole.
pub fn postcode(data: &[u8]) {
    let t = text(data);
    let mut out = String::new();
    let (o, parts) = normalise_postcode(&t, &mut out);
    assert_eq!(o == Outcome::Value, parts.is_some());
    if let Some(p) = parts {
        // A partial (outward-only) postcode has no full or sector part (lengths 0).
        assert!(p.area_len > 0 && p.area_len <= p.district_len && p.district_len <= out.len());
        if p.full_len > 0 {
            assert!(p.district_len < p.sector_len && p.sector_len < p.full_len && p.full_len == out.len());
        } else {
            assert_eq!((p.sector_len, p.district_len), (0, out.len()), "partial: the outward code alone");
        }
        let mut again = String::new();
        let (o2, p2) = normalise_postcode(&out, &mut again);
        assert_eq!((o2, again.as_str()), (Outcome::Value, out.as_str()), "idempotent");
        assert_eq!(p2, Some(p), "same parts");
    }
}

/// Names: normalisation is idempotent and yields no spaces, digits or punctuation, in upper case
/// (letters of non-Latin scripts are kept; upper-casing the result changes nothing — a letter
/// such as `ɧ` has no upper case).
pub fn name(data: &[u8]) {
    let t = text(data);
    let (mut out, mut parts) = (String::new(), Vec::new());
    if normalise_name(&t, &mut out, &mut parts) == Outcome::Value {
        // Letters only; a few scripts' letters are also numerals (`〦`), so "digit" means 0–9.
        let bad = |c: char| c.is_whitespace() || c.is_ascii_digit() || c.is_ascii_punctuation();
        assert!(!out.is_empty() && !out.chars().any(bad), "letters only");
        assert_eq!(out.to_uppercase(), out, "upper case");
        if t.is_ascii() {
            assert!(out.bytes().all(|b| b.is_ascii_uppercase()), "ASCII names give A to Z");
        }
        let (mut again, mut p2) = (String::new(), Vec::new());
        assert_eq!(normalise_name(&out, &mut again, &mut p2), Outcome::Value);
        assert_eq!(again, out, "idempotent");
    }
}

/// Tokenise configs: parsing never panics; a config that parses and has no problems
/// serialises to TOML that parses back with no problems.
pub fn tokenise_config(data: &[u8]) {
    let t = text(data);
    if let Ok(cfg) = TokeniseConfig::from_toml_str(&t, Path::new("fuzz.toml")) {
        let again = toml::to_string(&cfg).expect("a parsed config serialises");
        TokeniseConfig::from_toml_str(&again, Path::new("fuzz.toml")).expect("round trip");
    }
}

/// Link configs: parsing and checking never panic, and applying a checked config keeps the
/// settings in range.
pub fn link_config(data: &[u8]) {
    let t = text(data);
    if let Ok(cfg) = toml::from_str::<crate::link::config::LinkConfig>(&t) {
        if cfg.problems().is_empty() {
            let mut o = crate::link::LinkOptions::default();
            cfg.apply(&mut o);
            assert!(o.threshold > 0.0 && o.threshold < 1.0);
            assert!(o.thresholds.low <= o.thresholds.high);
        }
    }
}

/// Model JSON: a model that loads serialises and loads back equal; loaded into a linkage (aligned
/// to a run's comparisons, as `--model` does) it is either refused or fits them level for level,
/// and scores every pattern they can make to a number; and every comparison it describes either
/// resolves to a definition or is refused.
pub fn model_json(data: &[u8]) {
    use crate::link::compare::{ComparisonDef, Comparisons, Pattern, Thresholds, default_comparisons};
    let t = text(data);
    let Ok(m) = crate::link::model::Model::from_json(&t) else { return };
    let back = crate::link::model::Model::from_json(&m.to_json()).expect("round trip");
    assert_eq!(back, m);
    let r = fuzz_records();
    let defs = default_comparisons(&r, Thresholds::default());
    if let Ok(aligned) = m.aligned_to(&defs) {
        assert_eq!(aligned.comparisons.len(), defs.len());
        for (c, d) in aligned.comparisons.iter().zip(&defs) {
            assert_eq!(c.levels.len(), d.labels().len(), "comparison `{}`", d.name);
        }
        let c = Comparisons::resolve(defs.clone(), &r).expect("built-in comparisons resolve");
        // `fuzz_records` holds three records.
        for a in 0..3 {
            for b in 0..3 {
                let w = aligned.weight_of(c.pattern(&r, a, b));
                assert!(!w.is_nan(), "a weight is a number");
            }
        }
        // Every level of every comparison, one at a time.
        for (k, d) in defs.iter().enumerate() {
            for l in 0..d.labels().len() {
                assert!(!aligned.weight_of(Pattern(0).with(k, l as u8)).is_nan());
            }
        }
    }
    for c in &m.comparisons {
        let _ = ComparisonDef::from_model(c);
    }
}

/// Three records holding every standard field and an identifier, for loading models into.
fn fuzz_records() -> crate::link::data::Records {
    use crate::link::data::{BloomCol, ExtraField, Records, TokCol};
    let col = |v: &[u32]| TokCol { codes: v.to_vec() };
    let bloom = || BloomCol { width: 1, data: vec![0b1010_1010, 0b1010_1000], codes: vec![1, 2, 0] };
    Records {
        nhs: col(&[1, 1, 2]),
        given: (col(&[1, 2, 3]), col(&[1, 1, 3]), bloom()),
        family: (col(&[2, 2, 1]), col(&[2, 2, 1]), bloom()),
        dob: [col(&[1, 2, 3]), col(&[2, 1, 3]), col(&[1, 1, 3]), col(&[1, 1, 2])],
        postcode: [col(&[1, 2, 3]), col(&[1, 1, 3]), col(&[1, 1, 2]), col(&[1, 1, 1])],
        sex: vec![1, 1, 2],
        extras: vec![ExtraField {
            name: "local_id".into(),
            kind: Some(crate::config::FieldType::Identifier),
            token: col(&[1, 2, 0]),
            bloom: Some(bloom()),
        }],
        ..Default::default()
    }
}

/// Manifests: a manifest that loads serialises and loads back equal.
pub fn manifest_json(data: &[u8]) {
    let t = text(data);
    if let Ok(m) = crate::io::manifest::Manifest::from_json(&t) {
        let back = crate::io::manifest::Manifest::from_json(&m.to_json()).expect("round trip");
        assert_eq!(back, m);
    }
}

/// The config `csv_extract` tokenises with: every field type.
const CSV_CONFIG: &str = r#"source = "fuzz"
[record_id]
column = "id"
[[field]]
column = "nhs"
type = "nhs_number"
[[field]]
column = "given"
type = "given_name"
[[field]]
column = "family"
type = "family_name"
[[field]]
column = "dob"
type = "date_of_birth"
release_year = true
[[field]]
column = "postcode"
type = "postcode"
[[field]]
column = "sex"
type = "sex"
[[passthrough]]
column = "cost"
type = "float"
"#;

/// A CSV extract through the whole tokeniser: it either succeeds, writing every row it read and
/// accounting for every value, or fails leaving no output behind.
pub fn csv_extract(data: &[u8]) {
    let dir = Scratch::new();
    let input = dir.0.join("in.csv");
    let output = dir.0.join("out.parquet");
    let mut body = b"id,nhs,given,family,dob,postcode,sex,cost\n".to_vec();
    body.extend_from_slice(data);
    std::fs::write(&input, body).expect("write input");
    let cfg = TokeniseConfig::from_toml_str(CSV_CONFIG, Path::new("fuzz.toml")).expect("fixed config");
    let key = crate::token::ProjectKey::from_bytes([7; 32]);
    let options = crate::tokenise::TokeniseOptions { batch_rows: 16, progress: None };
    match crate::tokenise::tokenise(&cfg, &key, &input, &output, &options) {
        Ok(s) => {
            assert_eq!(s.manifest.rows.read, s.manifest.rows.written, "every row read is written");
            let (m, _) = crate::io::manifest::Manifest::read(&output).expect("the output is an extract");
            assert_eq!(m.rows.written, s.manifest.rows.written);
        }
        Err(_) => assert!(!output.exists(), "a failed run leaves no output"),
    }
}

/// A pseudonymised Parquet file as the TRE receives it: reading its manifest and loading it for
/// linkage never panic, whatever the bytes.
pub fn parquet_extract(data: &[u8]) {
    let dir = Scratch::new();
    let path = dir.0.join("x.parquet");
    std::fs::write(&path, data).expect("write input");
    if crate::io::manifest::Manifest::read(&path).is_ok() {
        if let Ok(r) = crate::link::data::Records::load(std::slice::from_ref(&path)) {
            assert_eq!(r.counts.iter().sum::<u64>() as usize, r.len());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed corpus holds models that load into a linkage, in order and reordered, so
    /// that replaying it exercises `model_json`'s alignment and scoring, not only parsing.
    #[test]
    fn the_model_corpus_reaches_alignment() {
        use crate::link::compare::{Thresholds, default_comparisons};
        let defs = default_comparisons(&fuzz_records(), Thresholds::default());
        for f in ["aligned_model_format_2.json", "reordered_model_format_2.json"] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/model_json").join(f);
            let text = std::fs::read_to_string(&path).unwrap();
            let m = crate::link::model::Model::from_json(&text).unwrap();
            assert!(m.aligned_to(&defs).is_ok(), "{f}");
            model_json(text.as_bytes());
        }
    }
}
