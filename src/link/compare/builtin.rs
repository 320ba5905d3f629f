//! The built-in comparisons, one for every field type the tokeniser writes, and the default set:
//! a comparison for every field the extracts hold — no field, no comparison.
//!
//! | comparison | levels, best first (then else) |
//! |---|---|
//! | `nhs_number` | exact (else: two different valid numbers, strong evidence against) |
//! | `given_name`, `family_name` | exact (term-frequency adjusted) · swapped with the other name · phonetic · Dice ≥ 0.8 · Dice ≥ 0.6 |
//! | `date_of_birth` | exact · day and month swapped · year and month · year |
//! | `postcode` | full · sector · district |
//! | `sex` | exact |
//! | an identifier | exact (term-frequency adjusted) · Dice ≥ 0.9 · Dice ≥ 0.7 (with a Bloom filter) |
//! | a string (an address line …) | exact (term-frequency adjusted) · Dice ≥ 0.8 · Dice ≥ 0.6 (with a Bloom filter) |
//!
//! Dice thresholds act on Bloom filters of bigrams; 0.8 and 0.6 correspond roughly to Splink's
//! Jaro–Winkler 0.92 and 0.88 levels for names. An identifier's typos (one digit wrong or two
//! transposed in ten) keep Dice near 0.8–0.9, hence its higher thresholds.

use crate::config::FieldType;
use crate::link::compare::{ComparisonDef, Rule, Subject};
use crate::link::data::Records;

/// Dice thresholds for the name levels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// Upper Dice level.
    pub high: f64,
    /// Lower Dice level.
    pub low: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds { high: 0.8, low: 0.6 }
    }
}

/// Dice levels of an identifier with a Bloom filter.
pub const IDENTIFIER_DICE: [f64; 2] = [0.9, 0.7];

fn def(name: &str, subject: Subject, rules: Vec<Rule>, term_frequency: bool) -> ComparisonDef {
    ComparisonDef { name: name.to_string(), subject, rules, term_frequency }
}

/// The NHS-number comparison.
pub fn nhs_number() -> ComparisonDef {
    def("nhs_number", Subject::NhsNumber, vec![Rule::Exact], false)
}

/// A name comparison (`given_name` or `family_name`).
pub fn name(subject: Subject, t: Thresholds) -> ComparisonDef {
    let n = subject.name().to_string();
    def(&n, subject, vec![Rule::Exact, Rule::Swapped, Rule::Phonetic, Rule::Dice(t.high), Rule::Dice(t.low)], true)
}

/// The date-of-birth comparison.
pub fn date_of_birth() -> ComparisonDef {
    def(
        "date_of_birth",
        Subject::DateOfBirth,
        vec![Rule::Exact, Rule::DayMonthSwapped, Rule::YearMonth, Rule::Year],
        false,
    )
}

/// The postcode comparison.
pub fn postcode() -> ComparisonDef {
    def("postcode", Subject::Postcode, vec![Rule::Exact, Rule::Sector, Rule::District], false)
}

/// The sex comparison.
pub fn sex() -> ComparisonDef {
    def("sex", Subject::Sex, vec![Rule::Exact], false)
}

/// An identifier or string field's comparison; Dice levels only when it has a Bloom filter;
/// term-frequency adjustment of the exact level when `term_frequency`.
pub fn field(name: &str, kind: Option<FieldType>, bloom: bool, term_frequency: bool, t: Thresholds) -> ComparisonDef {
    let mut rules = vec![Rule::Exact];
    if bloom {
        let [hi, lo] = if kind == Some(FieldType::Identifier) { IDENTIFIER_DICE } else { [t.high, t.low] };
        rules.extend([Rule::Dice(hi), Rule::Dice(lo)]);
    }
    def(name, Subject::Field(name.to_string()), rules, term_frequency)
}

