//! The five providers of the synthetic care system: who each sees, how often, what each
//! records, and in what format each exports.
//!
//! | provider | setting(s) | coverage | format |
//! |---|---|---|---|
//! | `acute` | acute_elective, acute_non_elective | ~15%, rising with age and conditions | CSV, ISO dates |
//! | `ae` | ae | ~25% | CSV, NHS numbers spaced, `dd/mm/yyyy`, sex coded 1/2 |
//! | `gp` | general_practice | ~97%, several encounters each | pipe-delimited, UTF-8 with BOM, `yyyymmdd`, long-term condition flags |
//! | `community_mh` | community, mental_health | ~10%, more with depression or dementia | CSV, `dd-mm-yyyy` |
//! | `social_care` | social_care | ~1% under 65, rising steeply after | CSV in Windows-1252, costs as `£1,234.00` |
//! | `housing` (with `--with housing`) | housing | ~8%, more among young adults and the old | CSV, no NHS number, an address line and a tenant reference |

use std::fmt::Write as _;

use chrono::{Datelike, Duration, NaiveDate};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::synth::config::ErrorRates;
use crate::synth::errors::{date_digit, name_typo, nhs_typo};
use crate::synth::names::{NICKNAMES, STREET_TYPES};
use crate::synth::person::{CONDITIONS, Person, Sex, reference_date};

/// First day of the activity window (three financial years).
pub fn window_start() -> NaiveDate {
    NaiveDate::from_ymd_opt(2022, 4, 1).unwrap_or_default()
}

/// What a column of an extract holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Row id.
    RecordId,
    /// The provider's own patient number.
    LocalId,
    /// NHS number.
    Nhs,
    /// Given name.
    Given,
    /// Family name.
    Family,
    /// Date of birth.
    Dob,
    /// Postcode.
    Postcode,
    /// First line of the address (house number and street).
    Address,
    /// Sex.
    Sex,
    /// Event date.
    EventDate,
    /// Care setting.
    Setting,
    /// Activity type.
    Activity,
    /// Cost in pounds.
    Cost,
    /// One long-term condition flag (index into [`CONDITIONS`]).
    Condition(usize),
}

/// Text encodings of exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    /// UTF-8.
    Utf8,
    /// UTF-8 with a byte-order mark.
    Utf8Bom,
    /// Windows-1252.
    Windows1252,
}

