//! The tokenise config: which input columns are which fields, and how to read the extract.
//!
//! Written by a provider's IG team, so: TOML, unknown settings refused, every setting defaulted
//! from a documented `DEFAULT_*` constant, and every problem reported at once. A complete example
//! is in `docs/config.md`.
//!
//! ```
//! use pseudolink::config::TokeniseConfig;
//! let cfg = TokeniseConfig::from_toml_str(r#"
//!     source = "acute"
//!     [record_id]
//!     column = "episode_id"
//!     [[field]]
//!     column = "nhs_no"
//!     type = "nhs_number"
//! "#, "tokenise.toml".as_ref())?;
//! assert_eq!(cfg.fields[0].output_name(), "nhs_number");
//! # Ok::<(), pseudolink::Error>(())
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::encode::bloom::BloomParams;
use crate::encode::date::{DEFAULT_DATE_FORMATS, DEFAULT_MAX_YEAR, DEFAULT_MIN_YEAR};
use crate::error::{Error, Result};

/// Default CSV delimiter.
pub const DEFAULT_DELIMITER: char = ',';
/// Default CSV quote character.
pub const DEFAULT_QUOTE: char = '"';
/// Default: the first CSV row is a header.
pub const DEFAULT_HAS_HEADER: bool = true;

/// A tokenise config as written.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TokeniseConfig {
    /// The provider's source code, recorded in the manifest (`acute`, `gp`, `ae` …): letters,
    /// digits, `-` and `_`, at most 32 characters.
    pub source: String,
    /// How to read the input.
    #[serde(default)]
    pub input: InputOptions,
    /// The record id column.
    pub record_id: RecordIdConfig,
    /// Identifying fields, each tokenised.
    #[serde(default, rename = "field")]
    pub fields: Vec<FieldConfig>,
    /// Allow-listed activity columns copied through in plain text.
    #[serde(default, rename = "passthrough")]
    pub passthrough: Vec<PassthroughConfig>,
    /// Bloom-filter parameters for every Bloom encoding in this extract.
    #[serde(default)]
    pub bloom: BloomParams,
    /// The encoding profile: `standard`, or `resistant` (name tokens salted with the date of
    /// birth, so that their frequencies no longer follow the names'; see docs/fields.md).
    #[serde(default)]
    pub profile: EncodingProfile,
    /// The SHA-256 of the config file's bytes, set when read from a file.
    #[serde(skip)]
    pub digest: String,
}

/// How to read the input extract.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct InputOptions {
    /// `csv` or `parquet`; by default from the file name's extension.
    pub format: Option<InputFormat>,
    /// CSV field delimiter, one character (`,` by default; `\t` or `|` are common).
    pub delimiter: char,
    /// CSV quote character.
    pub quote: char,
    /// Whether the first CSV row is a header. Without one, columns are named `column_1` …
    pub has_header: bool,
    /// CSV text encoding.
    pub encoding: TextEncoding,
}

impl Default for InputOptions {
    fn default() -> Self {
        InputOptions {
            format: None,
            delimiter: DEFAULT_DELIMITER,
            quote: DEFAULT_QUOTE,
            has_header: DEFAULT_HAS_HEADER,
            encoding: TextEncoding::Utf8,
        }
    }
}

/// Input file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InputFormat {
    /// Delimited text.
    Csv,
    /// Apache Parquet.
    Parquet,
}

/// CSV text encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub enum TextEncoding {
    /// UTF-8 (a leading byte-order mark is ignored). Invalid bytes are an error.
    #[serde(rename = "utf-8", alias = "utf8", alias = "UTF-8")]
    Utf8,
    /// Windows-1252, as Excel and many older clinical systems export. Every byte decodes. Also
    /// accepted as `cp1252` and `latin1` (ISO 8859-1, whose printable characters Windows-1252
    /// decodes the same).
    #[serde(rename = "windows-1252", alias = "cp1252", alias = "latin1", alias = "iso-8859-1", alias = "Windows-1252")]
    Windows1252,
}

