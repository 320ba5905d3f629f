//! Comparisons as values: what a candidate pair's agreement pattern is made of.
//!
//! A comparison ([`ComparisonDef`]) is one definition: the field it reads ([`Subject`]), its
//! levels best first as [`Rule`]s (labels derived from them and their thresholds), whether its
//! exact level is adjusted by term frequency, and — implicitly — a *null* level 0 (a value
//! missing on either side: absence is not evidence) and a final *else* level. A pair falls into
//! the first level whose rule holds, as in Splink's comparison levels; but every rule here acts
//! on tokens and Bloom filters, never on a value.
//!
//! [`builtin`] holds the default comparison for every field type; a link config can list its own
//! (`[[comparison]]`, see `link::config`). [`Comparisons`] resolves a list against loaded records
//! and computes patterns, packed four bits a comparison into a [`Pattern`].

pub mod builtin;
mod columns;
mod rule;

use serde::{Deserialize, Serialize};

use crate::encode::bloom::dice;
use crate::link::data::Records;
use crate::link::model::{Comparison, Level};

pub use builtin::{Thresholds, default_comparisons};
pub use columns::{Col, Columns, Gathered, PairRows, View};
pub use rule::{Rule, Subject};

/// Most comparisons in a model (a pattern packs four bits for each into 64).
pub const MAX_COMPARISONS: usize = 16;
/// Most levels of a comparison, null and else included.
pub const MAX_LEVELS: usize = 15;

/// An agreement pattern: a level (0–14) per comparison, four bits each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Pattern(pub u64);

impl Pattern {
    /// The level of comparison `k`.
    #[inline]
    pub fn get(self, k: usize) -> u8 {
        ((self.0 >> (4 * k)) & 0xF) as u8
    }

    /// This pattern with comparison `k` at `level`.
    #[inline]
    #[must_use]
    pub fn with(self, k: usize, level: u8) -> Pattern {
        let shift = 4 * k;
        Pattern((self.0 & !(0xF << shift)) | (u64::from(level & 0xF) << shift))
    }

    /// The levels of the first `n` comparisons.
    pub fn levels(self, n: usize) -> Vec<u8> {
        (0..n).map(|k| self.get(k)).collect()
    }

    /// A pattern from levels.
    pub fn from_levels(levels: &[u8]) -> Pattern {
        levels.iter().enumerate().fold(Pattern(0), |p, (k, &l)| p.with(k, l))
    }
}

/// One comparison: a field, its levels best first, and whether its exact level is adjusted by
/// how common the agreeing value is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComparisonSpec {
    /// The comparison's name (model and reports).
    pub name: String,
    /// The field compared (`given_name`, `date_of_birth`, an identifier's name …).
    pub field: String,
    /// The levels, best first, as rules (`exact`, `dice >= 0.9` …); null and else are implied.
    pub levels: Vec<String>,
    /// Term-frequency adjustment of the exact level.
    #[serde(default)]
    pub term_frequency: bool,
}

/// A comparison definition, resolved from a spec or built in.
#[derive(Debug, Clone, PartialEq)]
pub struct ComparisonDef {
    /// The comparison's name.
    pub name: String,
    /// The field compared.
    pub subject: Subject,
    /// Levels between null and else, best first.
    pub rules: Vec<Rule>,
    /// Term-frequency adjustment of the exact level.
    pub term_frequency: bool,
}

impl ComparisonDef {
    /// A definition from a link config's spec; the error says what is wrong with it.
    pub fn from_spec(spec: &ComparisonSpec) -> std::result::Result<ComparisonDef, crate::error::Invalid> {
        let valid = |n: &str| {
            !n.is_empty()
                && n.len() <= 64
                && n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        };
        if !valid(&spec.name) {
            return Err(format!(
                "comparison name `{}` must be 1 to 64 lower-case letters, digits or `_` (it names output columns)",
                spec.name.escape_debug()
            )
            .into());
        }
        let subject = Subject::parse(&spec.field);
        let mut rules: Vec<Rule> = Vec::new();
        for l in &spec.levels {
            let rule = Rule::parse(l).ok_or_else(|| {
                format!(
                    "comparison `{}`: level `{l}` is not one of exact, swapped, phonetic, dice >= X (0 < X <= 1), \
                     day_month_swapped, year_month, year, sector, district",
                    spec.name
                )
            })?;
            if !rule.applies_to(&subject) {
                return Err(format!(
                    "comparison `{}`: level `{l}` does not apply to field `{}`",
                    spec.name, spec.field
                )
                .into());
            }
            rules.push(rule);
        }
        if rules.is_empty() || rules.len() + 2 > MAX_LEVELS {
            return Err(format!(
                "comparison `{}` needs 1 to {} levels besides null and else",
                spec.name,
                MAX_LEVELS - 2
            )
            .into());
        }
        if spec.term_frequency && !rules.contains(&Rule::Exact) {
            return Err(format!("comparison `{}`: term_frequency needs an `exact` level", spec.name).into());
        }
        Ok(ComparisonDef { name: spec.name.clone(), subject, rules, term_frequency: spec.term_frequency })
    }

