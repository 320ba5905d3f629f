//! The errors real extracts have, applied to a provider's copy of a person's details.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// Changes one digit, or swaps two adjacent differing digits, of an NHS number.
pub fn nhs_typo(rng: &mut ChaCha8Rng, nhs: &mut [u8; 10]) {
    if rng.random_bool(0.5) {
        let i = rng.random_range(0..10);
        let old = nhs[i];
        let mut d = b'0' + rng.random_range(0..9u8);
        if d >= old {
            d += 1;
        }
        nhs[i] = d;
    } else {
        for _ in 0..20 {
            let i = rng.random_range(0..9);
            if nhs[i] != nhs[i + 1] {
                nhs.swap(i, i + 1);
                return;
            }
        }
        nhs[0] = if nhs[0] == b'9' { b'8' } else { b'9' };
    }
}

/// A one-character typing error: substitution, deletion, insertion or adjacent transposition
/// of letters. Names of one letter only gain a letter.
pub fn name_typo(rng: &mut ChaCha8Rng, name: &str) -> String {
    const KEYS: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
    let mut chars: Vec<char> = name.chars().collect();
    let letters: Vec<usize> = (0..chars.len()).filter(|&i| chars[i].is_alphabetic()).collect();
    if letters.len() < 2 {
        chars.push(KEYS[rng.random_range(0..KEYS.len())] as char);
        return chars.into_iter().collect();
    }
    // Never the first letter: initial letters are the most reliably recorded.
    let at = letters[rng.random_range(1..letters.len())];
    let new = KEYS[rng.random_range(0..KEYS.len())] as char;
    let new = if chars[at].is_uppercase() { new.to_ascii_uppercase() } else { new };
    match rng.random_range(0..4u8) {
        0 => chars[at] = if chars[at].eq_ignore_ascii_case(&new) { if new == 'a' { 'e' } else { 'a' } } else { new },
        1 => {
            chars.remove(at);
        }
        2 => chars.insert(at, new),
        _ => {
            let prev = letters.iter().rev().find(|&&i| i < at).copied().unwrap_or(at);
            if prev == letters[0] || chars[prev].to_lowercase().eq(chars[at].to_lowercase()) {
                // Swapping equal letters changes nothing, and the first letter stays: substitute.
                chars[at] = if chars[at].eq_ignore_ascii_case(&'a') { 'e' } else { 'a' };
            } else {
                chars.swap(prev, at);
            }
        }
    }
    chars.into_iter().collect()
}

/// Changes one digit of a formatted date.
pub fn date_digit(rng: &mut ChaCha8Rng, text: &str) -> String {
    let mut b = text.as_bytes().to_vec();
    let digits: Vec<usize> = (0..b.len()).filter(|&i| b[i].is_ascii_digit()).collect();
    if digits.is_empty() {
        return text.to_string();
    }
    let i = digits[rng.random_range(0..digits.len())];
    let old = b[i];
    let mut d = b'0' + rng.random_range(0..9u8);
    if d >= old {
        d += 1;
    }
    b[i] = d;
    String::from_utf8(b).unwrap_or_else(|_| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn typos_change_exactly_a_little() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..200 {
            let mut n = *b"9990001238";
            nhs_typo(&mut rng, &mut n);
            assert_ne!(&n, b"9990001238");
            let diff = n.iter().zip(b"9990001238").filter(|(a, b)| a != b).count();
            assert!(diff == 1 || diff == 2);
            let t = name_typo(&mut rng, "Smith");
            assert_ne!(t, "Smith");
            assert!((4..=6).contains(&t.chars().count()));
            assert!(t.starts_with('S'));
            let d = date_digit(&mut rng, "1956-11-03");
            assert_eq!(d.len(), 10);
            assert_ne!(d, "1956-11-03");
        }
    }
}
