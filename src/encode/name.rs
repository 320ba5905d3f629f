//! Person names: folding, titles, punctuation and multi-part names.
//!
//! Rules, in order:
//! 1. Unicode compatibility decomposition (NFKD) and removal of combining marks, so `Zoë`,
//!    `ZOË` and `Zoe` agree; letters with no decomposition are mapped (`Ø`→`O`, `Æ`→`AE`, `ß`→`SS`,
//!    `Ł`→`L`, `Đ`→`D`, `Þ`→`TH`, `Œ`→`OE`).
//! 2. Upper case.
//! 3. Apostrophes vanish (`O'Brien` → `OBRIEN`); hyphens, dots, commas and other punctuation
//!    split the name into parts; digits and symbols are dropped.
//! 4. Leading titles (`MR`, `MRS`, `MS`, `MISS`, `MX`, `DR`, `PROF`, `REV`, `SIR`, `DAME`, `LORD`,
//!    `LADY`, `FR`) and trailing suffixes (`JR`, `JNR`, `SR`, `SNR`) are removed when at least
//!    one other part remains.
//! 5. The remaining parts are joined without separators: `Smith-Jones`, `Smith Jones` and
//!    `SMITHJONES` agree, and so do `Mc Donald` and `McDonald`. The Bloom-filter encoding keeps
//!    partial agreement between `Smith-Jones` and `Smith` visible to the linker.
//!
//! A name with no letters left is missing if it was blank and invalid otherwise.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::encode::Outcome;

const TITLES: &[&str] = &["MR", "MRS", "MS", "MISS", "MX", "DR", "PROF", "REV", "SIR", "DAME", "LORD", "LADY", "FR"];
const SUFFIXES: &[&str] = &["JR", "JNR", "SR", "SNR"];

/// Normalises a person name into `out` (cleared first). `parts` is scratch space for the
/// part boundaries, reused between calls.
///
/// ```
/// use pseudolink::encode::{name::normalise_name, Outcome};
/// let (mut out, mut parts) = (String::new(), Vec::new());
/// assert_eq!(normalise_name("  Mrs Zoë  O'Brien-Smith ", &mut out, &mut parts), Outcome::Value);
/// assert_eq!(out, "ZOEOBRIENSMITH");
/// ```
pub fn normalise_name(raw: &str, out: &mut String, parts: &mut Vec<(usize, usize)>) -> Outcome {
    out.clear();
    parts.clear();
    if raw.trim().is_empty() {
        return Outcome::Missing;
    }
    // Pass 1: fold into `out` with single spaces between parts.
    let mut start = 0usize;
    let push_break = |out: &mut String, parts: &mut Vec<(usize, usize)>, start: &mut usize| {
        if out.len() > *start {
            parts.push((*start, out.len()));
        }
        *start = out.len();
    };
    let mut fold = |c: char, out: &mut String, parts: &mut Vec<(usize, usize)>| match c {
        '\'' | '\u{2019}' | '\u{2018}' | '`' | '\u{00B4}' => {}
        'a'..='z' => out.push(c.to_ascii_uppercase()),
        'A'..='Z' => out.push(c),
        'ø' | 'Ø' => out.push('O'),
        'æ' | 'Æ' => out.push_str("AE"),
        'œ' | 'Œ' => out.push_str("OE"),
        'ß' | 'ẞ' => out.push_str("SS"),
        'ł' | 'Ł' => out.push('L'),
        'đ' | 'Đ' | 'ð' | 'Ð' => out.push('D'),
        'þ' | 'Þ' => out.push_str("TH"),
        'ı' => out.push('I'),
        c if c.is_alphabetic() => out.extend(c.to_uppercase()),
        c if c.is_numeric() => {}
        _ => push_break(out, parts, &mut start),
    };
    if raw.is_ascii() {
        // Most names: no decomposition needed, and the byte loop is several times faster.
        for b in raw.bytes() {
            fold(char::from(b), out, parts);
        }
    } else {
        for c in raw.nfkd() {
            if !is_combining_mark(c) {
                fold(c, out, parts);
            }
        }
    }
    push_break(out, parts, &mut start);
    if parts.is_empty() {
        return Outcome::Invalid;
    }
    // Pass 2: drop titles and suffixes, then join the kept parts in place.
    let mut first = 0usize;
    while parts.len() - first > 1 && TITLES.contains(&&out[parts[first].0..parts[first].1]) {
        first += 1;
    }
    let mut last = parts.len();
    while last - first > 1 && SUFFIXES.contains(&&out[parts[last - 1].0..parts[last - 1].1]) {
        last -= 1;
    }
    compact_parts(out, &parts[first..last]);
    Outcome::Value
}

/// Moves the given byte ranges of `s` to its front, in order, and drops the rest. Each range
/// moves left or stays, so copying front to back never overwrites a range not yet moved.
fn compact_parts(s: &mut String, ranges: &[(usize, usize)]) {
    let mut v = std::mem::take(s).into_bytes();
    let mut len = 0usize;
    for &(a, b) in ranges {
        v.copy_within(a..b, len);
        len += b - a;
    }
    v.truncate(len);
    // The ranges were cut at char boundaries of valid UTF-8, so the result is valid UTF-8.
    *s = String::from_utf8(v).unwrap_or_default();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> (Outcome, String) {
        let (mut out, mut parts) = (String::new(), Vec::new());
        let o = normalise_name(s, &mut out, &mut parts);
        (o, out)
    }

    #[test]
    fn normalisation_cases() {
        let cases = [
            ("O'Brien", "OBRIEN"),
            ("O’Brien", "OBRIEN"),
            ("Smith-Jones", "SMITHJONES"),
            ("smith jones", "SMITHJONES"),
            ("  SMITH   JONES ", "SMITHJONES"),
            ("Zoë", "ZOE"),
            ("ZOË", "ZOE"),
            ("Siân", "SIAN"),
            ("José", "JOSE"),
            ("Søren", "SOREN"),
            ("Strauß", "STRAUSS"),
            ("Mr John", "JOHN"),
            ("Dr. Amy", "AMY"),
            ("Mrs", "MRS"),
            ("Mc Donald", "MCDONALD"),
            ("St. John", "STJOHN"),
            ("Jones Jr", "JONES"),
            ("smith2", "SMITH"),
            ("Łukasz", "LUKASZ"),
        ];
        for (i, (input, want)) in cases.iter().enumerate() {
            assert_eq!(norm(input), (Outcome::Value, want.to_string()), "case {i}: {input}");
        }
        assert_eq!(norm("").0, Outcome::Missing);
        assert_eq!(norm("  ").0, Outcome::Missing);
        assert_eq!(norm("123").0, Outcome::Invalid);
        assert_eq!(norm("--").0, Outcome::Invalid);
    }

    #[test]
    fn idempotent_on_examples() {
        for s in ["O'Brien-Smith", "Dr Zoë Ann", "ÆTHELRED", "mary ann"] {
            let once = norm(s).1;
            assert_eq!(norm(&once).1, once);
        }
    }
}
