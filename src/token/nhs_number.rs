//! NHS numbers: parsing, the modulus-11 check digit, and a status for every record.
//!
//! An [`NhsNumber`] exists only if it passed every check (parse, don't validate). Anything else
//! becomes an [`NhsNumberStatus`] that the quality report counts; the record still flows, with
//! no NHS-number token.
//!
//! The check digit (NHS Data Dictionary, "NHS Number"): multiply the first nine digits by 10, 9,
//! … 2, sum, take the remainder modulo 11 and subtract it from 11. A result of 11 means check
//! digit 0; a result of 10 means no valid number has these nine digits.

use std::fmt;

/// Why a record has, or has no, usable NHS number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NhsNumberStatus {
    /// Ten digits with a correct check digit, not a placeholder.
    Valid,
    /// Empty or blank.
    Missing,
    /// Not ten digits after removing spaces and hyphens.
    BadFormat,
    /// Ten digits whose check digit is wrong (or whose first nine digits give check value 10).
    BadCheckDigit,
    /// A number systems use to mean "unknown", such as 0000000000 or 9999999999.
    Placeholder,
    /// A number in scientific notation (`9.43477E+09`): a spreadsheet showed the column as a
    /// number and saved what it showed; the digits are lost.
    ScientificNotation,
    /// Nine digits that make a valid NHS number with a `0` in front: the column was read as a
    /// number somewhere and lost its leading zero. Counted, not repaired: a guess is not a number.
    LeadingZeroLost,
}

impl NhsNumberStatus {
    /// Every status, in report order.
    pub const ALL: [NhsNumberStatus; 7] = [
        NhsNumberStatus::Valid,
        NhsNumberStatus::Missing,
        NhsNumberStatus::BadFormat,
        NhsNumberStatus::BadCheckDigit,
        NhsNumberStatus::Placeholder,
        NhsNumberStatus::ScientificNotation,
        NhsNumberStatus::LeadingZeroLost,
    ];

    /// The status as written in outputs and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            NhsNumberStatus::Valid => "valid",
            NhsNumberStatus::Missing => "missing",
            NhsNumberStatus::BadFormat => "bad_format",
            NhsNumberStatus::BadCheckDigit => "bad_check_digit",
            NhsNumberStatus::Placeholder => "placeholder",
            NhsNumberStatus::ScientificNotation => "scientific_notation",
            NhsNumberStatus::LeadingZeroLost => "leading_zero_lost",
        }
    }

    /// Parses [`NhsNumberStatus::as_str`]'s form.
    pub fn from_str_opt(s: &str) -> Option<NhsNumberStatus> {
        NhsNumberStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl fmt::Display for NhsNumberStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A valid NHS number: ten ASCII digits with a correct check digit. Its `Debug` is redacted:
/// an NHS number is an identifier.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct NhsNumber([u8; 10]);

impl NhsNumber {
    /// Parses an NHS number as extracts hold it: surrounding blanks, and spaces or hyphens
    /// between digits ("943 476 5919", "943-476-5919"), are allowed.
    ///
    /// ```
    /// use pseudolink::token::{NhsNumber, NhsNumberStatus};
    /// assert!(NhsNumber::parse("943 476 5919").is_ok()); // the NHS's published example
    /// assert_eq!(NhsNumber::parse("9434765918"), Err(NhsNumberStatus::BadCheckDigit));
    /// assert_eq!(NhsNumber::parse(" "), Err(NhsNumberStatus::Missing));
    /// ```
    pub fn parse(text: &str) -> Result<NhsNumber, NhsNumberStatus> {
        let mut digits = [0u8; 10];
        let mut n = 0usize;
        let mut any = false;
        for b in text.bytes() {
            match b {
                b'0'..=b'9' => {
                    if n == 10 {
                        return Err(NhsNumberStatus::BadFormat);
                    }
                    digits[n] = b;
                    n += 1;
                    any = true;
                }
                b' ' | b'-' | b'\t' => {}
                _ if is_scientific(text) => return Err(NhsNumberStatus::ScientificNotation),
                _ => return Err(NhsNumberStatus::BadFormat),
            }
        }
        if !any {
            return if text.trim().is_empty() {
                Err(NhsNumberStatus::Missing)
            } else {
                Err(NhsNumberStatus::BadFormat)
            };
        }
        if n == 9 {
            let mut padded = [b'0'; 10];
            padded[1..].copy_from_slice(&digits[..9]);
            if check_digit(&padded) == Some(padded[9] - b'0') && !padded.iter().all(|&d| d == b'0') {
                return Err(NhsNumberStatus::LeadingZeroLost);
            }
        }
        if n != 10 {
            return Err(NhsNumberStatus::BadFormat);
        }
        if check_digit(&digits) != Some(digits[9] - b'0') {
            return Err(NhsNumberStatus::BadCheckDigit);
        }
        if digits.iter().all(|&d| d == digits[0]) {
            return Err(NhsNumberStatus::Placeholder);
        }
        Ok(NhsNumber(digits))
    }

    /// The ten digits, the input to the NHS-number token.
    pub fn digits(&self) -> &[u8; 10] {
        &self.0
    }
}

/// Whether `text` is a number in scientific notation (`9.43477E+09`, `9.434765919e9`).
fn is_scientific(text: &str) -> bool {
    let t = text.trim();
    let Some((mantissa, exponent)) = t.split_once(['e', 'E']) else { return false };
    let exponent = exponent.strip_prefix('+').unwrap_or(exponent);
    !mantissa.is_empty()
        && mantissa.chars().all(|c| c.is_ascii_digit() || c == '.')
        && mantissa.chars().filter(|&c| c == '.').count() <= 1
        && !exponent.is_empty()
        && exponent.chars().all(|c| c.is_ascii_digit())
}

impl fmt::Debug for NhsNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NhsNumber([redacted])")
    }
}

