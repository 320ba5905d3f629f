//! A tokenise config resolved against an input's header and a key: which input columns are
//! read, which encoder handles each field, and the output schema and manifest entries.
//!
//! Every missing column is reported at once, as are duplicated header names the config relies on.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow_schema::{Field, Schema, SchemaRef};

use crate::config::{EncodingProfile, FieldType, PassType, RecordIdMode, TokeniseConfig};
use crate::encode::bloom::{BloomParams, Hardening};
use crate::encode::date::DateFormats;
use crate::error::{Error, Result};
use crate::io::manifest::{ManifestColumn, ManifestField, ManifestPassthrough};
use crate::io::schema::{self, Encoding};
use crate::token::{ProjectKey, Purpose, Subkey, TokenMac};

/// Plausible years for pass-through dates (activity dates are not dates of birth).
const PASS_MIN_YEAR: i32 = 1800;
const PASS_MAX_YEAR: i32 = 2200;

/// The resolved plan.
#[derive(Debug)]
pub(crate) struct Plan {
    /// Header indices of the input columns read, in the order batches hold them.
    pub selected: Vec<usize>,
    /// Record id: position in `selected`, and its token MAC when pseudonymised.
    pub record_id: usize,
    pub record_mac: Option<TokenMac>,
    pub record_column: String,
    /// With the `resistant` profile, the date-of-birth field (index in `fields`) whose year salts
    /// name tokens.
    pub name_salt: Option<usize>,
    /// With the `resistant` profile, the frequency bands of each given- and family-name field's
    /// names (by field index; counted before tokenising, see `encode::band`).
    pub name_bands: Vec<Option<crate::encode::band::NameCounts>>,
    /// Keys the order rows are written in.
    pub row_order: TokenMac,
    /// Kept record ids that look like NHS numbers are allowed (the config's danger setting).
    pub allow_nhs_like_ids: bool,
    pub fields: Vec<FieldPlan>,
    pub passthrough: Vec<PassPlan>,
    pub bloom: BloomParams,
    pub blip: Option<TokenMac>,
    pub schema: SchemaRef,
    pub manifest_fields: Vec<ManifestField>,
    pub manifest_passthrough: Vec<ManifestPassthrough>,
}

/// One identifying field.
#[derive(Debug)]
pub(crate) struct FieldPlan {
    pub input: usize,
    pub name: String,
    pub column: String,
    pub kind: FieldType,
    pub encoder: Encoder,
}

/// One pass-through column.
#[derive(Debug)]
pub(crate) struct PassPlan {
    pub input: usize,
    pub name: String,
    pub column: String,
    pub kind: PassType,
    pub formats: DateFormats,
    pub decimal: crate::encode::money::Decimal,
}

/// How a field is encoded, with its keyed MACs.
#[derive(Debug)]
pub(crate) enum Encoder {
    Nhs {
        token: TokenMac,
        /// The config's known dummy numbers, as digits.
        placeholders: Vec<[u8; 10]>,
    },
    Name {
        exact: TokenMac,
        phonetic: TokenMac,
        bloom: TokenMac,
    },
    Date {
        full: TokenMac,
        year_month: TokenMac,
        year: TokenMac,
        formats: DateFormats,
        min_year: i32,
        max_year: i32,
        release_year: bool,
    },
    Postcode {
        full: TokenMac,
        sector: TokenMac,
        district: TokenMac,
        area: TokenMac,
    },
    Sex {
        token: Option<TokenMac>,
    },
    Generic {
        identifier: bool,
        token: TokenMac,
        bloom: Option<TokenMac>,
    },
}