/// Encoding profiles: which deterministic tokens the TRE receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum EncodingProfile {
    /// Per-field exact and phonetic name tokens.
    #[default]
    Standard,
    /// Exact and phonetic name tokens salted with the record's date of birth: equal only for
    /// equal names born on the same day, so a token's frequency is that of a name among the few
    /// persons born that day. Needs a date-of-birth field.
    Resistant,
}

/// The record id column and what happens to it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RecordIdConfig {
    /// Input column holding a row id unique within this extract.
    pub column: String,
    /// `pseudonymise` (the default: a keyed token per source) or `keep` (an extract row id
    /// meaningless outside the provider, copied in clear).
    #[serde(default)]
    pub mode: RecordIdMode,
    /// With `mode = "keep"`, allow ids that look like NHS numbers (ten digits passing modulus
    /// 11), which are otherwise refused: a kept id of that shape is usually an NHS number.
    #[serde(default)]
    pub danger_keep_nhs_number_like_ids: bool,
}

/// What happens to the record id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordIdMode {
    /// Copied as it is: only for ids that mean nothing outside the provider.
    Keep,
    /// Replaced by a keyed token (hex), per source: the default, since an episode or
    /// registration id can be looked up in the provider's own system.
    #[default]
    Pseudonymise,
}

/// The field types a column can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FieldType {
    /// NHS number: status plus token.
    NhsNumber,
    /// Given (first) name: exact, phonetic and Bloom encodings.
    GivenName,
    /// Family name (surname): exact, phonetic and Bloom encodings.
    FamilyName,
    /// Any other person name (middle name, previous surname …).
    Name,
    /// Date of birth: full, swapped, year-month and year tokens.
    DateOfBirth,
    /// Any other date (date of death …).
    Date,
    /// UK postcode: full, sector, district and area tokens.
    Postcode,
    /// Sex: plain category or token.
    Sex,
    /// A generic identifier (hospital number …): exact token, optional Bloom filter.
    Identifier,
    /// A generic string: exact token, optional Bloom filter.
    String,
}

impl FieldType {
    /// The name used in configs and manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::NhsNumber => "nhs_number",
            FieldType::GivenName => "given_name",
            FieldType::FamilyName => "family_name",
            FieldType::Name => "name",
            FieldType::DateOfBirth => "date_of_birth",
            FieldType::Date => "date",
            FieldType::Postcode => "postcode",
            FieldType::Sex => "sex",
            FieldType::Identifier => "identifier",
            FieldType::String => "string",
        }
    }

    /// Types of which an extract may hold one field only: the linker's standard comparisons.
    fn is_singular(self) -> bool {
        matches!(
            self,
            FieldType::NhsNumber
                | FieldType::GivenName
                | FieldType::FamilyName
                | FieldType::DateOfBirth
                | FieldType::Postcode
                | FieldType::Sex
        )
    }

    /// The standard output name of the six singular types.
    pub(crate) fn default_output_name(self) -> Option<&'static str> {
        match self {
            FieldType::NhsNumber => Some("nhs_number"),
            FieldType::GivenName => Some("given_name"),
            FieldType::FamilyName => Some("family_name"),
            FieldType::DateOfBirth => Some("dob"),
            FieldType::Postcode => Some("postcode"),
            FieldType::Sex => Some("sex"),
            _ => None,
        }
    }

    /// The type whose standard output name is `name`, if any: a field of one of the six singular
    /// types may not take another's standard name (a family name written as `given_name` would be
    /// read as the given name by anyone going by names).
    pub(crate) fn owning_standard_name(name: &str) -> Option<FieldType> {
        [
            FieldType::NhsNumber,
            FieldType::GivenName,
            FieldType::FamilyName,
            FieldType::DateOfBirth,
            FieldType::Postcode,
            FieldType::Sex,
        ]
        .into_iter()
        .find(|t| t.default_output_name() == Some(name))
    }
}

