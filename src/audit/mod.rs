//! `audit`: what a TRE insider can learn from pseudonymised extracts (and a linkage) without any
//! key, measured so that a provider or a TRE can gate a release on it.
//!
//! Deterministic tokens hide values but not their frequencies. Whoever can count tokens can line
//! them up against public knowledge — a list of the commonest surnames, say — and name the
//! commonest ones; and a combination of named tokens with a plain year of birth and sex can single
//! a person out. The audit measures, per extract set:
//!
//! - **Per deterministic column** ([`frequency`]): values present, distinct values, the share of
//!   the commonest value and of the ten commonest, and the share of units holding a value no one
//!   else holds.
//! - **A frequency-alignment attack** on each name column (exact tokens, and Bloom filters, which
//!   equal names make equal unless hardened per record) against a public list of the commonest
//!   names in order (built in for England and Wales, or `--public-names`): the attacker ranks
//!   tokens by how many persons hold them and gives the token at rank *i* the list's *i*-th name.
//!   The audit cannot check guesses (it has no plaintext), so it estimates their success: the
//!   guess at a rank is right when the data's order there is the population's, which the public
//!   list gives; the audit redraws every count around its observed value (its sampling noise) and
//!   counts how often each rank keeps its token, untied. It also reports the worst case, an
//!   attacker who knows the data's own ranking (every token whose count is not tied is named).
//!   Name tokens salted with the date of birth (the `resistant` profile) are attacked cohort by
//!   cohort, as an insider holding the linkage would group them by the date-of-birth token.
//! - **Quasi-identifier uniqueness** ([`uniqueness`]): the share of persons unique on (given-name
//!   token, family-name token, plain year of birth, plain sex), and the estimated share both named
//!   by the attack and unique — persons an insider could name and single out.
//! - **Row order** ([`order`]): how much more often adjacent rows share a token than random order
//!   would make them; an extract sorted by surname or date of birth gives those away by position.
//! - **Identifiers in clear**: text pass-through columns whose values are mostly shaped like NHS
//!   numbers, postcodes or names (a config mistake that lets an identifier through).
//!
//! Units are persons when a linkage is given (each person's first token per column), identities
//! otherwise (records whose tokens are all equal, as an insider would count them). The exit status is 1 when a figure exceeds its threshold.

pub mod cohort;
pub mod frequency;
pub mod order;
pub mod public;
pub mod uniqueness;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow_array::{Array, FixedSizeBinaryArray, Int32Array, StringArray};
use rustc_hash::FxHashMap as HashMap;
use serde::Serialize;

use crate::config::FieldType;
use crate::error::{Error, Result};
use crate::io::manifest::Manifest;
use crate::io::schema::{Encoding, RECORD_ID};
use crate::token::Purpose;

/// Default gate: the estimated share of persons named (given and family) and unique, in percent.
pub const DEFAULT_MAX_NAMED_UNIQUE_PERCENT: f64 = 1.0;
/// Default gate: the estimated share of persons whose family name is named, in percent.
pub const DEFAULT_MAX_FAMILY_NAMED_PERCENT: f64 = 5.0;
/// Default gate: adjacent rows sharing a token, as a multiple of what random order gives.
pub const DEFAULT_MAX_ROW_ORDER_RATIO: f64 = 3.0;

/// Audit settings.
#[derive(Debug, Clone)]
pub struct AuditOptions {
    /// A linkage folder: count persons instead of records.
    pub linkage: Option<PathBuf>,
    /// The public frequency lists (family and given names).
    pub public: public::PublicNames,
    /// Gates, in percent or as a ratio.
    pub max_named_unique_percent: f64,
    /// Gate on family names named.
    pub max_family_named_percent: f64,
    /// Gate on row order.
    pub max_row_order_ratio: f64,
    /// Seed of the simulated populations.
    pub seed: u64,
}

