//! True identities: persons in households, with ages, names, addresses and long-term conditions.

use chrono::{Datelike, Duration, NaiveDate};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::synth::names::{AREAS, FEMALE, MALE, SURNAMES, TAIL_ENDS, TAIL_HEADS};

/// The date ages are measured at: the end of the activity window.
pub fn reference_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 3, 31).unwrap_or_default()
}

/// Share of the population by five-year age band, 0–4 to 95–99 (England, 2021 census, rounded).
const AGE_BANDS: [f64; 20] =
    [5.4, 5.9, 6.0, 5.6, 6.0, 6.6, 6.9, 6.7, 6.4, 6.4, 6.9, 6.7, 5.8, 5.0, 5.0, 3.6, 2.4, 1.5, 0.7, 0.2];

/// Long-term conditions, with the age at which prevalence reaches half its maximum, the
/// maximum, and the spread (years) of the rise. Prevalence at age `a` is
/// `max / (1 + exp(-(a - mid) / spread))`, so conditions cluster in older people.
pub const CONDITIONS: [(&str, f64, f64, f64); 10] = [
    ("hypertension", 62.0, 0.60, 10.0),
    ("diabetes", 60.0, 0.22, 10.0),
    ("copd", 68.0, 0.12, 8.0),
    ("heart_failure", 78.0, 0.14, 7.0),
    ("atrial_fibrillation", 76.0, 0.16, 7.0),
    ("ckd", 72.0, 0.22, 8.0),
    ("dementia", 84.0, 0.30, 5.0),
    ("cancer", 66.0, 0.10, 10.0),
    ("asthma", 10.0, 0.10, 5.0),
    ("depression", 25.0, 0.14, 6.0),
];

/// Sex of a synthetic person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    /// Female.
    Female,
    /// Male.
    Male,
}

/// One synthetic person's true identity.
#[derive(Debug, Clone)]
pub struct Person {
    /// Global index (0-based); the person id is derived from it.
    pub index: u64,
    /// True NHS number.
    pub nhs: [u8; 10],
    /// A second number, used by duplicate registrations, if one is spare.
    pub alt_nhs: Option<[u8; 10]>,
    /// Another person's number (a household member's when possible), for numbers shared in error.
    pub other_nhs: [u8; 10],
    /// Given name.
    pub given: &'static str,
    /// Family name.
    pub family: String,
    /// A previous (or later) family name.
    pub other_family: String,
    /// Sex.
    pub sex: Sex,
    /// Date of birth.
    pub dob: NaiveDate,
    /// Current postcode.
    pub postcode: String,
    /// Previous postcode.
    pub old_postcode: String,
    /// First line of the current address (house number and street).
    pub address: String,
    /// First line of the previous address.
    pub old_address: String,
    /// Conditions, as a bit per entry of [`CONDITIONS`].
    pub conditions: u16,
}

impl Person {
    /// Age in whole years at the reference date.
    pub fn age(&self) -> u32 {
        let r = reference_date();
        let mut a = r.year() - self.dob.year();
        if (r.month(), r.day()) < (self.dob.month(), self.dob.day()) {
            a -= 1;
        }
        a.max(0) as u32
    }

    /// Number of long-term conditions.
    pub fn condition_count(&self) -> u32 {
        self.conditions.count_ones()
    }

    /// The person id written to the truth file.
    pub fn id(&self) -> String {
        format!("P{:08}", self.index + 1)
    }
}

/// Zipf-like weights `1 / rank^s`, as a cumulative table.
pub fn zipf_cumulative(n: usize, s: f64) -> Vec<f64> {
    let mut acc = 0.0;
    (1..=n)
        .map(|r| {
            acc += 1.0 / (r as f64).powf(s);
            acc
        })
        .collect()
}

/// Samples an index from a cumulative table.
pub fn sample_cumulative(rng: &mut ChaCha8Rng, cum: &[f64]) -> usize {
    let total = cum.last().copied().unwrap_or(1.0);
    let x = rng.random::<f64>() * total;
    cum.partition_point(|&c| c <= x).min(cum.len() - 1)
}

/// Shared, precomputed sampling tables.
#[derive(Debug)]
pub struct Tables {
    surnames: Vec<f64>,
    female: Vec<f64>,
    male: Vec<f64>,
    ages: Vec<f64>,
    areas: Vec<f64>,
}

impl Default for Tables {
    fn default() -> Self {
        let mut ages = Vec::new();
        let mut acc = 0.0;
        for w in AGE_BANDS {
            acc += w;
            ages.push(acc);
        }
        let mut areas = Vec::new();
        let mut acc = 0.0;
        for (_, districts) in AREAS {
            acc += f64::from(*districts);
            areas.push(acc);
        }
        Tables {
            surnames: zipf_cumulative(SURNAMES.len(), 0.85),
            female: zipf_cumulative(FEMALE.len(), 0.9),
            male: zipf_cumulative(MALE.len(), 0.9),
            ages,
            areas,
        }
    }
}

/// Share of people whose surname comes from the long tail rather than the listed names.
const TAIL_SHARE: f64 = 0.33;

impl Tables {
    /// A family name.
    pub fn surname(&self, rng: &mut ChaCha8Rng) -> String {
        if rng.random_bool(TAIL_SHARE) {
            let h = TAIL_HEADS[rng.random_range(0..TAIL_HEADS.len())];
            let e = TAIL_ENDS[rng.random_range(0..TAIL_ENDS.len())];
            format!("{h}{e}")
        } else {
            SURNAMES[sample_cumulative(rng, &self.surnames)].to_string()
        }
    }

    /// A given name for `sex`.
    pub fn given(&self, rng: &mut ChaCha8Rng, sex: Sex) -> &'static str {
        match sex {
            Sex::Female => FEMALE[sample_cumulative(rng, &self.female)],
            Sex::Male => MALE[sample_cumulative(rng, &self.male)],
        }
    }

    /// A date of birth from the age structure.
    pub fn dob(&self, rng: &mut ChaCha8Rng) -> NaiveDate {
        let band = sample_cumulative(rng, &self.ages) as i64;
        let days = band * 5 * 365 + rng.random_range(0..5 * 365 + 1);
        reference_date() - Duration::days(days)
    }

    /// A postcode sector (`LS16 5`) for a neighbourhood.
    pub fn sector(&self, rng: &mut ChaCha8Rng) -> String {
        let a = sample_cumulative(rng, &self.areas);
        let (area, districts) = AREAS[a];
        // Lower-numbered districts are denser, as in most postcode areas.
        let d = 1 + (rng.random::<f64>().powf(1.5) * f64::from(districts)) as u32;
        format!("{area}{d} {}", rng.random_range(0..10u32))
    }
}

/// A full postcode in `sector`: the unit letters avoid C, I, K, M, O and V, as Royal Mail's do.
pub fn unit_in(rng: &mut ChaCha8Rng, sector: &str) -> String {
    const UNIT: &[u8] = b"ABDEFGHJLNPQRSTUWXYZ";
    let a = UNIT[rng.random_range(0..UNIT.len())] as char;
    let b = UNIT[rng.random_range(0..UNIT.len())] as char;
    format!("{sector}{a}{b}")
}

/// Draws conditions for a person of `age`.
pub fn conditions(rng: &mut ChaCha8Rng, age: u32) -> u16 {
    let mut bits = 0u16;
    for (i, (_, mid, max, spread)) in CONDITIONS.iter().enumerate() {
        let p = max / (1.0 + (-(f64::from(age) - mid) / spread).exp());
        if rng.random_bool(p.clamp(0.0, 1.0)) {
            bits |= 1 << i;
        }
    }
    bits
}