/// One identifying field.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FieldConfig {
    /// Input column.
    pub column: String,
    /// Field type.
    #[serde(rename = "type")]
    pub kind: FieldType,
    /// Output column prefix; defaults to the type's standard name (`nhs_number`, `given_name`,
    /// `family_name`, `dob`, `postcode`, `sex`) or, for other types, the input column name.
    pub name: Option<String>,
    /// Dates: `chrono` formats tried in order.
    pub formats: Option<Vec<String>>,
    /// Dates: earliest plausible year.
    pub min_year: Option<i32>,
    /// Dates: latest plausible year.
    pub max_year: Option<i32>,
    /// Sex: keep as a plain `M`/`F`/`I` category instead of a token.
    pub plain: Option<bool>,
    /// Identifiers and strings: also write a Bloom-filter encoding.
    pub bloom: Option<bool>,
    /// NHS number: known dummy numbers this provider's systems give unknown patients (valid
    /// numbers that are not any one person's). They get the `placeholder` status and no token.
    pub placeholders: Option<Vec<String>>,
    /// Date of birth: also write the year of birth in plain (`<name>_year_of_birth`), so that
    /// the TRE can group persons by age. Off unless asked for; see docs/fields.md.
    pub release_year: Option<bool>,
}

impl FieldConfig {
    /// The output column prefix.
    pub fn output_name(&self) -> String {
        match &self.name {
            Some(n) => n.clone(),
            None => match self.kind.default_output_name() {
                Some(n) => n.to_string(),
                None => sanitise(&self.column),
            },
        }
    }

    /// Date formats, defaulted.
    pub fn date_formats(&self) -> Vec<String> {
        formats_or_default(&self.formats)
    }

    /// Plausible year range, defaulted.
    pub fn year_range(&self) -> (i32, i32) {
        (self.min_year.unwrap_or(DEFAULT_MIN_YEAR), self.max_year.unwrap_or(DEFAULT_MAX_YEAR))
    }
}

/// Pass-through value types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum PassType {
    /// Text, copied as it is (blank → null).
    #[default]
    String,
    /// Whole numbers (64-bit).
    Integer,
    /// Decimal numbers (costs …).
    Float,
    /// Dates (written as Parquet dates).
    Date,
    /// true/false, yes/no, y/n, 1/0.
    Boolean,
}

impl PassType {
    /// The name used in configs and manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            PassType::String => "string",
            PassType::Integer => "integer",
            PassType::Float => "float",
            PassType::Date => "date",
            PassType::Boolean => "boolean",
        }
    }
}

/// One allow-listed pass-through column.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PassthroughConfig {
    /// Input column.
    pub column: String,
    /// Output column name; defaults to the input name.
    #[serde(rename = "as")]
    pub rename: Option<String>,
    /// Value type; values that do not parse become null and are counted.
    #[serde(rename = "type", default)]
    pub kind: PassType,
    /// Dates: `chrono` formats tried in order.
    pub formats: Option<Vec<String>>,
    /// Amounts (`type = "float"`): the decimal separator, `"."` (the default), `","`, or
    /// `"auto"` (decided per value where the value settles it; `1,234` is then unusable, never
    /// guessed). See `encode::money`.
    #[serde(default)]
    pub decimal: crate::encode::money::Decimal,
}

impl PassthroughConfig {
    /// The output column name.
    pub fn output_name(&self) -> String {
        self.rename.clone().unwrap_or_else(|| sanitise(&self.column))
    }

    /// Date formats, defaulted (used when the type is `date`).
    pub fn date_formats(&self) -> Vec<String> {
        formats_or_default(&self.formats)
    }
}

fn formats_or_default(formats: &Option<Vec<String>>) -> Vec<String> {
    formats.clone().unwrap_or_else(|| DEFAULT_DATE_FORMATS.iter().map(|s| s.to_string()).collect())
}

/// Lower-cases a column name into `[a-z0-9_]`.
pub fn sanitise(column: &str) -> String {
    let mut s: String =
        column.trim().chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, 'c');
    }
    s
}

fn valid_output_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