impl Default for AuditOptions {
    fn default() -> Self {
        AuditOptions {
            linkage: None,
            public: public::PublicNames::built_in(),
            max_named_unique_percent: DEFAULT_MAX_NAMED_UNIQUE_PERCENT,
            max_family_named_percent: DEFAULT_MAX_FAMILY_NAMED_PERCENT,
            max_row_order_ratio: DEFAULT_MAX_ROW_ORDER_RATIO,
            seed: 42,
        }
    }
}

/// What the audit found.
#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    /// The extracts audited.
    pub extracts: Vec<String>,
    /// `persons` (with a linkage) or `records`.
    pub units: &'static str,
    /// How many units.
    pub unit_count: u64,
    /// Per deterministic column.
    pub columns: Vec<frequency::ColumnStats>,
    /// The frequency-alignment attack per name column.
    pub attacks: Vec<frequency::Attack>,
    /// Quasi-identifier uniqueness and the named-and-unique estimate.
    pub uniqueness: uniqueness::Uniqueness,
    /// Row order per extract: its most telling column.
    pub row_order: Vec<order::RowOrder>,
    /// Text pass-through columns whose values are mostly distinct: in clear, such a column is
    /// likely an identifier (a name or an NHS number passed through by a config mistake).
    pub clear_text: Vec<ClearColumn>,
    /// Gates that failed, as sentences.
    pub failed: Vec<String>,
}

/// A text pass-through column: how many of its values have the shape of an identifier.
#[derive(Debug, Clone, Serialize)]
pub struct ClearColumn {
    /// The extract.
    pub extract: String,
    /// The column.
    pub column: String,
    /// Rows holding a value.
    pub present: u64,
    /// Distinct values.
    pub distinct: u64,
    /// Values that are valid NHS numbers.
    pub nhs_numbers: u64,
    /// Values that are UK postcodes.
    pub postcodes: u64,
    /// Values shaped like names: letters (with spaces, hyphens, apostrophes), mixed case.
    pub names: u64,
}

/// Share of a text pass-through column's values that, shaped as an identifier, flags it.
pub const MAX_IDENTIFIER_SHARE: f64 = 0.5;
/// Fewest values, and fewest distinct name-shaped values, for a column to be judged: settings and
/// activity types are words too, but few.
pub const MIN_CLEAR_VALUES: u64 = 20;
/// Fewest distinct values for name-shaped values to flag a column.
pub const MIN_DISTINCT_NAMES: u64 = 50;

/// One unit's tokens per audited column, and its plain year of birth and sex.
#[derive(Debug, Default)]
pub(crate) struct Units {
    /// Column names, in `tokens` order.
    pub names: Vec<String>,
    /// The field type of each column.
    pub kinds: Vec<FieldType>,
    /// Whether each column's tokens are salted with the date of birth.
    pub salted: Vec<bool>,
    /// `tokens[column][unit]`.
    pub tokens: Vec<Vec<Option<u128>>>,
    /// Plain year of birth per unit.
    pub year: Vec<Option<i32>>,
    /// Plain sex per unit.
    pub sex: Vec<Option<u8>>,
}

