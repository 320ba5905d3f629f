//! Synthetic NHS numbers from the range the NHS reserves for testing.
//!
//! `999 000 0000` to `999 999 9999` is valid under modulus 11 but guaranteed never to be issued
//! to a patient. Of its 1,000,000 nine-digit stems, 909,091 have a valid check digit (the rest
//! give check value 10); less the placeholder, that is the hard ceiling on persons per population, because this
//! generator never falls back to ranges England issues (4xx, 6xx–7xx) or the ranges of Scotland's
//! CHI (010–311) and Northern Ireland's H&C numbers (320–399), which belong to real people. No
//! other range is documented as never issued, so populations beyond the ceiling are refused.
//! `999 999 9999` itself is left out: it passes the check but is a placeholder.
//!
//! The valid numbers are shuffled with the population's seed; person `i` gets the `i`-th, and
//! the spare numbers at the far end serve as the second numbers of duplicate registrations.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::token::nhs_number::check_digit;

/// The three leading digits of the test range.
pub const TEST_RANGE_PREFIX: u32 = 999;
/// Valid NHS numbers in the test range: the most persons a population may have.
pub const TEST_RANGE_CAPACITY: usize = 909_090;

/// The shuffled valid numbers of the test range.
#[derive(Debug)]
pub struct NhsNumbers {
    stems: Vec<u32>,
}

impl NhsNumbers {
    /// All valid test-range numbers, shuffled by `seed`.
    pub fn shuffled(seed: u64) -> NhsNumbers {
        // 999 999 9999 is valid but all one digit: systems use it as a placeholder, so it is skipped.
        let mut stems: Vec<u32> = (0..999_999u32).filter(|&s| check_digit(&digits9(s)).is_some()).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6e68_735f_6e75_6d73);
        stems.shuffle(&mut rng);
        NhsNumbers { stems }
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.stems.len()
    }

    /// Whether there are none (never, for the real range).
    pub fn is_empty(&self) -> bool {
        self.stems.is_empty()
    }

    /// The `i`-th number's ten digits.
    pub fn get(&self, i: usize) -> [u8; 10] {
        let d9 = digits9(self.stems[i]);
        let mut out = [0u8; 10];
        out[..9].copy_from_slice(&d9);
        // Infallible: only stems with a check digit were kept.
        out[9] = b'0' + check_digit(&d9).unwrap_or(0);
        out
    }
}

/// `999` followed by the six digits of `stem`.
fn digits9(stem: u32) -> [u8; 9] {
    let mut d = [b'9'; 9];
    let mut s = stem;
    for i in (3..9).rev() {
        d[i] = b'0' + (s % 10) as u8;
        s /= 10;
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::NhsNumber;

    #[test]
    fn capacity_is_the_count_of_valid_test_range_numbers() {
        let n = NhsNumbers::shuffled(1);
        assert_eq!(n.len(), TEST_RANGE_CAPACITY);
        for i in [0, 1, 1_000, TEST_RANGE_CAPACITY - 1] {
            let d = n.get(i);
            assert_eq!(&d[..3], b"999");
            assert!(NhsNumber::parse(std::str::from_utf8(&d).unwrap()).is_ok());
        }
        assert_ne!(NhsNumbers::shuffled(2).get(0), n.get(0));
    }
}