impl TokeniseConfig {
    /// Reads and checks a config file.
    pub fn read(path: &Path) -> Result<TokeniseConfig> {
        let bytes = std::fs::read(path).map_err(|e| Error::io("reading config", path, e))?;
        let text =
            std::str::from_utf8(&bytes).map_err(|_| Error::config(path, vec!["the file is not UTF-8 text".into()]))?;
        let mut cfg = TokeniseConfig::from_toml_str(text, path)?;
        cfg.digest = hex::encode(Sha256::digest(&bytes));
        Ok(cfg)
    }

    /// Parses and checks config text; `path` names it in errors.
    pub fn from_toml_str(text: &str, path: &Path) -> Result<TokeniseConfig> {
        let (cfg, syntax) = parse_collecting::<TokeniseConfig>(text);
        let Some(mut cfg) = cfg.filter(|_| syntax.is_empty()) else {
            // Every misspelt setting and value at once; the rest of the checks once they parse.
            let mut problems = syntax;
            if let Some(c) = parse_collecting::<TokeniseConfig>(text).0 {
                problems.extend(c.problems());
            }
            return Err(Error::config(path, problems));
        };
        cfg.digest = hex::encode(Sha256::digest(text.as_bytes()));
        // The `resistant` profile hardens Bloom filters per record unless told otherwise: plain
        // filters give equal names equal filters, whose frequencies the salting is there to hide.
        let explicit_hardening = toml::from_str::<toml::Table>(text)
            .ok()
            .and_then(|t| t.get("bloom").and_then(|b| b.get("hardening")).cloned())
            .is_some();
        let mut problems = Vec::new();
        if cfg.profile == EncodingProfile::Resistant && cfg.bloom.hardening == crate::encode::bloom::Hardening::XorFold
        {
            problems.push(
                "`profile = \"resistant\"` needs Bloom filters hardened per record; `xor-fold` is the same for equal names: \
                 remove `bloom.hardening` (the profile uses \"blip\")"
                    .into(),
            );
        }
        if cfg.profile == EncodingProfile::Resistant && cfg.bloom.blip_f < crate::encode::bloom::DEFAULT_BLIP_F {
            problems.push(format!(
                "`profile = \"resistant\"` needs `bloom.blip_f` of at least {} (fewer flipped bits leave equal names' filters \
                 nearly equal)",
                crate::encode::bloom::DEFAULT_BLIP_F
            ));
        }
        if cfg.profile == EncodingProfile::Resistant && cfg.bloom.hardening == crate::encode::bloom::Hardening::None {
            if explicit_hardening {
                problems.push(
                    "`profile = \"resistant\"` needs hardened Bloom filters (plain ones give its salted names' \
                     frequencies away): remove `bloom.hardening = \"none\"` (the profile uses \"blip\")"
                        .into(),
                );
            } else {
                cfg.bloom.hardening = crate::encode::bloom::Hardening::Blip;
            }
        }
        problems.extend(cfg.problems());
        if problems.is_empty() { Ok(cfg) } else { Err(Error::config(path, problems)) }
    }