/// Audits `extracts`.
pub fn audit(extracts: &[PathBuf], options: &AuditOptions) -> Result<AuditReport> {
    if extracts.is_empty() {
        return Err(Error::usage("give the pseudonymised extracts to audit"));
    }
    let persons = match &options.linkage {
        Some(dir) => Some(person_index(&dir.join("clusters.parquet"))?),
        None => None,
    };
    let mut units = Units::default();
    let mut unit_of: HashMap<u32, usize> = HashMap::default();
    let mut identity_of: HashMap<u64, usize> = HashMap::default();
    let mut row_order = Vec::new();
    let mut first: Option<(PathBuf, Manifest)> = None;
    let mut clear_text = Vec::new();
    for path in extracts {
        let (m, _) = Manifest::read(path)?;
        // Tokens under different keys never agree: counting them together would understate
        // every frequency.
        if let Some((f0, m0)) = &first {
            if m.key_id != m0.key_id || m.tre_key_id != m0.tre_key_id || m.salted_names() != m0.salted_names() {
                return Err(Error::manifest(
                    path,
                    format!(
                        "was not tokenised (or re-keyed) like {}: their key ids or profiles differ. Audit the extracts \
                         as they are linked together",
                        f0.display()
                    ),
                ));
            }
        }
        row_order.extend(read_extract(path, &m, persons.as_ref(), &mut units, &mut unit_of, &mut identity_of)?);
        clear_text.extend(clear_text_columns(path, &m)?);
        if first.is_none() {
            first = Some((path.clone(), m));
        }
    }
    let n = units.year.len() as u64;
    let columns: Vec<frequency::ColumnStats> =
        units.names.iter().zip(&units.tokens).map(|(name, t)| frequency::ColumnStats::of(name, t)).collect();
    let mut attacks = Vec::new();
    let mut named: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
    // A salted column is attacked cohort by cohort: whoever holds the linkage groups a salted
    // token's holders by their (deterministic) date-of-birth token, the salt's own value.
    let cohorts =
        units.kinds.iter().zip(&units.names).position(|(k, n)| *k == FieldType::DateOfBirth && n.ends_with("_full"));
    for (k, name) in units.names.iter().enumerate() {
        let (list, which) = match units.kinds[k] {
            FieldType::FamilyName => (options.public.family, "family"),
            FieldType::GivenName => (options.public.given, "given"),
            _ => continue,
        };
        if !(name.ends_with("_exact") || name.ends_with("_bloom")) {
            continue;
        }
        let by = if units.salted[k] { cohorts.map(|c| units.tokens[c].as_slice()) } else { None };
        let field = name.rsplit_once('_').map_or(name.as_str(), |(f, _)| f);
        let bands = units.names.iter().position(|n| *n == format!("{field}_band")).map(|b| units.tokens[b].as_slice());
        // The other name's exact tokens: pairs of a cohort that differ there are almost never
        // one person, so their sharing of this name's token measures how common names are.
        let other_kind =
            if units.kinds[k] == FieldType::GivenName { FieldType::FamilyName } else { FieldType::GivenName };
        let other = units
            .names
            .iter()
            .zip(&units.kinds)
            .position(|(n, kind)| *kind == other_kind && n.ends_with("_exact"))
            .map(|o| units.tokens[o].as_slice());
        let cohort = frequency::Cohorts { by, bands, other };
        let (attack, per_unit) = frequency::attack_by_cohort(name, &units.tokens[k], cohort, list, options.seed);
        // The worst of a name's columns stands for it in the named-and-unique estimate.
        let entry = named.entry(which).or_insert_with(|| vec![0.0; per_unit.len()]);
        for (e, p) in entry.iter_mut().zip(&per_unit) {
            *e = e.max(*p);
        }
        attacks.push(attack);
    }
    let uniqueness = uniqueness::measure(&units, named.get("given"), named.get("family"));
    let mut failed = Vec::new();
    let pct = |x: f64| 100.0 * x;
    if pct(uniqueness.named_and_unique) > options.max_named_unique_percent {
        failed.push(format!(
            "an estimated {:.2}% of {} could be named (given and family name) and singled out, above the limit of {}%",
            pct(uniqueness.named_and_unique),
            if persons.is_some() { "persons" } else { "identities (records with every token equal)" },
            options.max_named_unique_percent
        ));
    }
    for a in attacks.iter().filter(|a| a.column.starts_with("family")) {
        if pct(a.named) > options.max_family_named_percent {
            failed.push(format!(
                "column `{}`: an estimated {:.2}% have their family name named by a frequency attack, above the limit of {}%",
                a.column,
                pct(a.named),
                options.max_family_named_percent
            ));
        }
    }
    for c in &clear_text {
        let share = |n: u64| n as f64 > MAX_IDENTIFIER_SHARE * c.present as f64;
        let what = if share(c.nhs_numbers) {
            Some("NHS numbers")
        } else if share(c.postcodes) {
            Some("postcodes")
        } else if share(c.names) && c.distinct >= MIN_DISTINCT_NAMES {
            Some("names")
        } else {
            None
        };
        if let (Some(what), true) = (what, c.present >= MIN_CLEAR_VALUES) {
            failed.push(format!(
                "{}: pass-through column `{}` holds values shaped like {what}, in clear ({} distinct in {} rows); \
                 check the tokenise config's [[passthrough]] entries",
                c.extract, c.column, c.distinct, c.present
            ));
        }
    }
    for r in &row_order {
        if r.ratio > options.max_row_order_ratio && r.equal >= order::MIN_EQUAL_PAIRS {
            failed.push(format!(
                "{}: adjacent rows share `{}` {:.1} times as often as random order would make them, above the limit of {}; \
                 the rows follow an order that gives values away",
                r.extract, r.column, r.ratio, options.max_row_order_ratio
            ));
        }
    }
    Ok(AuditReport {
        extracts: extracts.iter().map(|p| p.display().to_string()).collect(),
        units: if persons.is_some() { "persons" } else { "identities (records with every token equal)" },
        unit_count: n,
        columns,
        attacks,
        uniqueness,
        row_order,
        clear_text,
        failed,
    })
}

