//! UK postcodes: normalisation and the geographic hierarchy the linker grades on.
//!
//! A postcode is upper-cased and stripped of all blanks, then split into the inward code (the
//! last three characters: a digit and two letters) and the outward code (two to four characters
//! of the forms `A9`, `A99`, `AA9`, `AA99`, `A9A`, `AA9A`). `GIR 0AA` is accepted. The tokenised
//! parts are the full postcode (`SW1A 1AA`), the sector (`SW1A 1`), the district (`SW1A`) and the
//! area (`SW`). An outward code on its own (a partial postcode, as some extracts hold) gives the
//! district and area only. Anything else is invalid.

use crate::encode::Outcome;

/// The parts of a normalised postcode, as byte ranges of the canonical text `OUTWARD INWARD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostcodeParts {
    /// Length of the full canonical text, or 0 for a partial (outward-only) postcode.
    pub full_len: usize,
    /// Length of the sector prefix (`SW1A 1`), or 0 for a partial postcode.
    pub sector_len: usize,
    /// Length of the district (outward code).
    pub district_len: usize,
    /// Length of the area (leading letters).
    pub area_len: usize,
}

/// Normalises a postcode into `out` (cleared first) as `OUTWARD INWARD` (or `OUTWARD` alone),
/// returning its parts.
///
/// ```
/// use pseudolink::encode::{postcode::normalise_postcode, Outcome};
/// let mut out = String::new();
/// let (o, parts) = normalise_postcode(" sw1a1aa ", &mut out);
/// assert_eq!(o, Outcome::Value);
/// assert_eq!(out, "SW1A 1AA");
/// let p = parts.unwrap();
/// assert_eq!((&out[..p.sector_len], &out[..p.district_len], &out[..p.area_len]), ("SW1A 1", "SW1A", "SW"));
/// ```
pub fn normalise_postcode(raw: &str, out: &mut String) -> (Outcome, Option<PostcodeParts>) {
    out.clear();
    let mut compact = [0u8; 8];
    let mut n = 0usize;
    for c in raw.chars() {
        if c.is_whitespace() {
            continue;
        }
        if !c.is_ascii_alphanumeric() || n == compact.len() {
            return (if raw.trim().is_empty() { Outcome::Missing } else { Outcome::Invalid }, None);
        }
        compact[n] = c.to_ascii_uppercase() as u8;
        n += 1;
    }
    if n == 0 {
        return (Outcome::Missing, None);
    }
    let s = &compact[..n];
    if s == b"GIR0AA" {
        out.push_str("GIR 0AA");
        return (Outcome::Value, Some(PostcodeParts { full_len: 7, sector_len: 5, district_len: 3, area_len: 2 }));
    }
    // Full postcode: outward (2..=4) + inward (3).
    if (5..=7).contains(&n) {
        let (outward, inward) = s.split_at(n - 3);
        if is_inward(inward) {
            if let Some(area_len) = outward_area(outward) {
                push_ascii(out, outward);
                out.push(' ');
                push_ascii(out, inward);
                let d = outward.len();
                return (
                    Outcome::Value,
                    Some(PostcodeParts { full_len: d + 4, sector_len: d + 2, district_len: d, area_len }),
                );
            }
        }
    }
    if (2..=4).contains(&n) {
        if let Some(area_len) = outward_area(s) {
            push_ascii(out, s);
            return (Outcome::Value, Some(PostcodeParts { full_len: 0, sector_len: 0, district_len: n, area_len }));
        }
    }
    (Outcome::Invalid, None)
}

fn push_ascii(out: &mut String, bytes: &[u8]) {
    out.extend(bytes.iter().map(|&b| b as char));
}

fn is_inward(b: &[u8]) -> bool {
    b.len() == 3 && b[0].is_ascii_digit() && b[1].is_ascii_uppercase() && b[2].is_ascii_uppercase()
}

/// Checks an outward code's shape and returns the length of its area (1 or 2 letters).
fn outward_area(b: &[u8]) -> Option<usize> {
    let letters = b.iter().take_while(|c| c.is_ascii_uppercase()).count();
    if !(1..=2).contains(&letters) {
        return None;
    }
    let rest = &b[letters..];
    let ok = match rest {
        [d] => d.is_ascii_digit(),
        [d, e] => d.is_ascii_digit() && (e.is_ascii_digit() || e.is_ascii_uppercase()),
        _ => false,
    };
    ok.then_some(letters)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> (Outcome, String) {
        let mut out = String::new();
        let (o, _) = normalise_postcode(s, &mut out);
        (o, out)
    }

    #[test]
    fn spacing_and_case() {
        for (input, want) in [
            ("SW1A 1AA", "SW1A 1AA"),
            ("sw1a1aa", "SW1A 1AA"),
            ("  SW1A   1AA ", "SW1A 1AA"),
            ("M1 1AE", "M1 1AE"),
            ("B33 8TH", "B33 8TH"),
            ("CR2 6XH", "CR2 6XH"),
            ("DN55 1PT", "DN55 1PT"),
            ("W1A 0AX", "W1A 0AX"),
            ("EC1A 1BB", "EC1A 1BB"),
            ("gir0aa", "GIR 0AA"),
            ("LS1", "LS1"),
            ("ls16", "LS16"),
        ] {
            assert_eq!(norm(input), (Outcome::Value, want.to_string()), "{input}");
        }
        for bad in ["12345", "SW1A 1A", "SW1A-1AA", "ABCDEFGH", "Q", "1AA"] {
            assert_eq!(norm(bad).0, Outcome::Invalid, "{bad}");
        }
        assert_eq!(norm("  ").0, Outcome::Missing);
    }

    #[test]
    fn parts() {
        let mut out = String::new();
        let p = normalise_postcode("M1 1AE", &mut out).1.unwrap();
        assert_eq!(
            (&out[..p.full_len], &out[..p.sector_len], &out[..p.district_len], &out[..p.area_len]),
            ("M1 1AE", "M1 1", "M1", "M")
        );
        let p = normalise_postcode("LS16", &mut out).1.unwrap();
        assert_eq!((p.full_len, p.sector_len, &out[..p.district_len], &out[..p.area_len]), (0, 0, "LS16", "LS"));
    }
}