    /// Every problem with this config, each a sentence naming the setting and the fix.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        let src_ok = !self.source.is_empty()
            && self.source.len() <= 32
            && self.source.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !src_ok {
            p.push("`source` must be 1 to 32 letters, digits, `-` or `_` (for example \"acute\")".into());
        } else if crate::token::nhs_number::looks_like_nhs_number(&self.source) {
            // The source is written in clear in every extract's manifest.
            p.push("`source` holds what looks like an NHS number; name the source (for example \"acute\")".into());
        }
        if self.fields.is_empty() {
            p.push(
                "no `[[field]]` is configured; map at least one identifying column (for example type = \"nhs_number\")"
                    .into(),
            );
        }
        let mut singular: BTreeMap<FieldType, usize> = BTreeMap::new();
        let mut outputs: BTreeMap<String, String> = BTreeMap::new();
        let mut claim = |name: String, what: String, p: &mut Vec<String>| {
            if let Some(prev) = outputs.insert(name.clone(), what.clone()) {
                p.push(format!(
                    "output name `{name}` is used by both {prev} and {what}; set `name` or `as` on one of them"
                ));
            }
        };
        claim("record_id".into(), "the record id".into(), &mut p);
        claim("row_number".into(), "the row number".into(), &mut p);
        let mut identifying: BTreeMap<&str, &str> = BTreeMap::new();
        identifying.insert(self.record_id.column.as_str(), "the record id");
        for (i, f) in self.fields.iter().enumerate() {
            let what = format!("field {} (column `{}`, type {})", i + 1, f.column, f.kind.as_str());
            if f.kind.is_singular() {
                *singular.entry(f.kind).or_default() += 1;
            }
            let name = f.output_name();
            if !valid_output_name(&name) {
                p.push(format!(
                    "{what}: output name `{name}` must be lower-case letters, digits and `_`, not starting with a digit"
                ));
            }
            let singular = f.kind.default_output_name().is_some();
            if let Some(owner) = FieldType::owning_standard_name(&name).filter(|t| singular && *t != f.kind) {
                p.push(format!(
                    "{what}: output name `{name}` is the standard name of type {}; choose another `name`",
                    owner.as_str()
                ));
            }
            claim(name, what.clone(), &mut p);
            if f.column == self.record_id.column {
                p.push(format!(
                    "{what}: the column is also the record id; an identifying field cannot be the record id. \
                     Use an episode or row id column for `record_id.column`"
                ));
            }
            identifying.insert(f.column.as_str(), f.kind.as_str());
            let is_date = matches!(f.kind, FieldType::DateOfBirth | FieldType::Date);
            if !is_date && (f.formats.is_some() || f.min_year.is_some() || f.max_year.is_some()) {
                p.push(format!("{what}: `formats`, `min_year` and `max_year` apply only to date fields; remove them"));
            }
            if is_date {
                if let Some(fmts) = &f.formats {
                    if fmts.is_empty() {
                        p.push(format!("{what}: `formats` is empty; list at least one, such as \"%d/%m/%Y\""));
                    }
                    for fm in fmts {
                        if !fm.contains("%Y") && !fm.contains("%y") && !fm.contains("%F") {
                            p.push(format!("{what}: date format `{fm}` has no year (%Y)"));
                        }
                    }
                    if let Err(bad) = crate::encode::date::DateFormats::new(fmts) {
                        p.push(format!("{what}: date format `{bad}` is not valid chrono syntax (see docs/config.md)"));
                    }
                }
                let (lo, hi) = f.year_range();
                if lo > hi {
                    p.push(format!("{what}: `min_year` is after `max_year`"));
                }
            }
            if let Some(list) = &f.placeholders {
                if f.kind != FieldType::NhsNumber {
                    p.push(format!("{what}: `placeholders` applies only to nhs_number; remove it"));
                }
                for (k, v) in list.iter().enumerate() {
                    if crate::token::NhsNumber::parse(v).is_err() {
                        p.push(format!(
                            "{what}: placeholder {} is not a valid NHS number (ten digits passing the check digit); \
                             invalid numbers never get a token, so list only valid ones",
                            k + 1
                        ));
                    }
                }
            }
            if f.plain.is_some() && f.kind != FieldType::Sex {
                p.push(format!("{what}: `plain` applies only to sex; remove it"));
            }
            if f.release_year.is_some() && f.kind != FieldType::DateOfBirth {
                p.push(format!("{what}: `release_year` applies only to date_of_birth; remove it"));
            }
            if f.bloom.is_some() && !matches!(f.kind, FieldType::Identifier | FieldType::String) {
                p.push(format!(
                    "{what}: `bloom` applies only to identifier and string fields (names always have one); remove it"
                ));
            }
        }
        for (kind, n) in singular {
            if n > 1 {
                p.push(format!("{n} fields have type {}; an extract may have one (use type \"name\", \"date\" or \"identifier\" for the others)", kind.as_str()));
            }
        }
        for (i, t) in self.passthrough.iter().enumerate() {
            let what = format!("passthrough {} (column `{}`)", i + 1, t.column);
            if let Some(kind) = identifying.get(t.column.as_str()) {
                p.push(format!("{what}: the column is mapped as {kind}; identifying columns never pass through. Remove the passthrough"));
            }
            let name = t.output_name();
            if !valid_output_name(&name) {
                p.push(format!("{what}: output name `{name}` must be lower-case letters, digits and `_`; set `as`"));
            }
            claim(name, what.clone(), &mut p);
            if t.formats.is_some() && t.kind != PassType::Date {
                p.push(format!("{what}: `formats` applies only to type \"date\"; remove it"));
            }
            if let Some(Err(bad)) = t.formats.as_ref().map(|f| crate::encode::date::DateFormats::new(f)) {
                p.push(format!("{what}: date format `{bad}` is not valid chrono syntax (see docs/config.md)"));
            }
        }
        if self.profile == EncodingProfile::Resistant && !self.fields.iter().any(|f| f.kind == FieldType::DateOfBirth) {
            p.push(
                "`profile = \"resistant\"` salts name tokens with the date of birth: map a date_of_birth field".into(),
            );
        }
        if self.record_id.danger_keep_nhs_number_like_ids && self.record_id.mode != RecordIdMode::Keep {
            p.push("`record_id.danger_keep_nhs_number_like_ids` applies only with `mode = \"keep\"`; remove it".into());
        }
        if self.input.delimiter == self.input.quote {
            p.push("`input.delimiter` and `input.quote` must differ".into());
        }
        for (what, c) in [("delimiter", self.input.delimiter), ("quote", self.input.quote)] {
            if !c.is_ascii() || c == '\n' || c == '\r' {
                p.push(format!("`input.{what}` must be a single ASCII character other than a line break"));
            }
        }
        for b in self.bloom.problems() {
            p.push(b);
        }
        p
    }

    /// The input format for `input`: the config's, or from the extension.
    pub fn input_format(&self, input: &Path) -> Result<InputFormat> {
        if let Some(f) = self.input.format {
            return Ok(f);
        }
        let ext = input.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        match ext.as_str() {
            "csv" | "tsv" | "txt" | "psv" => Ok(InputFormat::Csv),
            "parquet" | "pq" => Ok(InputFormat::Parquet),
            _ => Err(Error::usage(format!(
                "{}: cannot tell the format from the file name; set `format = \"csv\"` or \"parquet\" in the config's [input] section",
                input.display()
            ))),
        }
    }
}