/// The default comparisons for `r`: one for every field some record holds, in a fixed order
/// (standard fields, then identifiers and strings as the extracts declare them).
pub fn default_comparisons(r: &Records, t: Thresholds) -> Vec<ComparisonDef> {
    let mut v = Vec::new();
    let candidates =
        [nhs_number(), name(Subject::GivenName, t), name(Subject::FamilyName, t), date_of_birth(), postcode(), sex()];
    for c in candidates {
        if c.subject.present(r) {
            v.push(c);
        }
    }
    for (k, e) in r.extras.iter().enumerate() {
        let s = Subject::Field(e.name.clone());
        if s.present(r) {
            // A provider's own reference recurs on one person's records (several identities when
            // other details differ), so its frequency would price agreement as common: no
            // term-frequency adjustment unless two or more sources hold it.
            let tf = e.kind != Some(FieldType::Identifier) || r.sources_holding(k) >= 2;
            v.push(field(&e.name, e.kind, e.bloom.is_some(), tf, t));
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::compare::Comparisons;
    use crate::link::data::{BloomCol, ExtraField, TokCol};

    fn col(v: &[u32]) -> TokCol {
        TokCol { codes: v.to_vec() }
    }

    /// Four records: 0 and 1 alike in every way the test sets, 2 unlike, 3 missing everything.
    fn records() -> Records {
        let mut r = Records {
            nhs: col(&[1, 1, 2, 0]),
            given: (col(&[1, 1, 3, 0]), col(&[1, 1, 3, 0]), BloomCol::default()),
            family: (col(&[2, 2, 4, 0]), col(&[2, 2, 4, 0]), BloomCol::default()),
            dob: [col(&[1, 2, 3, 0]), col(&[2, 1, 4, 0]), col(&[1, 1, 1, 0]), col(&[1, 1, 1, 0])],
            postcode: [col(&[1, 2, 3, 0]), col(&[1, 1, 3, 0]), col(&[1, 1, 3, 0]), col(&[1, 1, 2, 0])],
            sex: vec![1, 1, 2, 0],
            ..Default::default()
        };
        let mut bloom = BloomCol { width: 2, ..Default::default() };
        bloom.data = vec![0b1111_0000, 0xFF, 0b1111_0001, 0xFF, 0, 0x0F];
        bloom.codes = vec![1, 2, 3, 0];
        r.extras.push(ExtraField {
            name: "national_id".into(),
            kind: Some(FieldType::Identifier),
            token: col(&[5, 6, 7, 0]),
            bloom: Some(bloom),
        });
        r
    }

    #[test]
    fn every_built_in_comparison_has_its_levels_null_and_else() {
        let r = records();
        let defs = default_comparisons(&r, Thresholds::default());
        let names: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(
            names,
            ["nhs_number", "given_name", "family_name", "date_of_birth", "postcode", "sex", "national_id"]
        );
        let c = Comparisons::resolve(defs, &r).unwrap();
        let level = |k: usize, a: usize, b: usize| c.defs[k].labels()[c.level(k, &r, a, b) as usize].clone();
        // NHS number: exact between 0 and 1, else against 2, null against 3.
        assert_eq!((level(0, 0, 1), level(0, 0, 2), level(0, 0, 3)), ("exact".into(), "else".into(), "null".into()));
        assert_eq!(level(1, 0, 1), "exact");
        // Date of birth 1 against 2 with the swapped token equal: day/month swapped.
        assert_eq!(level(3, 0, 1), "day/month swapped");
        assert_eq!(level(3, 0, 2), "year and month");
        // Postcode: full differs, sector agrees.
        assert_eq!(level(4, 0, 1), "sector");
        assert_eq!(level(5, 0, 2), "else");
        // The identifier: tokens differ, Bloom filters nearly equal (Dice 24/25).
        assert_eq!(level(6, 0, 1), "Dice >= 0.9");
        assert_eq!(level(6, 0, 2), "else");
        assert_eq!(level(6, 0, 3), "null");
    }

    #[test]
    fn absent_fields_have_no_comparison() {
        let mut r = records();
        r.nhs = col(&[0, 0, 0, 0]);
        r.extras.clear();
        let names: Vec<String> = default_comparisons(&r, Thresholds::default()).into_iter().map(|d| d.name).collect();
        assert!(!names.contains(&"nhs_number".to_string()) && !names.contains(&"national_id".to_string()));
    }

    #[test]
    fn labels_come_from_rules_and_thresholds() {
        let d = name(Subject::GivenName, Thresholds { high: 0.85, low: 0.5 });
        assert_eq!(
            d.labels(),
            ["null", "exact", "swapped with family/given", "phonetic", "Dice >= 0.85", "Dice >= 0.5", "else"]
        );
        assert_eq!(postcode().labels()[1], "full");
    }
}