/// Whether `text` looks like it holds an NHS number. After folding full-width and other
/// compatibility digits to ASCII: all its digits together (when they number 10 to 12), or any
/// maximal run of digits with its leading zeros dropped (10 to 12 long; longer, its first or last
/// ten), hold ten consecutive digits that start with 3 to 9, as issued numbers do, and make a
/// valid, non-placeholder NHS number. Digits of other scripts (Arabic-Indic, Devanagari …), which cannot be read here, count
/// as suspect too. Catches `9434765919.0`, `09434765919`, `NHS9434765919`, `9434765919/01`,
/// `RX1-9434765919`, `ENC-9434765919-001`, `A9434765919B0001`, `00009434765919`. Ten digits that
/// pass the check are indistinguishable from an NHS number: a provider whose own ids are such
/// numbers pseudonymises them (the default) or says so explicitly.
pub fn looks_like_nhs_number(text: &str) -> bool {
    // Kept ids are checked on every row: ASCII ones (nearly all) without allocating.
    if text.is_ascii() {
        return digits_hold_nhs_number(text.as_bytes());
    }
    use unicode_normalization::UnicodeNormalization;
    let folded: String = text.nfkc().collect();
    folded.chars().any(|c| c.is_numeric() && !c.is_ascii_digit()) || digits_hold_nhs_number(folded.as_bytes())
}

/// The digit rules of [`looks_like_nhs_number`] on UTF-8 bytes (only ASCII digits count).
fn digits_hold_nhs_number(text: &[u8]) -> bool {
    let valid =
        |w: &[u8]| (b'3'..=b'9').contains(&w[0]) && std::str::from_utf8(w).is_ok_and(|s| NhsNumber::parse(s).is_ok());
    let any_window = |d: &[u8]| (10..=12).contains(&d.len()) && d.windows(10).any(valid);
    // A longer run is judged by its first and last ten digits: a number with a sequence or a date
    // appended or prepended (`9434765919001`, `202405019434765919`).
    let ends = |d: &[u8]| d.len() > 12 && (valid(&d[..10]) || valid(&d[d.len() - 10..]));
    let mut all = [0u8; 12];
    let mut n = 0;
    for &c in text.iter().filter(|c| c.is_ascii_digit()) {
        if n < all.len() {
            all[n] = c;
        }
        n += 1;
    }
    (n <= all.len() && any_window(&all[..n]))
        || text.split(|c| !c.is_ascii_digit()).any(|run| {
            let start = run.iter().position(|&c| c != b'0').unwrap_or(run.len());
            let run = &run[start..];
            any_window(run) || ends(run)
        })
}

