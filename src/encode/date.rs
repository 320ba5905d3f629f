//! Dates: several input formats, and the parts the linker compares.
//!
//! A date is tried against each configured `chrono` format in order (default
//! [`DEFAULT_DATE_FORMATS`]); a trailing time of day (`1980-02-01 00:00:00`, `…T00:00:00Z`) is
//! ignored, because many systems export dates as midnight timestamps. Dates outside
//! `min_year..=max_year` are invalid (a date of birth in 1066 or 2999 is a typing error).
//!
//! Derived values, each tokenised: the full date (`YYYY-MM-DD`), the year-month (`YYYY-MM`), the
//! year (`YYYY`), and the day/month-swapped date — the full-date text of the date with day and
//! month exchanged, tokenised with the *full-date* subkey so that the linker can test whether
//! one record's swapped date equals another's full date. It exists only when the day is 12 or
//! less and differs from the month.

use chrono::format::{Item, Parsed, StrftimeItems, parse};
use chrono::{Datelike, NaiveDate};

use crate::encode::Outcome;

/// Formats tried when a field's config names none: ISO, UK day-first with `/`, `-` and `.`,
/// and compact `YYYYMMDD`.
pub const DEFAULT_DATE_FORMATS: &[&str] = &["%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y%m%d"];
/// Two-digit years (a `%y` format, as in `3-Apr-61`): 00 to 29 are 2000 to 2029, 30 to 99 are 1930
/// to 1999. A fixed rule, so that the same file gives the same dates on any day; a date of birth
/// before 1930 or after 2029 needs a four-digit year (export one where the system can).
pub const TWO_DIGIT_YEAR_PIVOT: i32 = 30;
/// Earliest plausible year by default.
pub const DEFAULT_MIN_YEAR: i32 = 1880;
/// Latest plausible year by default.
pub const DEFAULT_MAX_YEAR: i32 = 2100;

/// Date formats compiled once: `chrono` re-reads a format string on every call otherwise, which
/// showed in the tokeniser's profile.
#[derive(Debug, Clone)]
pub struct DateFormats {
    items: Vec<Vec<Item<'static>>>,
}

impl DateFormats {
    /// Compiles `formats`; returns the first format that is not valid `chrono` syntax as the error.
    pub fn new(formats: &[String]) -> Result<DateFormats, crate::error::Invalid> {
        let items = formats
            .iter()
            .map(|f| StrftimeItems::new(f).parse_to_owned().map_err(|_| f.clone()))
            .collect::<Result<_, _>>()?;
        Ok(DateFormats { items })
    }

    /// [`DEFAULT_DATE_FORMATS`], compiled.
    pub fn defaults() -> DateFormats {
        let f: Vec<String> = DEFAULT_DATE_FORMATS.iter().map(|s| s.to_string()).collect();
        // Infallible: the defaults are valid formats (checked by a test).
        DateFormats::new(&f).expect("default date formats are valid")
    }
}

/// Parses a date with the given formats and plausible year range.
///
/// ```
/// use pseudolink::encode::{date::{parse_date, DateFormats}, Outcome};
/// let formats = DateFormats::new(&["%Y-%m-%d".into(), "%d/%m/%Y".into()]).unwrap();
/// let (outcome, date) = parse_date("03/11/1956", &formats, 1880, 2100);
/// assert_eq!(outcome, Outcome::Value);
/// assert_eq!(date.unwrap().to_string(), "1956-11-03");
/// ```
pub fn parse_date(raw: &str, formats: &DateFormats, min_year: i32, max_year: i32) -> (Outcome, Option<NaiveDate>) {
    let t = raw.trim();
    if t.is_empty() {
        return (Outcome::Missing, None);
    }
    let t = strip_time(t);
    for items in &formats.items {
        let mut parsed = Parsed::new();
        if parse(&mut parsed, t, items.iter()).is_err() {
            continue;
        }
        // A two-digit year (`%y`) gets its century by the documented rule, not chrono's.
        if let (Some(yy), None, None) = (parsed.year_mod_100(), parsed.year_div_100(), parsed.year()) {
            let _ = parsed.set_year_div_100(if yy < TWO_DIGIT_YEAR_PIVOT { 20 } else { 19 });
        }
        if let Ok(d) = parsed.to_naive_date() {
            if (min_year..=max_year).contains(&d.year()) {
                return (Outcome::Value, Some(d));
            }
            return (Outcome::Invalid, None);
        }
    }
    (Outcome::Invalid, None)
}

/// Drops a time-of-day suffix after a space or `T` when what follows starts like a time.
fn strip_time(t: &str) -> &str {
    if let Some(i) = t.find([' ', 'T']) {
        let rest = &t[i + 1..];
        let b = rest.as_bytes();
        if b.len() >= 5 && b[0].is_ascii_digit() && b[1].is_ascii_digit() && b[2] == b':' {
            return &t[..i];
        }
    }
    t
}