/// Parses `text` as a `T`, collecting every unknown setting and unknown value rather than only
/// the first: each is reported with its line and the nearest accepted name ("did you mean"), then
/// set aside (an unknown setting's line is commented out, an unknown value replaced by the
/// nearest accepted one) so that parsing goes on to the next. Other errors stop the collection.
/// Returns the value parsed once nothing more is wrong (after the set-asides), and the problems.
pub(crate) fn parse_collecting<T: serde::de::DeserializeOwned>(text: &str) -> (Option<T>, Vec<String>) {
    let mut text = text.to_string();
    let mut problems = Vec::new();
    for _ in 0..64 {
        let e = match toml::from_str::<T>(&text) {
            Ok(v) => return (Some(v), by_line(problems)),
            Err(e) => e,
        };
        let msg = e.message().to_string();
        let Some(span) = e.span() else {
            problems.push(msg);
            return (None, by_line(problems));
        };
        let line = line_of(&text, span.start);
        let names = |m: &str| -> Vec<String> { m.split('`').skip(1).step_by(2).map(str::to_string).collect() };
        if msg.starts_with("unknown field") {
            let found = names(&msg);
            let (bad, expected) = found.split_first().map(|(b, e)| (b.clone(), e.to_vec())).unwrap_or_default();
            problems.push(format!("line {line}: unknown setting `{bad}`{}", did_you_mean(&bad, &expected)));
            // A near miss is read as the setting it nearly names (so that a misspelt required
            // setting is not also reported missing); anything else is set aside.
            // If the setting it nearly names is also there, the rename would make a duplicate:
            // then it is set aside too.
            let renamed =
                nearest(&bad, &expected).filter(|_| text[span.clone()].trim_matches('"') == bad).and_then(|good| {
                    let mut t = text.clone();
                    t.replace_range(span.clone(), good);
                    toml::from_str::<toml::Table>(&t).is_ok().then_some(t)
                });
            match renamed {
                Some(t) => text = t,
                None => {
                    let start = text[..span.start].rfind('\n').map_or(0, |i| i + 1);
                    text.insert(start, '#');
                }
            }
        } else if msg.starts_with("unknown variant") {
            let found = names(&msg);
            let (bad, expected) = found.split_first().map(|(b, e)| (b.clone(), e.to_vec())).unwrap_or_default();
            let accepted = expected.iter().map(|x| format!("`{x}`")).collect::<Vec<_>>().join(", ");
            problems.push(format!("line {line}: `{bad}` is not one of {accepted}{}", did_you_mean(&bad, &expected)));
            let replacement = nearest(&bad, &expected).or(expected.first().map(String::as_str)).unwrap_or("");
            let quoted = text[span.clone()].starts_with('"');
            let value = if quoted { format!("\"{replacement}\"") } else { replacement.to_string() };
            text.replace_range(span, &value);
        } else {
            problems.push(format!("line {line}: {msg}"));
            return (None, by_line(problems));
        }
    }
    (None, by_line(problems))
}