/// The modulus-11 check digit for the first nine ASCII digits of `digits`, or `None` when the
/// check value is 10 (no valid NHS number starts with these nine digits).
pub fn check_digit(digits: &[u8]) -> Option<u8> {
    let sum: u32 = digits[..9].iter().zip((2..=10).rev()).map(|(&d, w)| u32::from(d - b'0') * w).sum();
    match 11 - sum % 11 {
        11 => Some(0),
        10 => None,
        c => Some(c as u8),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn spreadsheet_damage_has_statuses_of_its_own() {
        for v in ["9.43477E+09", "9.434765919e9", " 9.43E+09 "] {
            assert_eq!(NhsNumber::parse(v), Err(NhsNumberStatus::ScientificNotation), "{v}");
        }
        // 0123456789 is valid; without its leading zero it is nine digits.
        assert!(NhsNumber::parse("0123456789").is_ok());
        assert_eq!(NhsNumber::parse("123456789"), Err(NhsNumberStatus::LeadingZeroLost));
        // Nine digits that make no valid number with a zero in front stay a bad format.
        assert_eq!(NhsNumber::parse("123456788"), Err(NhsNumberStatus::BadFormat));
        assert_eq!(NhsNumber::parse("9.4E+09x"), Err(NhsNumberStatus::BadFormat));
        assert_eq!(NhsNumber::parse("E9"), Err(NhsNumberStatus::BadFormat));
    }

    use super::*;

    #[test]
    fn nhs_numbers_are_recognised_in_the_shapes_systems_and_excel_give_them() {
        for id in [
            "9434765919",
            "943 476 5919",
            "9434765919.0",
            "09434765919",
            "NHS9434765919",
            "9434765919/01",
            "RX1-9434765919",
            "ENC-9434765919-001",
            "RX1-20240501-9434765919",
            "9434765919-2024-05",
            "A9434765919B0001",
            "00009434765919",
            "9434765919_4010232137",
            "9434765919001",
            "943476591920240501",
            "ENC9434765919001",
            "RX1-94347659190001",
            "\u{669}\u{664}\u{663}\u{664}\u{667}\u{666}\u{665}\u{669}\u{661}\u{669}",
            "\u{ff19}\u{ff14}\u{ff13}\u{ff14}\u{ff17}\u{ff16}\u{ff15}\u{ff19}\u{ff11}\u{ff19}",
        ] {
            assert!(looks_like_nhs_number(id), "{id}");
        }
        for id in ["E0000000001", "A0418174705", "9434765918", "20240101123456", "R1", "9999999999"] {
            assert!(!looks_like_nhs_number(id), "{id}");
        }
    }

    #[test]
    fn debug_shows_no_digits() {
        let n = NhsNumber::parse("943 476 5919").unwrap();
        assert_eq!(format!("{n:?}"), "NhsNumber([redacted])");
    }

    #[test]
    fn published_examples() {
        // The worked example of the algorithm (sum 299, remainder 2, check digit 9).
        // "987 654 4321", often quoted as the NHS number *format* example, fails the check
        // (sum 339, remainder 9, check digit 2): a reminder that examples of format are not
        // examples of valid numbers.
        assert_eq!(NhsNumber::parse("987 654 4321"), Err(NhsNumberStatus::BadCheckDigit));
        assert!(NhsNumber::parse("9876544322").is_ok());
        assert!(NhsNumber::parse("943 476 5919").is_ok());
        assert_eq!(check_digit(b"943476591"), Some(9));
    }

    #[test]
    fn check_value_eleven_means_zero_and_ten_means_invalid() {
        // 999 000 001: weights give sum 10*9+9*9+8*9+1*2 = 245; 245 % 11 = 3 → check digit 8.
        assert_eq!(check_digit(b"999000001"), Some(8));
        // Remainder 0 gives check value 11, written as check digit 0.
        let zero =
            (0..1_000u32).map(|i| format!("999000{i:03}")).find(|s| check_digit(s.as_bytes()) == Some(0)).unwrap();
        let sum: u32 = zero.bytes().zip((2..=10).rev()).map(|(d, w)| u32::from(d - b'0') * w).sum();
        assert_eq!(sum % 11, 0);
        assert!(NhsNumber::parse(&format!("{zero}0")).is_ok());
        let ten = (0..1_000u32).map(|i| format!("999000{i:03}")).find(|s| check_digit(s.as_bytes()).is_none()).unwrap();
        let sum: u32 = ten.bytes().zip((2..=10).rev()).map(|(d, w)| u32::from(d - b'0') * w).sum();
        assert_eq!(sum % 11, 1, "remainder 1 gives check value 10");
        for last in 0..10 {
            assert_eq!(NhsNumber::parse(&format!("{ten}{last}")), Err(NhsNumberStatus::BadCheckDigit));
        }
    }

    #[test]
    fn statuses() {
        use NhsNumberStatus::*;
        let cases = [
            ("", Missing),
            ("   ", Missing),
            ("943476591", BadFormat),
            ("94347659199", BadFormat),
            ("943476591X", BadFormat),
            ("N/A", BadFormat),
            ("9434765918", BadCheckDigit),
            ("0000000000", Placeholder),
            ("9999999999", Placeholder),
            ("1111111111", Placeholder),
            ("2222222222", Placeholder),
        ];
        for (i, (text, want)) in cases.iter().enumerate() {
            assert_eq!(NhsNumber::parse(text).map(|_| ()), Err(*want), "case {i}");
        }
        // Every all-same-digit number passes modulus 11 (the sum is 54d ≡ -d, so the check digit
        // is d): only the placeholder rule keeps them out.
        for d in 0..10u8 {
            let s: String = std::iter::repeat_n(char::from(b'0' + d), 10).collect();
            assert!(NhsNumber::parse(&s).is_err(), "{s}");
        }
    }

    #[test]
    fn debug_is_redacted() {
        let n = NhsNumber::parse("9434765919").unwrap();
        assert_eq!(format!("{n:?}"), "NhsNumber([redacted])");
    }
}
