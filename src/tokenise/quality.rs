//! The data-quality report a provider's IG team reads after tokenising: rows in and out, NHS
//! number statuses, and per field how many values were present, missing or unusable.
//!
//! It holds counts only — never a value — and no timings, so the same run always gives the same
//! report. Written as JSON (for scripts and audit trails) and as text.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::error::group_digits;
use crate::token::NhsNumberStatus;

/// The report's format name.
pub const REPORT_NAME: &str = "pseudolink-quality";

/// A tokenise run's data-quality report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityReport {
    /// Always [`REPORT_NAME`].
    pub report: String,
    /// Report format version.
    pub version: u32,
    /// The provider's source code.
    pub source: String,
    /// Public id of the key used.
    pub key_id: String,
    /// SHA-256 of the config file.
    pub config_sha256: String,
    /// The input extract, as named on the command line.
    pub input: String,
    /// The pseudonymised output.
    pub output: String,
    /// Data rows read.
    pub rows_read: u64,
    /// Rows written (always equal to rows read: nothing is dropped).
    pub rows_written: u64,
    /// Blank rows (every field empty) at the end of the input, skipped: not records. Spreadsheets
    /// saved as CSV often end with such rows.
    #[serde(default)]
    pub blank_rows_skipped: u64,
    /// NHS-number status counts, when the extract has an NHS number field.
    pub nhs_number: Option<NhsQuality>,
    /// Identifying fields.
    pub fields: Vec<FieldQuality>,
    /// Pass-through columns.
    pub passthrough: Vec<FieldQuality>,
    /// HMAC-SHA256 evaluations made (tokens plus Bloom n-grams).
    pub hmac_evaluations: u64,
    /// Likely duplicate registrations within the extract (`tokenise::registrations`); none when
    /// the extract has no given name, family name or date of birth to compare.
    #[serde(default)]
    pub duplicate_registrations: Option<DuplicateRegistrations>,
}

/// Likely duplicate registrations: pairs of profiles (distinct NHS number, names, date of birth
/// and sex) born the same day with close or swapped names and no valid NHS number in common.
/// The issues file lists each pair by its rows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuplicateRegistrations {
    /// Pairs found.
    pub pairs: u64,
    /// Pairs listed in the issues file (it holds at most `tokenise::MAX_ISSUES_LISTED` lines).
    #[serde(default)]
    pub pairs_listed: u64,
    /// Of them, pairs with two different valid NHS numbers.
    pub different_numbers: u64,
    /// Of them, pairs where one profile has a valid NHS number and the other none.
    pub one_without_number: u64,
    /// Of them, pairs where neither has a valid NHS number.
    pub neither_with_number: u64,
    /// Profiles compared.
    pub profiles: u64,
    /// Birthday-and-initial blocks too large to compare (a default date of birth shared by
    /// many): pairs in them are not looked for.
    pub blocks_too_large: u64,
}

/// NHS-number statuses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NhsQuality {
    /// Input column.
    pub column: String,
    /// Count per status (`valid`, `missing`, `bad_format`, `bad_check_digit`, `placeholder`,
    /// `scientific_notation`, `leading_zero_lost`).
    pub statuses: BTreeMap<String, u64>,
}

/// One field's counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldQuality {
    /// Output name.
    pub name: String,
    /// Input column.
    pub column: String,
    /// Field or pass-through type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Usable values.
    pub present: u64,
    /// Empty values.
    pub missing: u64,
    /// Present but unusable values (treated as missing): "unusable" in the text report and here.
    pub unusable: u64,
    /// `missing / rows`.
    pub missing_rate: f64,
    /// `unusable / rows`.
    pub unusable_rate: f64,
}