/// Problems in line order ("line N: …" first, by N).
fn by_line(mut problems: Vec<String>) -> Vec<String> {
    let line = |p: &String| p.strip_prefix("line ").and_then(|r| r.split(':').next()?.parse::<usize>().ok());
    problems.sort_by_key(|p| line(p).unwrap_or(usize::MAX));
    problems
}

/// The accepted name nearest `bad` (by edit distance, ignoring case), if near enough to be a
/// slip of the keyboard.
fn nearest<'a>(bad: &str, accepted: &'a [String]) -> Option<&'a str> {
    let bad = bad.to_lowercase();
    // Words other tools use for the same setting.
    const SYNONYMS: [(&str, &str); 7] = [
        ("separator", "delimiter"),
        ("seperator", "delimiter"),
        ("sep", "delimiter"),
        ("delimeter", "delimiter"),
        ("header", "has_header"),
        ("charset", "encoding"),
        ("codepage", "encoding"),
    ];
    if let Some(a) = SYNONYMS.iter().find(|(s, _)| *s == bad).and_then(|(_, t)| accepted.iter().find(|a| a == t)) {
        return Some(a.as_str());
    }
    accepted
        .iter()
        .map(|a| (strsim::levenshtein(&bad, &a.to_lowercase()), a))
        .filter(|(d, a)| *d <= 2.max(a.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| a.as_str())
}

/// "; did you mean `x`?" where an accepted name is near `bad`, else the accepted names.
fn did_you_mean(bad: &str, accepted: &[String]) -> String {
    match nearest(bad, accepted) {
        Some(a) => format!("; did you mean `{a}`?"),
        None if accepted.is_empty() => String::new(),
        None => format!(
            "; the settings here are {}",
            accepted.iter().map(|x| format!("`{x}`")).collect::<Vec<_>>().join(", ")
        ),
    }
}