impl Plan {
    /// Resolves `cfg` against `header` (the input's column names) with `key`.
    pub(crate) fn new(cfg: &TokeniseConfig, header: &[String], key: &ProjectKey, input: &Path) -> Result<Plan> {
        // Header lookup, refusing ambiguous names the config relies on.
        let mut index: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, h) in header.iter().enumerate() {
            index.entry(h.as_str()).or_default().push(i);
        }
        let mut problems = Vec::new();
        let mut selected: Vec<usize> = Vec::new();
        let mut want = |column: &str, what: &str, problems: &mut Vec<String>| -> usize {
            match index.get(column).map(|v| v.as_slice()) {
                Some([i]) => {
                    if let Some(p) = selected.iter().position(|&s| s == *i) {
                        p
                    } else {
                        selected.push(*i);
                        selected.len() - 1
                    }
                }
                Some(many) => {
                    problems.push(format!(
                        "{what}: the input has {} columns named `{column}`; rename them in the export so each is unique",
                        many.len()
                    ));
                    0
                }
                None => {
                    problems.push(format!("{what}: the input has no column `{column}`"));
                    0
                }
            }
        };
        let record_id = want(&cfg.record_id.column, "record_id", &mut problems);
        let mut fields = Vec::new();
        let mut manifest_fields = Vec::new();
        let mut arrow_fields: Vec<arrow_schema::FieldRef> =
            vec![Arc::new(Field::new(schema::RECORD_ID, arrow_schema::DataType::Utf8, false))];
        let sub = |p: &Purpose| TokenMac::new(&Subkey::derive(key, p));
        let bloom_bytes = cfg.bloom.output_bytes();
        for (i, f) in cfg.fields.iter().enumerate() {
            let input_idx = want(&f.column, &format!("field {} ({})", i + 1, f.kind.as_str()), &mut problems);
            let name = f.output_name();
            let options = schema::FieldOptions {
                plain_sex: f.kind == FieldType::Sex && f.plain.unwrap_or(false),
                release_year: f.kind == FieldType::DateOfBirth && f.release_year.unwrap_or(false),
                bloom: f.bloom.unwrap_or(false),
                salted_names: cfg.profile == EncodingProfile::Resistant,
            };
            let cols = schema::field_columns(f.kind, &name, options);
            let encoder = match f.kind {
                FieldType::NhsNumber => Encoder::Nhs {
                    token: sub(&Purpose::NhsNumber),
                    placeholders: f
                        .placeholders
                        .iter()
                        .flatten()
                        .filter_map(|v| crate::token::NhsNumber::parse(v).ok().map(|n| *n.digits()))
                        .collect(),
                },
                FieldType::GivenName | FieldType::FamilyName | FieldType::Name => Encoder::Name {
                    exact: sub(cols[0].purpose.as_ref().expect("a name's exact column is keyed")),
                    phonetic: sub(cols[1].purpose.as_ref().expect("a name's phonetic column is keyed")),
                    bloom: sub(&Purpose::NameBloom),
                },
                FieldType::DateOfBirth | FieldType::Date => {
                    let dob = f.kind == FieldType::DateOfBirth;
                    let (pf, pym, py) = if dob {
                        (Purpose::DobFull, Purpose::DobYearMonth, Purpose::DobYear)
                    } else {
                        (Purpose::DateFull, Purpose::DateYearMonth, Purpose::DateYear)
                    };
                    let (min_year, max_year) = f.year_range();
                    Encoder::Date {
                        full: sub(&pf),
                        year_month: sub(&pym),
                        year: sub(&py),
                        formats: compile(&f.date_formats(), &mut problems),
                        min_year,
                        max_year,
                        release_year: options.release_year,
                    }
                }
                FieldType::Postcode => Encoder::Postcode {
                    full: sub(&Purpose::PostcodeFull),
                    sector: sub(&Purpose::PostcodeSector),
                    district: sub(&Purpose::PostcodeDistrict),
                    area: sub(&Purpose::PostcodeArea),
                },
                FieldType::Sex => Encoder::Sex { token: (!options.plain_sex).then(|| sub(&Purpose::Sex)) },
                FieldType::Identifier | FieldType::String => {
                    let identifier = f.kind == FieldType::Identifier;
                    let tp = if identifier { Purpose::Identifier(name.clone()) } else { Purpose::Text(name.clone()) };
                    let bloom = options.bloom.then(|| sub(&Purpose::TextBloom(name.clone())));
                    Encoder::Generic { identifier, token: sub(&tp), bloom }
                }
            };
            let mut mcols = Vec::new();
            for c in cols {
                let cname = schema::column_name(&name, c.part);
                let bytes = match c.encoding {
                    Encoding::Token => Some(crate::token::TOKEN_BYTES),
                    Encoding::Bloom => Some(bloom_bytes),
                    _ => None,
                };
                arrow_fields.push(schema::encoded_field(&cname, c.encoding, bytes.unwrap_or(0)));
                mcols.push(ManifestColumn {
                    name: cname,
                    encoding: c.encoding,
                    part: if c.part.is_empty() { "category".into() } else { c.part.into() },
                    purpose: c.purpose.map(|p| p.label()),
                    bytes,
                });
            }
            manifest_fields.push(ManifestField { name: name.clone(), kind: f.kind, columns: mcols });
            fields.push(FieldPlan { input: input_idx, name, column: f.column.clone(), kind: f.kind, encoder });
        }
        let mut passthrough = Vec::new();
        let mut manifest_passthrough = Vec::new();
        for (i, t) in cfg.passthrough.iter().enumerate() {
            let input_idx = want(&t.column, &format!("passthrough {}", i + 1), &mut problems);
            let name = t.output_name();
            arrow_fields.push(Arc::new(Field::new(&name, schema::passthrough_type(t.kind), true)));
            manifest_passthrough.push(ManifestPassthrough { name: name.clone(), kind: t.kind });
            passthrough.push(PassPlan {
                input: input_idx,
                name,
                column: t.column.clone(),
                kind: t.kind,
                formats: compile(&t.date_formats(), &mut problems),
                decimal: t.decimal,
            });
        }
        // Every output column once: a pass-through named like a token column would either break
        // the file or pass clear text off as a token.
        let mut outputs = std::collections::BTreeSet::new();
        for f in &arrow_fields {
            if !outputs.insert(f.name().as_str()) {
                problems.push(format!(
                    "the output column `{}` would be written twice (a pass-through's name, or its `as`, equals a column \
                     tokenise writes); give the pass-through another name with `as`",
                    f.name()
                ));
            }
        }
        if !problems.is_empty() {
            problems.push(describe_header(header));
            return Err(Error::from(crate::error::ErrorKind::ConfigMismatch { path: input.to_path_buf(), problems }));
        }
        let record_mac =
            (cfg.record_id.mode == RecordIdMode::Pseudonymise).then(|| sub(&Purpose::RecordId(cfg.source.clone())));
        let blip = (cfg.bloom.hardening == Hardening::Blip).then(|| sub(&Purpose::BloomBlip));
        Ok(Plan {
            selected,
            record_id,
            record_mac,
            record_column: cfg.record_id.column.clone(),
            allow_nhs_like_ids: cfg.record_id.danger_keep_nhs_number_like_ids,
            row_order: sub(&Purpose::RowOrder),
            name_bands: fields
                .iter()
                .map(|f| {
                    (cfg.profile == EncodingProfile::Resistant
                        && matches!(f.kind, FieldType::GivenName | FieldType::FamilyName))
                    .then(crate::encode::band::NameCounts::default)
                })
                .collect(),
            name_salt: (cfg.profile == EncodingProfile::Resistant)
                .then(|| fields.iter().position(|f: &FieldPlan| f.kind == FieldType::DateOfBirth))
                .flatten(),
            fields,
            passthrough,
            bloom: cfg.bloom.clone(),
            blip,
            schema: Arc::new(Schema::new(arrow_fields)),
            manifest_fields,
            manifest_passthrough,
        })
    }
}

/// What an error may say about the input's columns. A first row may be a patient's data (a file
/// without its header row, or a header row with values pasted in), and any rule for telling a
/// column name from a value can be met by some value (a surname two letters from `gender`), so no
/// cell of it is ever printed: only how many columns there are.
fn describe_header(header: &[String]) -> String {
    format!(
        "the input has {} columns; their names are not shown, as a first row may be data (if the file has no header \
         row, set `has_header = false` in the config's [input] section and name columns `column_1` … `column_{}`; \
         otherwise compare the config's column names with the export's header)",
        header.len(),
        header.len()
    )
}

/// Compiles date formats, noting a bad one as a problem (the config check catches these first).
fn compile(formats: &[String], problems: &mut Vec<String>) -> DateFormats {
    DateFormats::new(formats).unwrap_or_else(|bad| {
        problems.push(format!("date format `{bad}` is not valid chrono syntax"));
        DateFormats::defaults()
    })
}

/// Year range for pass-through dates.
pub(crate) const PASS_YEARS: (i32, i32) = (PASS_MIN_YEAR, PASS_MAX_YEAR);
