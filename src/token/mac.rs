//! HMAC-SHA256 tokens truncated to 128 bits.
//!
//! A [`TokenMac`] holds an HMAC state already keyed with one subkey; making a token clones that
//! state (no re-keying per value), absorbs the normalised value and truncates the tag. 128 bits
//! keep accidental collisions out of reach even at national scale (birthday bound ~2^64 values)
//! while halving the storage of a full tag.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::token::subkey::Subkey;

/// Token width in bytes (128 bits): the minimum DESIGN.md allows.
pub const TOKEN_BYTES: usize = 16;

/// A public token: the truncated keyed hash of one normalised value.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Token(pub [u8; TOKEN_BYTES]);

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({})", hex::encode(self.0))
    }
}

/// An HMAC-SHA256 state keyed with one subkey. Secret: its `Debug` is redacted and the inner
/// state zeroises on drop (`hmac`'s `zeroize` feature).
#[derive(Clone)]
pub struct TokenMac {
    mac: Hmac<Sha256>,
}

impl TokenMac {
    /// Keys an HMAC state with `subkey`.
    pub fn new(subkey: &Subkey) -> TokenMac {
        TokenMac { mac: keyed(subkey.secret()) }
    }

    /// The token of `value`.
    #[inline]
    pub fn token(&self, value: &[u8]) -> Token {
        let mut out = [0u8; TOKEN_BYTES];
        self.token_into(value, &mut out);
        Token(out)
    }

    /// Writes the token of `value` into `out` (exactly [`TOKEN_BYTES`] long).
    #[inline]
    pub fn token_into(&self, value: &[u8], out: &mut [u8]) {
        let tag = self.full(value);
        out.copy_from_slice(&tag[..TOKEN_BYTES]);
    }

    /// The full 256-bit tag of `value`, for Bloom-filter hashing.
    #[inline]
    pub fn full(&self, value: &[u8]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(value);
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for TokenMac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenMac([redacted])")
    }
}

/// HMAC-SHA256 over any key length (HMAC accepts all lengths, so this cannot fail).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = keyed(key);
    mac.update(message);
    mac.finalize().into_bytes().into()
}

fn keyed(key: &[u8]) -> Hmac<Sha256> {
    // Infallible: HMAC is defined for keys of every length.
    <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::{ProjectKey, Purpose};

    #[test]
    fn token_is_truncated_full_tag() {
        let sk = Subkey::derive(&ProjectKey::from_bytes([4; 32]), &Purpose::NhsNumber);
        let mac = TokenMac::new(&sk);
        let full = mac.full(b"9434765919");
        assert_eq!(mac.token(b"9434765919").0[..], full[..TOKEN_BYTES]);
        assert_eq!(full, hmac_sha256(sk.secret(), b"9434765919"));
        assert_ne!(mac.token(b"9434765919"), mac.token(b"9434765918"));
        assert_eq!(format!("{mac:?}"), "TokenMac([redacted])");
    }
}