/// The texts tokenised for a date, written into fixed buffers (no allocation).
#[derive(Debug, Default, Clone, Copy)]
pub struct DateParts {
    /// `YYYY-MM-DD`.
    pub full: [u8; 10],
    /// `YYYY-MM-DD` of the day/month-swapped date, when one exists.
    pub swapped: Option<[u8; 10]>,
    /// `YYYY-MM`.
    pub year_month: [u8; 7],
    /// `YYYY`.
    pub year: [u8; 4],
}

/// Splits a date into its tokenised parts.
///
/// ```
/// use chrono::NaiveDate;
/// use pseudolink::encode::date::date_parts;
/// let p = date_parts(NaiveDate::from_ymd_opt(1956, 11, 3).unwrap());
/// assert_eq!(&p.full, b"1956-11-03");
/// assert_eq!(p.swapped.as_ref(), Some(b"1956-03-11"));
/// assert_eq!(&p.year_month, b"1956-11");
/// ```
pub fn date_parts(d: NaiveDate) -> DateParts {
    let (y, m, dd) = (d.year(), d.month(), d.day());
    let full = ymd(y, m, dd);
    let swapped = (dd <= 12 && dd != m).then(|| ymd(y, dd, m));
    let mut year_month = [0u8; 7];
    year_month.copy_from_slice(&full[..7]);
    let mut year = [0u8; 4];
    year.copy_from_slice(&full[..4]);
    DateParts { full, swapped, year_month, year }
}

fn ymd(y: i32, m: u32, d: u32) -> [u8; 10] {
    let y = y.clamp(0, 9999) as u32;
    let digit = |v: u32| b'0' + (v % 10) as u8;
    [
        digit(y / 1000),
        digit(y / 100),
        digit(y / 10),
        digit(y),
        b'-',
        digit(m / 10),
        digit(m),
        b'-',
        digit(d / 10),
        digit(d),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> DateFormats {
        DateFormats::defaults()
    }

    #[test]
    fn bad_formats_are_named() {
        assert_eq!(DateFormats::new(&["%Y-%m-%d".into(), "%Q".into()]).unwrap_err().message(), "%Q");
        // Two-digit years by the documented rule: 61 is 1961 (chrono alone says 2061), 29 is 2029.
        let f = DateFormats::new(&["%d-%b-%y".into()]).unwrap();
        assert_eq!(parse_date("3-Apr-61", &f, 1880, 2100).1.unwrap().to_string(), "1961-04-03");
        assert_eq!(parse_date("03-APR-30", &f, 1880, 2100).1.unwrap().to_string(), "1930-04-03");
        assert_eq!(parse_date("3-Apr-29", &f, 1880, 2100).1.unwrap().to_string(), "2029-04-03");
        assert_eq!(
            parse_date("3-Apr-1961", &DateFormats::new(&["%d-%b-%Y".into()]).unwrap(), 1880, 2100)
                .1
                .unwrap()
                .to_string(),
            "1961-04-03"
        );
    }

    #[test]
    fn formats_and_plausibility() {
        let f = defaults();
        for s in [
            "1956-11-03",
            "03/11/1956",
            "03-11-1956",
            "03.11.1956",
            "19561103",
            "1956-11-03 00:00:00",
            "1956-11-03T00:00:00Z",
            " 03/11/1956 ",
        ] {
            let (o, d) = parse_date(s, &f, DEFAULT_MIN_YEAR, DEFAULT_MAX_YEAR);
            assert_eq!((o, d.map(|d| d.to_string())), (Outcome::Value, Some("1956-11-03".into())), "{s}");
        }
        for s in ["31/02/1956", "1956-13-01", "yesterday", "03/11/56", "1066-10-14", "2999-01-01"] {
            assert_eq!(parse_date(s, &f, DEFAULT_MIN_YEAR, DEFAULT_MAX_YEAR).0, Outcome::Invalid, "{s}");
        }
        assert_eq!(parse_date("  ", &f, DEFAULT_MIN_YEAR, DEFAULT_MAX_YEAR).0, Outcome::Missing);
    }

    #[test]
    fn swapped_only_when_it_is_a_different_date() {
        let p = |y, m, d| date_parts(NaiveDate::from_ymd_opt(y, m, d).unwrap());
        assert_eq!(p(1956, 11, 3).swapped, Some(*b"1956-03-11"));
        assert_eq!(p(1956, 11, 13).swapped, None);
        assert_eq!(p(1956, 5, 5).swapped, None);
        assert_eq!(&p(2001, 1, 9).year, b"2001");
    }
}