/// The spread of each text pass-through column of one extract.
fn clear_text_columns(path: &Path, m: &Manifest) -> Result<Vec<ClearColumn>> {
    let mut out = Vec::new();
    for p in m.passthrough.iter().filter(|p| p.kind == crate::config::PassType::String) {
        let reader =
            crate::io::parquet::read_columns(path, &[p.name.as_str()], "lacks a column its manifest declares")?;
        let mut seen: rustc_hash::FxHashSet<u64> = Default::default();
        let (mut present, mut nhs, mut postcodes, mut names) = (0u64, 0u64, 0u64, 0u64);
        let mut scratch = String::new();
        for batch in reader {
            let batch =
                batch.map_err(|_| Error::manifest(path, "could not be decoded (it may be truncated or damaged)"))?;
            let Some(a) = batch.column(0).as_any().downcast_ref::<StringArray>() else { continue };
            for i in 0..a.len() {
                if a.is_valid(i) {
                    present += 1;
                    let v = a.value(i).trim();
                    nhs += u64::from(crate::token::NhsNumber::parse(v).is_ok());
                    let pc = crate::encode::postcode::normalise_postcode(v, &mut scratch).0;
                    postcodes += u64::from(pc == crate::encode::Outcome::Value);
                    names += u64::from(name_shaped(v));
                    use std::hash::Hasher;
                    let mut h = rustc_hash::FxHasher::default();
                    h.write(a.value(i).as_bytes());
                    seen.insert(h.finish());
                }
            }
        }
        scratch.clear();
        out.push(ClearColumn {
            extract: path.display().to_string(),
            column: p.name.clone(),
            present,
            distinct: seen.len() as u64,
            nhs_numbers: nhs,
            postcodes,
            names,
        });
    }
    Ok(out)
}

/// Letters (and spaces, hyphens, apostrophes) only, at least two letters, not all upper case (codes
/// such as `ED` or `AMBULANCE` are), starting with a capital.
fn name_shaped(v: &str) -> bool {
    let letters = v.chars().filter(|c| c.is_alphabetic()).count();
    letters >= 2
        && v.chars().all(|c| c.is_alphabetic() || matches!(c, ' ' | '-' | '\''))
        && v.chars().next().is_some_and(char::is_uppercase)
        && v.chars().any(char::is_lowercase)
}