/// One provider's export format.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Source code.
    pub name: &'static str,
    /// Record id prefix.
    pub prefix: &'static str,
    /// CSV delimiter.
    pub delimiter: u8,
    /// Text encoding of the CSV.
    pub text: TextKind,
    /// Columns.
    pub columns: Vec<(&'static str, Role)>,
    /// `chrono` format of dates of birth.
    pub dob_format: &'static str,
    /// `chrono` format of event dates.
    pub event_format: &'static str,
    /// NHS numbers written as `999 123 4567`.
    pub nhs_spaced: bool,
    /// How sex is written: (female, male, unknown).
    pub sex_codes: (&'static str, &'static str, &'static str),
    /// Costs written as `£1,234.00`.
    pub cost_pounds: bool,
}

/// The five providers' formats.
pub fn specs() -> Vec<Spec> {
    use Role::*;
    let mut gp_cols = vec![
        ("Encounter ID", RecordId),
        ("Patient ID", LocalId),
        ("NHS Number", Nhs),
        ("Given Name", Given),
        ("Family Name", Family),
        ("Date of Birth", Dob),
        ("Postcode", Postcode),
        ("Sex", Sex),
        ("Encounter Date", EventDate),
        ("Setting", Setting),
        ("Encounter Type", Activity),
        ("Cost", Cost),
    ];
    for (i, (name, ..)) in CONDITIONS.iter().enumerate() {
        gp_cols.push((name, Condition(i)));
    }
    vec![
        Spec {
            name: "acute",
            prefix: "E",
            delimiter: b',',
            text: TextKind::Utf8,
            columns: vec![
                ("episode_id", RecordId),
                ("local_patient_id", LocalId),
                ("nhs_number", Nhs),
                ("forename", Given),
                ("surname", Family),
                ("date_of_birth", Dob),
                ("postcode", Postcode),
                ("sex", Sex),
                ("admission_date", EventDate),
                ("setting", Setting),
                ("admission_method", Activity),
                ("spell_cost", Cost),
            ],
            dob_format: "%Y-%m-%d",
            event_format: "%Y-%m-%d",
            nhs_spaced: false,
            sex_codes: ("F", "M", ""),
            cost_pounds: false,
        },
        Spec {
            name: "ae",
            prefix: "A",
            delimiter: b',',
            text: TextKind::Utf8,
            columns: vec![
                ("attendance_id", RecordId),
                ("mrn", LocalId),
                ("nhs_no", Nhs),
                ("first_name", Given),
                ("last_name", Family),
                ("dob", Dob),
                ("postcode", Postcode),
                ("gender", Sex),
                ("arrival_date", EventDate),
                ("setting", Setting),
                ("attendance_type", Activity),
                ("cost", Cost),
            ],
            dob_format: "%d/%m/%Y",
            event_format: "%d/%m/%Y",
            nhs_spaced: true,
            sex_codes: ("2", "1", "0"),
            cost_pounds: false,
        },
        Spec {
            name: "gp",
            prefix: "G",
            delimiter: b'|',
            text: TextKind::Utf8Bom,
            columns: gp_cols,
            dob_format: "%Y%m%d",
            event_format: "%Y-%m-%d",
            nhs_spaced: false,
            sex_codes: ("Female", "Male", "Unknown"),
            cost_pounds: false,
        },
        Spec {
            name: "community_mh",
            prefix: "C",
            delimiter: b',',
            text: TextKind::Utf8,
            columns: vec![
                ("contact_id", RecordId),
                ("client_id", LocalId),
                ("nhs_number", Nhs),
                ("forename", Given),
                ("surname", Family),
                ("birth_date", Dob),
                ("post_code", Postcode),
                ("sex", Sex),
                ("contact_date", EventDate),
                ("setting", Setting),
                ("service", Activity),
                ("contact_cost", Cost),
            ],
            dob_format: "%d-%m-%Y",
            event_format: "%d-%m-%Y",
            nhs_spaced: false,
            sex_codes: ("F", "M", "U"),
            cost_pounds: false,
        },
        Spec {
            name: "social_care",
            prefix: "S",
            delimiter: b',',
            text: TextKind::Windows1252,
            columns: vec![
                ("case_ref", RecordId),
                ("person_ref", LocalId),
                ("nhs_number", Nhs),
                ("first_names", Given),
                ("surname", Family),
                ("dob", Dob),
                ("postcode", Postcode),
                ("gender", Sex),
                ("service_date", EventDate),
                ("setting", Setting),
                ("service_type", Activity),
                ("weekly_cost", Cost),
            ],
            dob_format: "%d/%m/%Y",
            event_format: "%d/%m/%Y",
            nhs_spaced: false,
            sex_codes: ("Female", "Male", ""),
            cost_pounds: true,
        },
    ]
}

/// The sources added on request ([`crate::synth::config::EXTRA_SOURCES`]), by name.
pub fn extra_spec(name: &str) -> Option<Spec> {
    use Role::*;
    match name {
        "housing" => Some(Spec {
            name: "housing",
            prefix: "H",
            delimiter: b',',
            text: TextKind::Utf8,
            columns: vec![
                ("event_ref", RecordId),
                ("tenant_ref", LocalId),
                ("first_name", Given),
                ("last_name", Family),
                ("date_of_birth", Dob),
                ("address_line_1", Address),
                ("postcode", Postcode),
                ("sex", Sex),
                ("event_date", EventDate),
                ("setting", Setting),
                ("event_type", Activity),
                ("cost", Cost),
            ],
            dob_format: "%d/%m/%Y",
            event_format: "%d/%m/%Y",
            nhs_spaced: false,
            sex_codes: ("F", "M", ""),
            cost_pounds: false,
        }),
        _ => None,
    }
}

/// An address line as a clerk might key it: street type abbreviated, house number dropped, a
/// typo, or the old address after a move (kept with the old postcode).
fn recorded_address(
    rng: &mut ChaCha8Rng,
    p: &Person,
    moved: bool,
    rates: &ErrorRates,
    errors: &mut Vec<&'static str>,
) -> String {
    let mut a = if moved { p.old_address.clone() } else { p.address.clone() };
    if rng.random_bool(0.2) {
        if let Some((full, short)) = STREET_TYPES.iter().find(|(full, _)| a.ends_with(full)) {
            a = format!("{}{short}", &a[..a.len() - full.len()]);
            errors.push("address_abbreviated");
        }
    }
    if rng.random_bool(0.04) {
        if let Some((_, rest)) = a.split_once(' ') {
            a = rest.to_string();
            errors.push("address_no_number");
        }
    }
    if rates.name_typo > 0.0 && rng.random_bool(rates.name_typo) {
        a = name_typo(rng, &a);
        errors.push("address_typo");
    }
    a
}

/// A provider's copy of a person's details, errors and all.
#[derive(Debug, Clone)]
pub struct Registration {
    /// Whether this is a duplicate registration.
    pub duplicate: bool,
    /// The recorded NHS number (text, empty when missing).
    pub nhs: String,
    /// Recorded given name.
    pub given: String,
    /// Recorded family name.
    pub family: String,
    /// Recorded date of birth (text).
    pub dob: String,
    /// Recorded postcode (text, empty when missing).
    pub postcode: String,
    /// Recorded first address line (empty where the provider records none).
    pub address: String,
    /// Recorded sex (text).
    pub sex: String,
    /// The errors applied, by knob name.
    pub errors: Vec<&'static str>,
}

/// One event at a provider.
#[derive(Debug, Clone)]
pub struct Event {
    /// Date.
    pub date: NaiveDate,
    /// Setting.
    pub setting: &'static str,
    /// Activity type.
    pub activity: &'static str,
    /// Cost in pounds.
    pub cost: f64,
}

/// Makes a registration of `p` at `spec` with errors drawn at `rates`.
pub fn register(rng: &mut ChaCha8Rng, spec: &Spec, p: &Person, rates: &ErrorRates, duplicate: bool) -> Registration {
    let mut errors = Vec::new();
    let hit = |rng: &mut ChaCha8Rng, rate: f64, name: &'static str, errors: &mut Vec<&'static str>| {
        let yes = rate > 0.0 && rng.random_bool(rate);
        if yes {
            errors.push(name);
        }
        yes
    };
    // NHS number.
    let mut nhs = Some(p.nhs);
    if duplicate {
        errors.push("duplicate");
        // A duplicate registration is made when the person was not found: usually no number,
        // sometimes a second (temporary) one.
        nhs = if rng.random_bool(0.5) { p.alt_nhs } else { None };
    }
    if hit(rng, rates.nhs_missing, "nhs_missing", &mut errors) {
        nhs = None;
    } else if nhs.is_some() && hit(rng, rates.nhs_shared, "nhs_shared", &mut errors) {
        nhs = Some(p.other_nhs);
    } else if let Some(n) = nhs.as_mut() {
        if hit(rng, rates.nhs_typo, "nhs_typo", &mut errors) {
            nhs_typo(rng, n);
        }
    }
    let nhs = match nhs {
        None => String::new(),
        Some(d) => {
            let s = std::str::from_utf8(&d).unwrap_or_default();
            if spec.nhs_spaced { format!("{} {} {}", &s[..3], &s[3..6], &s[6..]) } else { s.to_string() }
        }
    };
    // Names.
    let mut given = p.given.to_string();
    let mut family = p.family.clone();
    if let Some((_, nicks)) = NICKNAMES.iter().find(|(formal, _)| *formal == p.given) {
        if hit(rng, rates.nickname, "nickname", &mut errors) {
            given = nicks[rng.random_range(0..nicks.len())].to_string();
        }
    }
    if p.age() >= 18 && hit(rng, rates.surname_change, "surname_change", &mut errors) {
        family = p.other_family.clone();
    }
    if hit(rng, rates.name_typo, "name_typo", &mut errors) {
        if rng.random_bool(0.5) {
            given = name_typo(rng, &given);
        } else {
            family = name_typo(rng, &family);
        }
    }
    if hit(rng, rates.name_swap, "name_swap", &mut errors) {
        std::mem::swap(&mut given, &mut family);
    }
    // Date of birth.
    let mut dob = p.dob;
    if p.dob.day() <= 12 && p.dob.day() != p.dob.month() && hit(rng, rates.dob_swap, "dob_swap", &mut errors) {
        dob = NaiveDate::from_ymd_opt(p.dob.year(), p.dob.day(), p.dob.month()).unwrap_or(p.dob);
    }
    let mut dob_text = dob.format(spec.dob_format).to_string();
    if hit(rng, rates.dob_digit, "dob_digit", &mut errors) {
        dob_text = date_digit(rng, &dob_text);
    }
    // Postcode, and the address line where the provider keeps one (moves change both).
    let mut moved = false;
    let postcode = if hit(rng, rates.postcode_missing, "postcode_missing", &mut errors) {
        String::new()
    } else if hit(rng, rates.postcode_moved, "postcode_moved", &mut errors) {
        moved = true;
        p.old_postcode.clone()
    } else {
        p.postcode.clone()
    };
    let address = if spec.columns.iter().any(|(_, r)| *r == Role::Address) {
        recorded_address(rng, p, moved, rates, &mut errors)
    } else {
        String::new()
    };
    // Sex.
    let sex = if hit(rng, rates.sex_missing, "sex_missing", &mut errors) {
        spec.sex_codes.2
    } else {
        match p.sex {
            Sex::Female => spec.sex_codes.0,
            Sex::Male => spec.sex_codes.1,
        }
    };
    Registration { duplicate, nhs, given, family, dob: dob_text, postcode, address, sex: sex.to_string(), errors }
}

/// Poisson sample (Knuth's method below 30, a rounded normal above).
pub fn poisson(rng: &mut ChaCha8Rng, lambda: f64) -> u32 {
    if lambda <= 0.0 {
        return 0;
    }
    if lambda > 30.0 {
        let z: f64 = (0..12).map(|_| rng.random::<f64>()).sum::<f64>() - 6.0;
        return (lambda + z * lambda.sqrt()).round().max(0.0) as u32;
    }
    let l = (-lambda).exp();
    let (mut k, mut p) = (0u32, 1.0f64);
    loop {
        p *= rng.random::<f64>();
        if p <= l {
            return k;
        }
        k += 1;
    }
}

fn has(p: &Person, name: &str) -> bool {
    CONDITIONS.iter().position(|c| c.0 == name).is_some_and(|i| p.conditions & (1 << i) != 0)
}

/// The events `p` has at `spec` in the window, or none if the person is not seen there
/// (`seen` forces at least one, for a duplicate registration of someone already seen).
pub fn events(rng: &mut ChaCha8Rng, spec: &Spec, p: &Person, seen: bool) -> Vec<Event> {
    let age = f64::from(p.age());
    let cc = f64::from(p.condition_count());
    let (p_seen, count) = match spec.name {
        "acute" => ((0.08 + 0.004 * age + 0.06 * cc).min(0.9), 1 + poisson(rng, 0.3 + 0.25 * cc)),
        "ae" => ((0.2 + 0.002 * age + 0.05 * cc).min(0.9), 1 + poisson(rng, 0.4 + 0.2 * cc)),
        "gp" => (0.97, 1 + poisson(rng, 1.5 + 0.05 * age + 1.2 * cc)),
        "community_mh" => {
            let mh = if has(p, "depression") || has(p, "dementia") { 0.3 } else { 0.0 };
            ((0.05 + 0.003 * age + 0.04 * cc + mh).min(0.9), 1 + poisson(rng, 3.0))
        }
        // Tenants: young adults, and older people needing adaptations.
        "housing" => {
            let p_seen = if age < 18.0 {
                0.0
            } else if age < 35.0 {
                0.12
            } else if age < 70.0 {
                0.06
            } else {
                0.09 + 0.02 * cc
            };
            (p_seen, 1 + poisson(rng, 2.0))
        }
        _ => {
            let dem = if has(p, "dementia") { 0.3 } else { 0.0 };
            let base = if age < 65.0 { 0.005 } else { 0.02 + 0.006 * (age - 65.0) + 0.03 * cc };
            ((base + dem).min(0.9), 1 + poisson(rng, 15.0))
        }
    };
    if !rng.random_bool(p_seen) && !seen {
        return Vec::new();
    }
    let start = window_start().max(p.dob);
    let span = (reference_date() - start).num_days().max(0);
    let factor = 1.0 + 0.12 * cc;
    (0..count)
        .map(|_| {
            let date = start + Duration::days(rng.random_range(0..=span));
            let jitter = rng.random_range(0.6..1.4);
            let (setting, activity, base) = match spec.name {
                "acute" => {
                    if rng.random_bool((0.45 + age / 250.0).min(0.85)) {
                        ("acute_non_elective", "emergency", 4_200.0 * (1.0 + age / 120.0))
                    } else {
                        ("acute_elective", "elective", 3_200.0)
                    }
                }
                "ae" => ("ae", if rng.random_bool(0.2) { "ambulance" } else { "walk-in" }, 260.0),
                "housing" => match rng.random_range(0..100u32) {
                    0..=59 => ("housing", "repair", 120.0),
                    60..=84 => ("housing", "tenancy review", 40.0),
                    85..=94 => ("housing", "adaptation", 1_400.0),
                    _ => ("housing", "homelessness assessment", 350.0),
                },
                "gp" => match rng.random_range(0..100u32) {
                    0..=69 => ("general_practice", "consultation", 42.0),
                    70..=94 => ("general_practice", "telephone", 25.0),
                    _ => ("general_practice", "home visit", 90.0),
                },
                "community_mh" => {
                    let mh = (has(p, "depression") || has(p, "dementia")) && rng.random_bool(0.7);
                    if mh {
                        ("mental_health", "mental health contact", 210.0)
                    } else {
                        ("community", "district nursing", 95.0)
                    }
                }
                _ => match rng.random_range(0..100u32) {
                    0..=59 => ("social_care", "home care", 180.0),
                    60..=79 => ("social_care", "day care", 90.0),
                    80..=92 => ("social_care", "residential", 900.0),
                    _ => ("social_care", "assessment", 300.0),
                },
            };
            Event { date, setting, activity, cost: (base * factor * jitter * 100.0).round() / 100.0 }
        })
        .collect()
}

/// Formats a cost for `spec`.
pub fn format_cost(spec: &Spec, cost: f64, out: &mut String) {
    out.clear();
    if spec.cost_pounds {
        let pence = (cost * 100.0).round() as i64;
        let (pounds, p) = (pence / 100, pence % 100);
        let digits = pounds.to_string();
        out.push('£');
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        let _ = write!(out, ".{p:02}");
    } else {
        let _ = write!(out, "{cost:.2}");
    }
}
