//! Per-purpose subkeys, derived from the project key with HKDF-SHA256 (RFC 5869).
//!
//! Every token column has a purpose, and every purpose its own subkey, so that a token of a date
//! can never equal a token of an NHS number and the exposure of one subkey exposes no other.
//! Purposes that must be comparable across fields share one: given and family names both use the
//! `name/…` subkeys so that the linker can recognise swapped names.
//!
//! Derivation: `HKDF-SHA256(salt = "pseudolink/v1", ikm = project key, info = label)`, 32 bytes.
//! Labels are part of the token format: changing one changes every token of that purpose.

use std::fmt;

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroize;

use crate::token::key::ProjectKey;

/// HKDF salt: fixes the derivation to this format version.
pub const HKDF_SALT: &[u8] = b"pseudolink/v1";
/// Subkey length in bytes.
pub const SUBKEY_BYTES: usize = 32;

/// What a subkey is for. Its label is the HKDF `info`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Purpose {
    /// The public key id (derived, then published on purpose).
    KeyId,
    /// NHS number tokens.
    NhsNumber,
    /// Exact tokens of normalised person names (given and family alike).
    NameExact,
    /// Tokens of names' phonetic codes.
    NamePhonetic,
    /// Exact name tokens salted with the date of birth (the `resistant` profile).
    NameExactByDob,
    /// Phonetic name tokens salted with the date of birth (the `resistant` profile).
    NamePhoneticByDob,
    /// Bloom-filter n-gram hashing for names.
    NameBloom,
    /// Full date-of-birth tokens (and day/month-swapped ones, which must compare with them).
    DobFull,
    /// Date-of-birth year-month tokens.
    DobYearMonth,
    /// Date-of-birth year tokens.
    DobYear,
    /// Full tokens of other dates.
    DateFull,
    /// Year-month tokens of other dates.
    DateYearMonth,
    /// Year tokens of other dates.
    DateYear,
    /// Full postcode tokens.
    PostcodeFull,
    /// Postcode sector tokens.
    PostcodeSector,
    /// Postcode district tokens.
    PostcodeDistrict,
    /// Postcode area tokens.
    PostcodeArea,
    /// Sex tokens (when sex is not kept as a plain category).
    Sex,
    /// Exact tokens of a named generic identifier field.
    Identifier(String),
    /// Exact tokens of a named generic string field.
    Text(String),
    /// Bloom-filter hashing of a named generic identifier or string field.
    TextBloom(String),
    /// Pseudonymised record ids of one source.
    RecordId(String),
    /// Per-record randomness for the BLIP Bloom-filter hardening.
    BloomBlip,
    /// The keyed order in which an extract's rows are written (so row order says nothing about
    /// the input's order).
    RowOrder,
    /// Person ids, under the linkage key (never the project key).
    PersonId,
    /// Re-keying, under the TRE key, of tokens made for the purpose with this label.
    Rekey(String),
    /// The tag by which `demo` recognises a key it made (public, but computable only with the key).
    DemoMarker,
}

impl Purpose {
    /// The HKDF `info` label.
    pub fn label(&self) -> String {
        let fixed = match self {
            Purpose::KeyId => "key-id",
            Purpose::NhsNumber => "nhs-number",
            Purpose::NameExact => "name/exact",
            Purpose::NamePhonetic => "name/phonetic",
            Purpose::NameExactByDob => "name/exact-by-date-of-birth",
            Purpose::NamePhoneticByDob => "name/phonetic-by-date-of-birth",
            Purpose::NameBloom => "name/bloom",
            Purpose::DobFull => "dob/full",
            Purpose::DobYearMonth => "dob/year-month",
            Purpose::DobYear => "dob/year",
            Purpose::DateFull => "date/full",
            Purpose::DateYearMonth => "date/year-month",
            Purpose::DateYear => "date/year",
            Purpose::PostcodeFull => "postcode/full",
            Purpose::PostcodeSector => "postcode/sector",
            Purpose::PostcodeDistrict => "postcode/district",
            Purpose::PostcodeArea => "postcode/area",
            Purpose::Sex => "sex",
            Purpose::BloomBlip => "bloom/blip",
            Purpose::RowOrder => "row-order",
            Purpose::PersonId => "person-id",
            Purpose::DemoMarker => "demo-marker",
            Purpose::Identifier(n) => return format!("pseudolink/v1/identifier/{n}"),
            Purpose::Text(n) => return format!("pseudolink/v1/string/{n}"),
            Purpose::TextBloom(n) => return format!("pseudolink/v1/string-bloom/{n}"),
            Purpose::RecordId(s) => return format!("pseudolink/v1/record-id/{s}"),
            Purpose::Rekey(label) => return format!("pseudolink/v1/rekey/{label}"),
        };
        format!("pseudolink/v1/{fixed}")
    }
}

/// A secret subkey. Zeroised on drop, never printed.
pub struct Subkey {
    bytes: Box<[u8; SUBKEY_BYTES]>,
}

impl Subkey {
    /// Derives the subkey for `purpose`.
    pub fn derive(key: &ProjectKey, purpose: &Purpose) -> Subkey {
        let mut bytes = Box::new([0u8; SUBKEY_BYTES]);
        hkdf_sha256(HKDF_SALT, key.secret(), purpose.label().as_bytes(), &mut bytes[..]);
        Subkey { bytes }
    }

    /// The secret bytes, for keying HMAC inside this module tree only.
    pub(crate) fn secret(&self) -> &[u8] {
        &self.bytes[..]
    }

    /// Copies a prefix of the subkey out as public material. Used only for the key id, whose
    /// whole point is to be published: this is the one place a secret crosses to public.
    pub(crate) fn expose_prefix(self, out: &mut [u8]) {
        out.copy_from_slice(&self.bytes[..out.len()]);
    }
}

impl Drop for Subkey {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl fmt::Debug for Subkey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Subkey([redacted])")
    }
}

/// HKDF-SHA256 extract-and-expand (RFC 5869). Panics only if `okm` is longer than 255 × 32
/// bytes, which no caller in this crate asks for.
pub fn hkdf_sha256(salt: &[u8], ikm: &[u8], info: &[u8], okm: &mut [u8]) {
    let hk = Hkdf::<Sha256>::new(Some(salt), ikm);
    hk.expand(info, okm).expect("HKDF output length within 255 hash lengths");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purposes_have_distinct_labels_and_subkeys() {
        let key = ProjectKey::from_bytes([9; 32]);
        let purposes = [
            Purpose::NhsNumber,
            Purpose::NameExact,
            Purpose::DobFull,
            Purpose::DateFull,
            Purpose::PostcodeFull,
            Purpose::Identifier("a".into()),
            Purpose::Text("a".into()),
            Purpose::RecordId("a".into()),
        ];
        let mut seen = std::collections::HashSet::new();
        for p in &purposes {
            assert!(seen.insert(Subkey::derive(&key, p).secret().to_vec()), "{p:?}");
        }
    }

    #[test]
    fn subkey_debug_is_redacted() {
        let sk = Subkey::derive(&ProjectKey::from_bytes([1; 32]), &Purpose::Sex);
        assert_eq!(format!("{sk:?}"), "Subkey([redacted])");
    }
}
