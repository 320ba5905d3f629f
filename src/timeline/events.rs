//! The event schema every provider's activity is mapped onto, and its settings.
//!
//! One row per input record: `person_id`, `source`, `record_id`, `setting`, `event_date`,
//! `date_status` (`ok`, `missing`, `impossible`), `activity_type`, `cost`, then one boolean
//! `ltc_<condition>` column per long-term condition any extract flags (null where the source
//! does not record it).

use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef};
use chrono::{Datelike, NaiveDate};

/// Setting groups of the population views, in report order: the settings an integrated care
/// system budgets by. Settings outside these count as `other`.
pub const SETTING_GROUPS: [(&str, &str, &[&str]); 7] = [
    ("acute_elective", "Acute elective", &["acute_elective"]),
    ("acute_non_elective", "Acute non-elective", &["acute_non_elective"]),
    ("ae", "A&E", &["ae"]),
    ("mental_health_community", "Mental health and community", &["mental_health", "community"]),
    ("social_care", "Social care", &["social_care"]),
    ("general_practice", "General practice", &["general_practice"]),
    ("other", "Other", &[]),
];

/// The group index of a setting value.
pub fn setting_group(setting: &str) -> usize {
    SETTING_GROUPS.iter().position(|(_, _, s)| s.contains(&setting)).unwrap_or(SETTING_GROUPS.len() - 1)
}

/// Whether an event's date can be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateStatus {
    /// A plausible date.
    Ok,
    /// No date.
    Missing,
    /// Before 1900, after the timeline's as-of date, or before the person's year of birth.
    Impossible,
}

impl DateStatus {
    /// As written.
    pub fn as_str(self) -> &'static str {
        match self {
            DateStatus::Ok => "ok",
            DateStatus::Missing => "missing",
            DateStatus::Impossible => "impossible",
        }
    }
}

/// Days from 0001-01-01 (chrono's day 1 of the common era) to 1970-01-01, the Parquet epoch.
const EPOCH_FROM_CE: i32 = 719_163;

/// A Parquet date (days since 1970-01-01) as a date.
pub fn date_of(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(days.checked_add(EPOCH_FROM_CE)?)
}

/// A date as Parquet days.
pub fn days_of(d: NaiveDate) -> i32 {
    d.num_days_from_ce() - EPOCH_FROM_CE
}

/// The financial year (April to March) of a date, by its starting calendar year.
pub fn financial_year(d: NaiveDate) -> i32 {
    if d.month() >= 4 { d.year() } else { d.year() - 1 }
}

/// `2023-24` for the financial year starting in April 2023.
pub fn financial_year_label(start: i32) -> String {
    format!("{start}-{:02}", (start + 1) % 100)
}

/// The output schema for the given condition names.
pub fn schema(conditions: &[String]) -> SchemaRef {
    let mut fields = vec![
        Field::new("person_id", DataType::Utf8, false),
        Field::new("source", DataType::Utf8, false),
        Field::new("record_id", DataType::Utf8, false),
        Field::new("setting", DataType::Utf8, true),
        Field::new("event_date", DataType::Date32, true),
        Field::new("date_status", DataType::Utf8, false),
        Field::new("activity_type", DataType::Utf8, true),
        Field::new("cost", DataType::Float64, true),
    ];
    fields.extend(conditions.iter().map(|c| Field::new(format!("ltc_{c}"), DataType::Boolean, true)));
    Arc::new(Schema::new(fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn financial_years_start_in_april_and_dates_round_trip() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        assert_eq!(financial_year(d(2024, 3, 31)), 2023);
        assert_eq!(financial_year(d(2024, 4, 1)), 2024);
        assert_eq!(financial_year_label(2023), "2023-24");
        assert_eq!(financial_year_label(2099), "2099-00");
        assert_eq!(days_of(d(1970, 1, 1)), 0);
        assert_eq!(date_of(days_of(d(2023, 11, 14))), Some(d(2023, 11, 14)));
        assert_eq!(setting_group("community"), 3);
        assert_eq!(setting_group("hospice"), 6);
    }
}