fn line_of(text: &str, byte: usize) -> usize {
    text[..byte.min(text.len())].bytes().filter(|&b| b == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
source = "acute"
[input]
delimiter = "|"
encoding = "windows-1252"
[record_id]
column = "id"
mode = "pseudonymise"
[[field]]
column = "nhs"
type = "nhs_number"
[[field]]
column = "dob"
type = "date_of_birth"
formats = ["%d/%m/%Y"]
[[field]]
column = "sex"
type = "sex"
plain = true
[[passthrough]]
column = "Admission Date"
as = "activity_date"
type = "date"
"#;

    #[test]
    fn good_config_parses() {
        let c = TokeniseConfig::from_toml_str(GOOD, Path::new("c.toml")).unwrap();
        assert_eq!(c.input.delimiter, '|');
        assert_eq!(c.input.encoding, TextEncoding::Windows1252);
        assert_eq!(c.record_id.mode, RecordIdMode::Pseudonymise);
        assert_eq!(c.fields[1].output_name(), "dob");
        assert_eq!(c.passthrough[0].output_name(), "activity_date");
        assert_eq!(c.digest.len(), 64);
    }

    #[test]
    fn every_misspelt_setting_and_value_is_reported_at_once_with_a_suggestion() {
        let text = GOOD.replacen("delimiter", "seperator", 1).replacen("encoding", "encodng", 1).replacen(
            "\"date_of_birth\"",
            "\"date_of_brith\"",
            1,
        );
        let e = TokeniseConfig::from_toml_str(&text, Path::new("c.toml")).unwrap_err().to_string();
        assert!(e.contains("3 problems"), "{e}");
        assert!(e.contains("unknown setting `seperator`; did you mean `delimiter`?"), "{e}");
        assert!(e.contains("unknown setting `encodng`; did you mean `encoding`?"), "{e}");
        assert!(e.contains("`date_of_brith` is not one of"), "{e}");
        assert!(e.contains("did you mean `date_of_birth`?"), "{e}");
        // In line order.
        let lines: Vec<usize> =
            e.lines().filter_map(|l| l.trim_start_matches("  - line ").split(':').next()?.parse().ok()).collect();
        assert!(lines.windows(2).all(|w| w[0] <= w[1]), "{e}");
    }

    #[test]
    fn a_typo_beside_the_setting_it_nearly_names_is_one_problem() {
        let text = GOOD.replace("encoding = \"windows-1252\"", "encoding = \"windows-1252\"\nencodng = \"utf-8\"");
        let e = TokeniseConfig::from_toml_str(&text, Path::new("c.toml")).unwrap_err().to_string();
        assert!(e.contains("1 problem in the config"), "{e}");
        assert!(e.contains("unknown setting `encodng`; did you mean `encoding`?"), "{e}");
    }

    #[test]
    fn encoding_names_as_systems_write_them_are_accepted() {
        for name in ["cp1252", "latin1", "iso-8859-1", "windows-1252", "Windows-1252"] {
            let c = TokeniseConfig::from_toml_str(&GOOD.replace("windows-1252", name), Path::new("c.toml")).unwrap();
            assert_eq!(c.input.encoding, TextEncoding::Windows1252, "{name}");
        }
        let c = TokeniseConfig::from_toml_str(&GOOD.replace("windows-1252", "utf8"), Path::new("c.toml")).unwrap();
        assert_eq!(c.input.encoding, TextEncoding::Utf8);
    }

    #[test]
    fn unknown_settings_are_refused_with_their_line() {
        let e = TokeniseConfig::from_toml_str("source = \"a\"\ncolour = 1\n", Path::new("c.toml")).unwrap_err();
        let s = e.to_string();
        assert!(s.contains("line 2") && s.contains("colour"), "{s}");
        assert!(e.is_usage());
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = r#"
source = "a b"
[record_id]
column = "id"
[[field]]
column = "nhs"
type = "nhs_number"
plain = true
[[field]]
column = "nhs2"
type = "nhs_number"
[[passthrough]]
column = "nhs"
"#;
        let e = TokeniseConfig::from_toml_str(text, Path::new("c.toml")).unwrap_err().to_string();
        for want in
            ["`source`", "`plain` applies only", "2 fields have type nhs_number", "never pass through", "used by both"]
        {
            assert!(e.contains(want), "missing {want:?} in {e}");
        }
    }

    #[test]
    fn sanitised_names() {
        assert_eq!(sanitise("Admission Date"), "admission_date");
        assert_eq!(sanitise("1st"), "c1st");
    }
}