impl FieldQuality {
    /// Builds a row with its rates.
    pub fn new(name: &str, column: &str, kind: &str, present: u64, missing: u64, unusable: u64) -> FieldQuality {
        let rows = (present + missing + unusable).max(1) as f64;
        FieldQuality {
            name: name.into(),
            column: column.into(),
            kind: kind.into(),
            present,
            missing,
            unusable,
            missing_rate: round4(missing as f64 / rows),
            unusable_rate: round4(unusable as f64 / rows),
        }
    }
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// NHS status counts in report order.
pub fn nhs_statuses(counts: &[u64; 7]) -> BTreeMap<String, u64> {
    NhsNumberStatus::ALL.iter().zip(counts).map(|(s, &n)| (s.as_str().to_string(), n)).collect()
}

impl QualityReport {
    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// The report as text for people.
    pub fn to_text(&self) -> String {
        let mut t = String::new();
        let pct = |n: u64| if self.rows_read == 0 { 0.0 } else { 100.0 * n as f64 / self.rows_read as f64 };
        let _ = writeln!(t, "pseudolink data-quality report");
        let _ = writeln!(t, "source:        {}", self.source);
        let _ = writeln!(t, "key id:        {}", self.key_id);
        let _ = writeln!(t, "config sha256: {}", self.config_sha256);
        let _ = writeln!(t, "input:         {}", self.input);
        let _ = writeln!(t, "output:        {}", self.output);
        let _ = writeln!(t, "rows read:     {}", group_digits(self.rows_read));
        let _ = writeln!(t, "rows written:  {}", group_digits(self.rows_written));
        if self.blank_rows_skipped > 0 {
            let _ = writeln!(
                t,
                "blank rows:    {} at the end of the input, skipped (every field empty)",
                group_digits(self.blank_rows_skipped)
            );
        }
        if let Some(nhs) = &self.nhs_number {
            let _ = writeln!(t, "\nNHS number (column `{}`)", nhs.column);
            for s in NhsNumberStatus::ALL {
                let n = nhs.statuses.get(s.as_str()).copied().unwrap_or(0);
                let _ = writeln!(t, "  {:<19} {:>12} {:>7.2}%", s.as_str(), group_digits(n), pct(n));
            }
            let count = |s: NhsNumberStatus| nhs.statuses.get(s.as_str()).copied().unwrap_or(0);
            if count(NhsNumberStatus::ScientificNotation) > 0 {
                let _ = writeln!(
                    t,
                    "  hint: scientific_notation means a spreadsheet showed the NHS-number column as a number and \
                     saved what it showed (9.43477E+09); the digits are lost. Format the column as text in the \
                     source export (not in the spreadsheet afterwards) and export again"
                );
            }
            if count(NhsNumberStatus::LeadingZeroLost) > 0 {
                let _ = writeln!(
                    t,
                    "  hint: leading_zero_lost means nine digits that make a valid NHS number with a 0 in front: the \
                     column was read as a number somewhere. Export it as text"
                );
            }
        }
        let _ = writeln!(
            t,
            "\n{:<20} {:<20} {:<14} {:>9} {:>9} {:>9}",
            "field", "column", "type", "present", "missing", "unusable"
        );
        for f in self.fields.iter().chain(&self.passthrough) {
            let _ = writeln!(
                t,
                "{:<20} {:<20} {:<14} {:>8.2}% {:>8.2}% {:>8.2}%",
                f.name,
                f.column,
                f.kind,
                pct(f.present),
                pct(f.missing),
                pct(f.unusable)
            );
        }
        let _ = writeln!(
            t,
            "\n\"unusable\" values were present but could not be read (a date in no configured format, a \
             postcode of the wrong shape, an NHS number failing its check digit); they are treated as \
             missing and their records are kept."
        );
        if let Some(d) = &self.duplicate_registrations {
            let _ = writeln!(
                t,
                "\nlikely duplicate registrations: {} pairs among {} profiles ({} with two different NHS numbers, {} \
                 with one number missing, {} with none)",
                group_digits(d.pairs),
                group_digits(d.profiles),
                group_digits(d.different_numbers),
                group_digits(d.one_without_number),
                group_digits(d.neither_with_number)
            );
            if d.pairs > 0 {
                let _ = writeln!(
                    t,
                    "  same date of birth, close or swapped names, no valid NHS number in common: one person \
                     registered twice, or two people alike. {} by its rows (reason \
                     likely_duplicate_registration, related_row); check them in the source system and merge the \
                     true duplicates there",
                    if d.pairs_listed == 0 {
                        "A tokenise run (not --check) lists each pair in the issues file".to_string()
                    } else if d.pairs_listed < d.pairs {
                        format!(
                            "The issues file lists {} of the pairs (it holds at most 1,000,000 lines)",
                            group_digits(d.pairs_listed)
                        )
                    } else {
                        "The issues file lists each pair".to_string()
                    }
                );
            }
            if d.blocks_too_large > 0 {
                let _ = writeln!(
                    t,
                    "  {} groups sharing one date of birth and initial were too large to compare (a default date \
                     of birth?); duplicates among them were not looked for",
                    group_digits(d.blocks_too_large)
                );
            }
        }
        t
    }
}