    /// The definition a model's comparison describes (its field, and rules read back from its
    /// level labels), so that a linkage can be re-compared from its `model.json` alone.
    pub fn from_model(c: &Comparison) -> std::result::Result<ComparisonDef, crate::error::Invalid> {
        let n = c.levels.len();
        if n < 3 || c.levels[0].label != "null" || c.levels[n - 1].label != "else" {
            return Err(format!("comparison `{}`: levels must run from `null` to `else`", c.name).into());
        }
        let spec = ComparisonSpec {
            name: c.name.clone(),
            field: if c.field.is_empty() { c.name.clone() } else { c.field.clone() },
            levels: c.levels[1..n - 1].iter().map(|l| l.label.clone()).collect(),
            term_frequency: c.levels.iter().any(|l| l.term_frequency),
        };
        ComparisonDef::from_spec(&spec)
    }

    /// Level labels: null, the rules', else.
    pub fn labels(&self) -> Vec<String> {
        let mut v = vec!["null".to_string()];
        v.extend(self.rules.iter().map(|r| r.label(&self.subject)));
        v.push("else".into());
        v
    }

    /// The level index (1-based) of `rule`, if the comparison has it.
    pub fn level_of(&self, rule: Rule) -> Option<u8> {
        self.rules.iter().position(|r| *r == rule).map(|i| i as u8 + 1)
    }

    /// The else level's index.
    pub fn else_level(&self) -> u8 {
        self.rules.len() as u8 + 1
    }

    /// The model comparison with starting m and u.
    pub fn start(&self) -> Comparison {
        let mut levels: Vec<Level> = self
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let (m, u) = r.start(i);
                let l = Level::new(&r.label(&self.subject), m, u);
                if self.term_frequency && *r == Rule::Exact { l.with_term_frequency() } else { l }
            })
            .collect();
        let m_rest = (1.0 - levels.iter().map(|l| l.m).sum::<f64>()).max(0.01);
        let u_rest = (1.0 - levels.iter().map(|l| l.u).sum::<f64>()).max(0.01);
        levels.push(Level::new("else", m_rest, u_rest));
        let mut c = Comparison::new(&self.name, levels);
        if self.subject.name() != self.name {
            c.field = self.subject.name().to_string();
        }
        c
    }
}

/// Comparisons resolved against loaded records.
#[derive(Debug, Clone)]
pub struct Comparisons {
    /// The definitions, in pattern order.
    pub defs: Vec<ComparisonDef>,
    /// Per definition, the extra field it reads (index in `Records::extras`).
    extra: Vec<Option<usize>>,
}

impl Comparisons {
    /// Resolves `defs` against `r`; an error names a comparison whose field no extract holds.
    pub fn resolve(defs: Vec<ComparisonDef>, r: &Records) -> std::result::Result<Comparisons, crate::error::Invalid> {
        if defs.is_empty() || defs.len() > MAX_COMPARISONS {
            return Err(format!("a model needs 1 to {MAX_COMPARISONS} comparisons").into());
        }
        let mut extra = Vec::with_capacity(defs.len());
        for (i, d) in defs.iter().enumerate() {
            if defs[..i].iter().any(|e| e.name == d.name) {
                return Err(format!("two comparisons are called `{}`", d.name).into());
            }
            match &d.subject {
                Subject::Field(f) => {
                    let k = r.extra(f).ok_or_else(|| {
                        format!("comparison `{}` compares field `{f}`, which no extract holds", d.name)
                    })?;
                    if d.rules.iter().any(|r| matches!(r, Rule::Dice(_))) && r.extras[k].bloom.is_none() {
                        return Err(format!(
                            "comparison `{}` has Dice levels, but no extract holds a Bloom filter of `{f}` (set \
                             `bloom = true` on the field in the tokenise configs)",
                            d.name
                        )
                        .into());
                    }
                    extra.push(Some(k));
                }
                _ => extra.push(None),
            }
        }
        Ok(Comparisons { defs, extra })
    }

