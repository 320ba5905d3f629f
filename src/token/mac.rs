//! HMAC-SHA256 tokens truncated to 128 bits.
//!
//! A [`TokenMac`] holds an HMAC state already keyed with one subkey; making a token clones that
//! state (no re-keying per value), absorbs the normalised value and truncates the tag. 128 bits
//! keep accidental collisions out of reach even at national scale (birthday bound ~2^64 values)
//! while halving the storage of a full tag.

use std::fmt;

use sha2::block_api::compress256;
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

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

/// HMAC-SHA256 keyed with one subkey, hand-written over the SHA-256 compression function.
///
/// Why not the `hmac` crate: a token needs two compressions (message block, outer block), but
/// cloning a keyed `Hmac` state and finalising it costs as much again in copies and padding
/// bookkeeping; the profile of `tokenise` showed it. Here the states after absorbing
/// `key ⊕ ipad` and `key ⊕ opad` are kept (RFC 2104's precomputation), and a short message is
/// padded into a stack block. RFC 4231's vectors and a test against the `hmac` crate at every
/// padding boundary check it. Secret: not `Clone`, `Debug` redacted, states zeroised on drop.
pub struct TokenMac {
    inner: [u32; 8],
    outer: [u32; 8],
}

/// SHA-256 initial hash value (FIPS 180-4, 5.3.3).
const H0: [u32; 8] =
    [0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19];

impl TokenMac {
    /// Keys an HMAC state with `subkey`.
    pub fn new(subkey: &Subkey) -> TokenMac {
        TokenMac::from_key(subkey.secret())
    }

    /// Keys an HMAC state with any key (keys longer than a block are hashed first, RFC 2104).
    pub fn from_key(key: &[u8]) -> TokenMac {
        let mut block = [0u8; 64];
        if key.len() > 64 {
            block[..32].copy_from_slice(&Sha256::digest(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let mut pad = [0u8; 64];
        let mut inner = H0;
        for (p, k) in pad.iter_mut().zip(&block) {
            *p = k ^ 0x36;
        }
        compress256(&mut inner, &[pad]);
        let mut outer = H0;
        for (p, k) in pad.iter_mut().zip(&block) {
            *p = k ^ 0x5c;
        }
        compress256(&mut outer, &[pad]);
        block.zeroize();
        pad.zeroize();
        TokenMac { inner, outer }
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

    /// The full 256-bit tag of `value`.
    #[inline]
    pub fn full(&self, value: &[u8]) -> [u8; 32] {
        // Inner hash: H((K ⊕ ipad) ‖ value), the key block already absorbed.
        let mut state = self.inner;
        let whole = value.len() / 64 * 64;
        for chunk in value[..whole].chunks_exact(64) {
            // Infallible: chunks_exact yields 64-byte slices.
            compress256(&mut state, &[chunk.try_into().expect("64-byte chunk")]);
        }
        let rest = &value[whole..];
        let bits = ((64 + value.len()) as u64) * 8;
        let mut tail = [[0u8; 64]; 2];
        let flat = tail.as_flattened_mut();
        flat[..rest.len()].copy_from_slice(rest);
        flat[rest.len()] = 0x80;
        let blocks = if rest.len() < 56 { 1 } else { 2 };
        flat[blocks * 64 - 8..blocks * 64].copy_from_slice(&bits.to_be_bytes());
        compress256(&mut state, &tail[..blocks]);
        // The tail held plaintext: wipe it.
        tail.as_flattened_mut().zeroize();

        // Outer hash: H((K ⊕ opad) ‖ inner digest).
        let mut block = [0u8; 64];
        for (o, w) in block[..32].chunks_exact_mut(4).zip(state) {
            o.copy_from_slice(&w.to_be_bytes());
        }
        block[32] = 0x80;
        block[56..].copy_from_slice(&((64u64 + 32) * 8).to_be_bytes());
        let mut outer = self.outer;
        compress256(&mut outer, &[block]);
        let mut tag = [0u8; 32];
        for (o, w) in tag.chunks_exact_mut(4).zip(outer) {
            o.copy_from_slice(&w.to_be_bytes());
        }
        tag
    }
}

impl Drop for TokenMac {
    fn drop(&mut self) {
        self.inner.zeroize();
        self.outer.zeroize();
    }
}

impl fmt::Debug for TokenMac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenMac([redacted])")
    }
}

/// HMAC-SHA256 of `message` under `key` (any length), through [`TokenMac`].
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    TokenMac::from_key(key).full(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, KeyInit, Mac};

    #[test]
    fn debug_shows_no_key_material() {
        let mac = TokenMac::from_key(&[0xAB; 32]);
        assert_eq!(format!("{mac:?}"), "TokenMac([redacted])");
        assert_eq!(format!("{mac:#?}"), "TokenMac([redacted])");
    }

    fn reference(key: &[u8], msg: &[u8]) -> [u8; 32] {
        let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
        m.update(msg);
        m.finalize().into_bytes().into()
    }

    #[test]
    fn agrees_with_the_hmac_crate_at_every_padding_boundary() {
        for key_len in [0usize, 1, 32, 63, 64, 65, 200] {
            let key: Vec<u8> = (0..key_len).map(|i| (i * 7) as u8).collect();
            let mac = TokenMac::from_key(&key);
            for len in 0..200usize {
                let msg: Vec<u8> = (0..len).map(|i| (i * 13 + 1) as u8).collect();
                assert_eq!(mac.full(&msg), reference(&key, &msg), "key {key_len} bytes, message {len} bytes");
            }
        }
    }
    use crate::token::{ProjectKey, Purpose};

    #[test]
    fn token_is_truncated_full_tag() {
        let sk = Subkey::derive(&ProjectKey::from_bytes([4; 32]), &Purpose::NhsNumber);
        let mac = TokenMac::new(&sk);
        let full = mac.full(b"9434765919");
        assert_eq!(mac.token(b"9434765919").0[..], full[..TOKEN_BYTES]);
        assert_eq!(full, hmac_sha256(sk.secret(), b"9434765919"));
        assert_eq!(full, reference(sk.secret(), b"9434765919"));
        assert_ne!(mac.token(b"9434765919"), mac.token(b"9434765918"));
        assert_eq!(format!("{mac:?}"), "TokenMac([redacted])");
    }
}