/// A value as a 128-bit key: a token as it is, a longer Bloom filter by two keyed-free 64-bit
/// hashes (a collision merely merges two counts).
/// A column the audit counts: tokens and Bloom filters, or a salted name's frequency band.
enum TokenArray {
    Token(FixedSizeBinaryArray),
    Band(Int32Array),
}

impl TokenArray {
    fn get(&self, i: usize) -> Option<u128> {
        match self {
            TokenArray::Token(a) => a.is_valid(i).then(|| value_key(a.value(i))),
            TokenArray::Band(a) => a.is_valid(i).then(|| a.value(i).clamp(0, 3) as u128),
        }
    }
}

fn value_key(v: &[u8]) -> u128 {
    if let Ok(t) = <[u8; 16]>::try_from(v) {
        return u128::from_le_bytes(t);
    }
    use std::hash::Hasher;
    let (mut a, mut b) = (rustc_hash::FxHasher::default(), rustc_hash::FxHasher::default());
    a.write(v);
    b.write_u64(0x9E37_79B9_7F4A_7C15);
    b.write(v);
    (u128::from(a.finish()) << 64) | u128::from(b.finish())
}

/// Person numbers by a 64-bit hash of (source, record id), from a linkage's clusters: no string
/// is kept per record (a collision, about one in 10^11 pairs at national scale, would merely count
/// one record under another person in an estimate).
type PersonIndex = HashMap<u64, u32>;

/// The key of a record in a [`PersonIndex`].
fn record_key(source: &str, record_id: &str) -> u64 {
    use std::hash::Hasher;
    let mut h = rustc_hash::FxHasher::default();
    h.write(source.as_bytes());
    h.write_u8(0);
    h.write(record_id.as_bytes());
    h.finish()
}

fn person_index(clusters: &Path) -> Result<PersonIndex> {
    let mut index = PersonIndex::default();
    let mut ids: HashMap<u64, u32> = HashMap::default();
    let reader = crate::io::parquet::read_columns(
        clusters,
        &["source", "record_id", "person_id"],
        "is not a pseudolink clusters file (it lacks source, record_id or person_id)",
    )?;
    for batch in reader {
        let batch = batch.map_err(|_| Error::manifest(clusters, "could not be decoded"))?;
        let col = |n: &str| batch.column_by_name(n).and_then(|c| c.as_any().downcast_ref::<StringArray>().cloned());
        let (Some(s), Some(r), Some(p)) = (col("source"), col("record_id"), col("person_id")) else {
            return Err(Error::manifest(clusters, "is not a pseudolink clusters file"));
        };
        for i in 0..batch.num_rows() {
            let next = ids.len() as u32;
            let person = *ids.entry(record_key("", p.value(i))).or_insert(next);
            index.insert(record_key(s.value(i), r.value(i)), person);
        }
    }
    Ok(index)
}