    /// Number of comparisons.
    pub fn len(&self) -> usize {
        self.defs.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.defs.is_empty()
    }

    /// The comparison reading `subject`, if any.
    pub fn find(&self, subject: &Subject) -> Option<usize> {
        self.defs.iter().position(|d| d.subject == *subject)
    }

    /// The model with every comparison's starting m and u.
    pub fn start_model(&self, prior: f64) -> crate::link::model::Model {
        crate::link::model::Model::new(prior, self.defs.iter().map(ComparisonDef::start).collect())
    }

    /// The extra field comparison `k` reads (index in `Records::extras`; 0 for a standard field).
    pub fn extra_of(&self, k: usize) -> usize {
        self.extra[k].unwrap_or(0)
    }

    /// The agreement pattern of entries `a` and `b` (records, or identities of a [`View`]).
    #[inline]
    pub fn pattern<C: Columns + ?Sized>(&self, r: &C, a: usize, b: usize) -> Pattern {
        let mut p = Pattern(0);
        for k in 0..self.defs.len() {
            p = p.with(k, self.level(k, r, a, b));
        }
        p
    }

    /// The level of comparison `k` for entries `a` and `b`.
    #[inline]
    pub fn level<C: Columns + ?Sized>(&self, k: usize, r: &C, a: usize, b: usize) -> u8 {
        let d = &self.defs[k];
        let (token, phonetic, bloom, other) = match &d.subject {
            Subject::NhsNumber => (Col::NHS, None, None, None),
            Subject::GivenName => (Col::GIVEN, Some(Col::GIVEN_PHONETIC), Some(Col::GIVEN_BLOOM), Some(Col::FAMILY)),
            Subject::FamilyName => (Col::FAMILY, Some(Col::FAMILY_PHONETIC), Some(Col::FAMILY_BLOOM), Some(Col::GIVEN)),
            Subject::DateOfBirth => (Col::DOB[0], None, None, None),
            Subject::Postcode => (Col::POSTCODE[2], None, None, None),
            Subject::Sex => {
                return match (r.code(Col::SEX, a), r.code(Col::SEX, b)) {
                    (0, _) | (_, 0) => 0,
                    (x, y) if x == y => d.level_of(Rule::Exact).unwrap_or(d.else_level()),
                    _ => d.else_level(),
                };
            }
            Subject::Field(_) => {
                let e = self.extra_of(k);
                (Col::extra(e), None, Some(Col::extra_bloom(e)), None)
            }
        };
        // Null: the subject's presence column missing on either side (a postcode's district,
        // which every parsed postcode has).
        let (x, y) = (r.code(token, a), r.code(token, b));
        if x == 0 || y == 0 {
            return 0;
        }
        let eq = |c: Col| eq(r, c, a, c, b);
        let mut dice_value: Option<Option<f64>> = None;
        for (i, rule) in d.rules.iter().enumerate() {
            let hit = match rule {
                Rule::Exact => match d.subject {
                    Subject::Postcode => eq(Col::POSTCODE[0]),
                    _ => x == y,
                },
                Rule::Swapped => other.is_some_and(|o| cross(r, token, a, o, b) && cross(r, o, a, token, b)),
                Rule::Phonetic => phonetic.is_some_and(eq),
                Rule::Dice(t) => {
                    let v = *dice_value.get_or_insert_with(|| match bloom.map(|c| (r.bloom(c, a), r.bloom(c, b))) {
                        Some((Some(p), Some(q))) => Some(dice(p, q)),
                        _ => None,
                    });
                    v.is_some_and(|v| v >= *t)
                }
                Rule::DayMonthSwapped => {
                    cross(r, Col::DOB[1], a, Col::DOB[0], b) || cross(r, Col::DOB[0], a, Col::DOB[1], b)
                }
                Rule::YearMonth => eq(Col::DOB[2]),
                Rule::Year => eq(Col::DOB[3]),
                Rule::Sector => eq(Col::POSTCODE[1]),
                Rule::District => x == y,
            };
            if hit {
                return i as u8 + 1;
            }
        }
        d.else_level()
    }
}

/// Whether column `x` of entry `a` and column `y` of entry `b` hold the same token (both present).
#[inline]
fn eq<C: Columns + ?Sized>(r: &C, x: Col, a: usize, y: Col, b: usize) -> bool {
    let (p, q) = (r.code(x, a), r.code(y, b));
    p != 0 && p == q
}

#[inline]
fn cross<C: Columns + ?Sized>(r: &C, x: Col, a: usize, y: Col, b: usize) -> bool {
    eq(r, x, a, y, b)
}
