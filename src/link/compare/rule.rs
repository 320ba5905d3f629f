//! What a comparison reads ([`Subject`]) and the rule of each of its levels ([`Rule`]): labels,
//! parsing from a link config, which fields a rule applies to, and starting m and u.

use crate::link::data::{Records, TokCol};

/// The field a comparison reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    /// The NHS-number token (valid numbers only).
    NhsNumber,
    /// The given name (exact, phonetic and Bloom columns; the family name's for swaps).
    GivenName,
    /// The family name.
    FamilyName,
    /// The date of birth (full, swapped, year-month and year tokens).
    DateOfBirth,
    /// The postcode (full, sector and district tokens).
    Postcode,
    /// Sex.
    Sex,
    /// An identifier or string field, by its name (token, and Bloom filter if written).
    Field(String),
}

impl Subject {
    /// The name a link config uses: the standard field names, or the field's own.
    pub fn name(&self) -> &str {
        match self {
            Subject::NhsNumber => "nhs_number",
            Subject::GivenName => "given_name",
            Subject::FamilyName => "family_name",
            Subject::DateOfBirth => "date_of_birth",
            Subject::Postcode => "postcode",
            Subject::Sex => "sex",
            Subject::Field(f) => f,
        }
    }

    /// The subject a link config names.
    pub fn parse(name: &str) -> Subject {
        match name {
            "nhs_number" => Subject::NhsNumber,
            "given_name" => Subject::GivenName,
            "family_name" => Subject::FamilyName,
            "date_of_birth" | "dob" => Subject::DateOfBirth,
            "postcode" => Subject::Postcode,
            "sex" => Subject::Sex,
            other => Subject::Field(other.to_string()),
        }
    }

    /// Whether any loaded record holds this field.
    pub fn present(&self, r: &Records) -> bool {
        let any = |c: &TokCol| c.codes.iter().any(|&x| x != 0);
        match self {
            Subject::NhsNumber => any(&r.nhs),
            Subject::GivenName => any(&r.given.0),
            Subject::FamilyName => any(&r.family.0),
            Subject::DateOfBirth => any(&r.dob[0]),
            Subject::Postcode => any(&r.postcode[0]),
            Subject::Sex => r.sex.iter().any(|&s| s != 0),
            Subject::Field(f) => r.extra(f).is_some_and(|k| any(&r.extras[k].token)),
        }
    }

    pub(super) fn is_name(&self) -> bool {
        matches!(self, Subject::GivenName | Subject::FamilyName)
    }
}

/// The rule of one level: when a pair is at least this alike.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule {
    /// Equal tokens (the full postcode, the full date of birth, the exact name …).
    Exact,
    /// Names: each record's given name is the other's family name.
    Swapped,
    /// Names: equal phonetic codes.
    Phonetic,
    /// Bloom-filter Dice similarity at least this.
    Dice(f64),
    /// Date of birth: day and month transposed.
    DayMonthSwapped,
    /// Date of birth: same year and month.
    YearMonth,
    /// Date of birth: same year.
    Year,
    /// Postcode: same sector.
    Sector,
    /// Postcode: same district.
    District,
}

impl Rule {
    /// The level's label, derived from the rule and its threshold.
    pub fn label(&self, subject: &Subject) -> String {
        match self {
            Rule::Exact if *subject == Subject::Postcode => "full".into(),
            Rule::Exact => "exact".into(),
            Rule::Swapped => "swapped with family/given".into(),
            Rule::Phonetic => "phonetic".into(),
            Rule::Dice(t) => format!("Dice >= {t}"),
            Rule::DayMonthSwapped => "day/month swapped".into(),
            Rule::YearMonth => "year and month".into(),
            Rule::Year => "year".into(),
            Rule::Sector => "sector".into(),
            Rule::District => "district".into(),
        }
    }

    /// A rule as a link config writes it: `exact`, `swapped`, `phonetic`, `dice >= 0.8`,
    /// `day_month_swapped`, `year_month`, `year`, `sector`, `district` (`full` for a postcode's
    /// exact level).
    pub fn parse(s: &str) -> Option<Rule> {
        let t = s.trim().to_ascii_lowercase();
        Some(match t.as_str() {
            "exact" | "full" => Rule::Exact,
            "swapped" | "swapped with family/given" => Rule::Swapped,
            "phonetic" => Rule::Phonetic,
            "day_month_swapped" | "day/month swapped" => Rule::DayMonthSwapped,
            "year_month" | "year and month" => Rule::YearMonth,
            "year" => Rule::Year,
            "sector" => Rule::Sector,
            "district" => Rule::District,
            _ => {
                let x: f64 = t.strip_prefix("dice")?.trim().strip_prefix(">=")?.trim().parse().ok()?;
                if !(x > 0.0 && x <= 1.0) {
                    return None;
                }
                Rule::Dice(x)
            }
        })
    }

    /// Whether the rule can act on `subject`'s columns.
    pub fn applies_to(&self, subject: &Subject) -> bool {
        match self {
            Rule::Exact => true,
            Rule::Swapped | Rule::Phonetic => subject.is_name(),
            Rule::Dice(_) => subject.is_name() || matches!(subject, Subject::Field(_)),
            Rule::DayMonthSwapped | Rule::YearMonth | Rule::Year => *subject == Subject::DateOfBirth,
            Rule::Sector | Rule::District => *subject == Subject::Postcode,
        }
    }

    /// Starting m and u for training: agreement common among matches and rare among others for
    /// the strict rules, less so for the loose ones. EM and the random-pair sample replace them.
    pub(super) fn start(&self, rank: usize) -> (f64, f64) {
        match (self, rank) {
            (Rule::Exact, _) => (0.85, 0.002),
            (Rule::Dice(t), _) if *t >= 0.75 => (0.04, 0.005),
            (Rule::Dice(_), _) => (0.03, 0.02),
            (Rule::Year, _) | (Rule::District, _) => (0.02, 0.05),
            _ => (0.02, 0.005),
        }
    }
}