/// Reads one extract's token, year and sex columns into `units`; returns its row-order figures.
#[allow(clippy::too_many_lines)]
fn read_extract(
    path: &Path,
    m: &Manifest,
    persons: Option<&PersonIndex>,
    units: &mut Units,
    unit_of: &mut HashMap<u32, usize>,
    identity_of: &mut HashMap<u64, usize>,
) -> Result<Vec<order::RowOrder>> {
    let mut token_cols: Vec<(String, FieldType, bool)> = Vec::new();
    let (mut year_col, mut sex_col) = (None, None);
    let salted_labels = [Purpose::NameExactByDob.label(), Purpose::NamePhoneticByDob.label()];
    for f in &m.fields {
        for c in &f.columns {
            match c.encoding {
                // Bloom filters count too: without per-record hardening equal names give equal
                // filters, as exposed to counting as exact tokens.
                Encoding::Token | Encoding::Bloom => {
                    let salted = c.purpose.as_ref().is_some_and(|p| salted_labels.contains(p));
                    token_cols.push((c.name.clone(), f.kind, salted));
                }
                // A salted name's frequency band refines the cohorts its tokens are attacked in.
                Encoding::Band => token_cols.push((c.name.clone(), f.kind, false)),
                Encoding::Year => year_col = Some(c.name.clone()),
                Encoding::Plain if f.kind == FieldType::Sex => sex_col = Some(c.name.clone()),
                _ => {}
            }
        }
    }
    let slots: Vec<usize> = token_cols
        .iter()
        .map(|(name, kind, salted)| match units.names.iter().position(|n| n == name) {
            Some(k) => k,
            None => {
                units.names.push(name.clone());
                units.kinds.push(*kind);
                units.salted.push(*salted);
                units.tokens.push(vec![None; units.year.len()]);
                units.names.len() - 1
            }
        })
        .collect();
    let mut wanted: Vec<&str> = vec![RECORD_ID];
    wanted.extend(token_cols.iter().map(|(n, _, _)| n.as_str()));
    wanted.extend(year_col.iter().map(String::as_str));
    wanted.extend(sex_col.iter().map(String::as_str));
    let reader = crate::io::parquet::read_columns(path, &wanted, "lacks a column its manifest declares")?;
    let mut orders: Vec<order::Adjacency> = token_cols.iter().map(|_| order::Adjacency::default()).collect();
    for batch in reader {
        let batch =
            batch.map_err(|_| Error::manifest(path, "could not be decoded (it may be truncated or damaged)"))?;
        let ids = batch.column_by_name(RECORD_ID).and_then(|c| c.as_any().downcast_ref::<StringArray>().cloned());
        let ids = ids.ok_or_else(|| Error::manifest(path, "has no text record_id column"))?;
        let tokens: Vec<TokenArray> = token_cols
            .iter()
            .map(|(n, _, _)| {
                let c = batch.column_by_name(n);
                c.and_then(|c| c.as_any().downcast_ref::<FixedSizeBinaryArray>().cloned())
                    .map(TokenArray::Token)
                    .or_else(|| c.and_then(|c| c.as_any().downcast_ref::<Int32Array>().cloned()).map(TokenArray::Band))
                    .ok_or_else(|| Error::manifest(path, format!("column `{n}` is not a token column")))
            })
            .collect::<Result<_>>()?;
        let year = year_col
            .as_ref()
            .and_then(|c| batch.column_by_name(c))
            .and_then(|c| c.as_any().downcast_ref::<Int32Array>().cloned());
        let sex = sex_col
            .as_ref()
            .and_then(|c| batch.column_by_name(c))
            .and_then(|c| c.as_any().downcast_ref::<StringArray>().cloned());
        for i in 0..batch.num_rows() {
            // Without a linkage, records with every token equal are one unit (as the linker's
            // identities are): an insider counts a patient's hundred encounters once.
            let unit = match persons {
                None => {
                    // Tokens only: a Bloom filter hardened per record differs between equal records.
                    let mut h = rustc_hash::FxHasher::default();
                    for (a, _) in tokens.iter().zip(&token_cols).filter(|(_, c)| !c.0.ends_with("_bloom")) {
                        std::hash::Hash::hash(&a.get(i), &mut h);
                    }
                    let key = std::hash::Hasher::finish(&h);
                    match identity_of.get(&key) {
                        Some(&u) => Some(u),
                        None => {
                            identity_of.insert(key, units.year.len());
                            None
                        }
                    }
                }
                Some(index) => {
                    let Some(&p) = index.get(&record_key(&m.source, ids.value(i))) else {
                        return Err(Error::manifest(
                            path,
                            "holds a record the linkage does not; give the linkage made from these extracts",
                        ));
                    };
                    match unit_of.get(&p) {
                        Some(&u) => Some(u),
                        None => {
                            unit_of.insert(p, units.year.len());
                            None
                        }
                    }
                }
            };
            let u = match unit {
                Some(u) => u,
                None => {
                    units.year.push(None);
                    units.sex.push(None);
                    for t in units.tokens.iter_mut() {
                        t.push(None);
                    }
                    units.year.len() - 1
                }
            };
            for (k, a) in tokens.iter().enumerate() {
                let v = a.get(i);
                orders[k].push(v);
                let slot = &mut units.tokens[slots[k]][u];
                if slot.is_none() {
                    *slot = v;
                }
            }
            if let Some(y) = year.as_ref().filter(|y| y.is_valid(i)) {
                units.year[u].get_or_insert(y.value(i));
            }
            if let Some(s) = sex.as_ref().filter(|s| s.is_valid(i)) {
                units.sex[u].get_or_insert(s.value(i).bytes().next().unwrap_or(0));
            }
        }
    }
    // The column whose order is most telling stands for the extract.
    let worst = token_cols
        .iter()
        .zip(orders)
        .map(|((name, _, _), adj)| order::RowOrder::of(&path.display().to_string(), name, &adj))
        .filter(|r| r.pairs > 0)
        .max_by(|a, b| {
            let telling = |r: &order::RowOrder| r.equal >= order::MIN_EQUAL_PAIRS;
            telling(a).cmp(&telling(b)).then(a.ratio.total_cmp(&b.ratio)).then(b.column.cmp(&a.column))
        });
    Ok(worst.into_iter().collect())
}

