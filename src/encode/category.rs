//! Sex and other short categories, and generic identifiers and strings.
//!
//! Sex accepts the NHS Data Dictionary codes (`1` male, `2` female, `9` indeterminate / not
//! specified, `0` not known) and the usual words and letters. `0`, `U`, `UNKNOWN` and `NOT KNOWN`
//! are missing; anything else unrecognised is invalid. The normalised value is `M`, `F` or `I`.
//!
//! Generic identifiers are trimmed, upper-cased and stripped of blanks, hyphens and slashes
//! (`ab-123 45` → `AB12345`). Generic strings are folded like names but keep digits and single
//! spaces between words.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::encode::Outcome;

/// Normalises a sex code to `"M"`, `"F"` or `"I"`.
///
/// ```
/// use pseudolink::encode::{category::normalise_sex, Outcome};
/// assert_eq!(normalise_sex(" female "), (Outcome::Value, Some("F")));
/// assert_eq!(normalise_sex("1"), (Outcome::Value, Some("M")));
/// assert_eq!(normalise_sex("0"), (Outcome::Missing, None));
/// ```
pub fn normalise_sex(raw: &str) -> (Outcome, Option<&'static str>) {
    let t = raw.trim();
    if t.is_empty() {
        return (Outcome::Missing, None);
    }
    let mut buf = [0u8; 16];
    if t.len() > buf.len() {
        return (Outcome::Invalid, None);
    }
    for (o, b) in buf.iter_mut().zip(t.bytes()) {
        *o = b.to_ascii_uppercase();
    }
    match &buf[..t.len()] {
        b"M" | b"MALE" | b"1" => (Outcome::Value, Some("M")),
        b"F" | b"FEMALE" | b"2" => (Outcome::Value, Some("F")),
        b"I" | b"X" | b"9" | b"INDETERMINATE" | b"OTHER" => (Outcome::Value, Some("I")),
        b"0" | b"U" | b"UNKNOWN" | b"NOT KNOWN" | b"NK" => (Outcome::Missing, None),
        _ => (Outcome::Invalid, None),
    }
}

/// Normalises a generic identifier into `out`.
///
/// ```
/// use pseudolink::encode::{category::normalise_identifier, Outcome};
/// let mut out = String::new();
/// assert_eq!(normalise_identifier(" ab-123 45/x ", &mut out), Outcome::Value);
/// assert_eq!(out, "AB12345X");
/// ```
pub fn normalise_identifier(raw: &str, out: &mut String) -> Outcome {
    out.clear();
    if raw.trim().is_empty() {
        return Outcome::Missing;
    }
    for c in raw.chars() {
        match c {
            c if c.is_whitespace() => {}
            '-' | '/' | '.' => {}
            c => out.extend(c.to_uppercase()),
        }
    }
    if out.is_empty() { Outcome::Invalid } else { Outcome::Value }
}

/// Normalises a generic string into `out`: accents folded, upper case, punctuation dropped,
/// words separated by single spaces.
///
/// ```
/// use pseudolink::encode::{category::normalise_text, Outcome};
/// let mut out = String::new();
/// assert_eq!(normalise_text("  Flat 2,  Rosé Court ", &mut out), Outcome::Value);
/// assert_eq!(out, "FLAT 2 ROSE COURT");
/// ```
pub fn normalise_text(raw: &str, out: &mut String) -> Outcome {
    out.clear();
    if raw.trim().is_empty() {
        return Outcome::Missing;
    }
    let mut pending_space = false;
    for c in raw.nfkd() {
        if is_combining_mark(c) {
            continue;
        }
        if c.is_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.extend(c.to_uppercase());
        } else if c == '\'' || c == '\u{2019}' {
        } else {
            pending_space = true;
        }
    }
    if out.is_empty() { Outcome::Invalid } else { Outcome::Value }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sex_codes() {
        for (s, want) in [("m", Some("M")), ("2", Some("F")), ("Indeterminate", Some("I")), ("9", Some("I"))] {
            assert_eq!(normalise_sex(s).1, want, "{s}");
        }
        assert_eq!(normalise_sex("unknown").0, Outcome::Missing);
        assert_eq!(normalise_sex("Z").0, Outcome::Invalid);
        assert_eq!(normalise_sex("a very long value here").0, Outcome::Invalid);
    }
}
