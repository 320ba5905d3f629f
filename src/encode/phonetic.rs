//! Phonetic codes for names: the Double Metaphone primary code (`rphonetic`, a port of Apache
//! Commons Codec), so that `SMYTH` and `SMITH`, or `THOMPSON` and `TOMSON`, share a token.
//!
//! The code is the full primary code of the normalised name (see [`crate::encode::name`]), not
//! cut to four characters, so long names keep their distinctions. A name that yields no code (no
//! Latin letters) has no phonetic token. The library's version is pinned in `Cargo.lock`, and the
//! frozen token vectors in `tests/` catch any change in its codes.

use rphonetic::{DoubleMetaphone, Encoder};

/// A reusable Double Metaphone encoder.
#[derive(Debug)]
pub struct Phonetic {
    encoder: DoubleMetaphone,
}

impl Default for Phonetic {
    fn default() -> Self {
        Phonetic { encoder: DoubleMetaphone::new(None) }
    }
}

impl Phonetic {
    /// The phonetic code of an already-normalised name; empty when there is none.
    ///
    /// ```
    /// use pseudolink::encode::phonetic::Phonetic;
    /// let p = Phonetic::default();
    /// assert_eq!(p.code("SMITH"), p.code("SMYTH"));
    /// assert_ne!(p.code("SMITH"), p.code("JONES"));
    /// ```
    pub fn code(&self, normalised: &str) -> String {
        if !normalised.bytes().any(|b| b.is_ascii_uppercase()) {
            return String::new();
        }
        self.encoder.encode(normalised)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sound_alikes_share_codes() {
        let p = Phonetic::default();
        for (a, b) in [
            ("THOMSON", "TOMSON"),
            ("JOHN", "JON"),
            ("MACDONALD", "MCDONALD"),
            ("CATHERINE", "KATHRYN"),
            ("STEPHEN", "STEVEN"),
        ] {
            assert_eq!(p.code(a), p.code(b), "{a} / {b}");
        }
        assert_eq!(p.code("ΑΝΝΑ"), "");
    }
}