impl AuditReport {
    /// The report as text for people.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut t = String::new();
        let _ = writeln!(t, "pseudolink audit: what an insider can learn without any key");
        let _ = writeln!(t, "extracts: {}", self.extracts.join(", "));
        let _ = writeln!(t, "units: {} {}", crate::error::group_digits(self.unit_count), self.units);
        let _ =
            writeln!(t, "\ndeterministic columns               present   distinct  top-1 %  top-10 %  unique-value %");
        for c in &self.columns {
            let _ = writeln!(
                t,
                "  {:<32} {:>9} {:>10} {:>8.2} {:>9.2} {:>15.2}",
                c.column,
                c.present,
                c.distinct,
                100.0 * c.top1,
                100.0 * c.top10,
                100.0 * c.unique_share
            );
        }
        let _ = writeln!(t, "\nfrequency-alignment attack (estimated share of {} named)", self.units);
        for a in &self.attacks {
            let _ = writeln!(
                t,
                "  {:<32} with a public list {:>6.2}%  (ten commonest tokens {:>6.2}%; by a guess right more often than \
                 not {:>6.2}%)  with the exact ranking {:>6.2}%",
                a.column,
                100.0 * a.named,
                100.0 * a.named_top10,
                100.0 * a.named_confidently,
                100.0 * a.named_exact_ranking
            );
        }
        let u = &self.uniqueness;
        let _ = writeln!(
            t,
            "\nunique on ({}): {:.2}%\nnamed (given and family) and unique, estimated: {:.2}%",
            u.combination.join(", "),
            100.0 * u.unique,
            100.0 * u.named_and_unique
        );
        let _ = writeln!(
            t,
            "\nrow order (adjacent rows sharing a token, as a multiple of random order; the most telling column)"
        );
        for r in &self.row_order {
            let _ = writeln!(t, "  {:<40} {:<28} {:>6.2}", r.extract, r.column, r.ratio);
        }
        for c in &self.clear_text {
            let _ = writeln!(
                t,
                "  pass-through text {:<40} {:<24} {} distinct of {}; shaped as NHS numbers {}, postcodes {}, names {}",
                c.extract, c.column, c.distinct, c.present, c.nhs_numbers, c.postcodes, c.names
            );
        }
        if self.failed.is_empty() {
            let _ = writeln!(t, "\nresult: every figure is within its limit");
        } else {
            let _ = writeln!(t, "\nresult: {} limit(s) exceeded", self.failed.len());
            for f in &self.failed {
                let _ = writeln!(t, "  - {f}");
            }
        }
        t
    }
}
