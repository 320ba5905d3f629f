//! The dictionaries that code tokens and Bloom filters while loading ([`Dicts`]): each distinct
//! token becomes a 32-bit code (1, 2, …), shared across extracts so that equal tokens get equal
//! codes.

use std::hash::Hasher;

use rustc_hash::{FxHashMap, FxHasher};

use super::{BloomCol, Tok};

/// Which dictionary each token column codes through. Columns compared across each other share
/// one, so that equal tokens get equal codes: given and family name exact tokens (names entered
/// the wrong way round), and full and swapped dates of birth (day and month transposed), are
/// tokenised under one subkey each for exactly that comparison.
pub(super) const SHARED_DICTIONARY: [usize; 13] = [0, 1, 2, 1, 4, 5, 5, 7, 8, 9, 10, 11, 12];

/// The dictionaries that turn tokens and filters into codes while loading, shared by all
/// extracts so that equal tokens in different extracts get equal codes; dropped once loading ends.
#[derive(Default)]
pub(super) struct Dicts {
    /// Token → code per dictionary, tokens held as 128-bit integers: compared in two
    /// instructions rather than by `memcmp`, and hashed in two multiplications.
    pub(super) tokens: [FxHashMap<u128, u32>; 13],
    /// Hash of a filter's bytes → its code: the given-name and family-name filters, then each
    /// extra field's.
    pub(super) blooms: Vec<FxHashMap<u64, u32>>,
    /// Token → code per extra field.
    pub(super) extra_tokens: Vec<FxHashMap<u128, u32>>,
    pub(super) sex: Vec<String>,
}

impl Dicts {
    pub(super) fn extra_token(&mut self, field: usize, t: &[u8]) -> u32 {
        code(&mut self.extra_tokens[field], t)
    }

    /// The code of filter `f` in `col`, storing it if new. Filters are found by a 64-bit hash
    /// and confirmed byte for byte; on the (vanishingly rare) collision with a different filter the
    /// new one is stored again under a code of its own, so no filter is ever confused with another.
    pub(super) fn bloom(&mut self, which: usize, col: &mut BloomCol, f: &[u8]) -> u32 {
        let h = {
            let mut h = FxHasher::default();
            h.write(f);
            h.finish()
        };
        let stored = col.data.len() / col.width.max(1);
        let at = |c: u32| (c as usize - 1) * col.width;
        match self.blooms[which].get(&h) {
            Some(&c) if col.data[at(c)..at(c) + col.width] == *f => c,
            Some(_) => {
                col.data.extend_from_slice(f);
                stored as u32 + 1
            }
            None => {
                col.data.extend_from_slice(f);
                self.blooms[which].insert(h, stored as u32 + 1);
                stored as u32 + 1
            }
        }
    }

    pub(super) fn sex(&mut self, v: &str) -> u8 {
        match self.sex.iter().position(|s| s == v) {
            Some(p) => p as u8 + 1,
            None if self.sex.len() < 250 => {
                self.sex.push(v.to_string());
                self.sex.len() as u8
            }
            None => 0,
        }
    }
}

/// Token `t`'s code in `dict`, the next code if it is new.
#[inline]
pub(super) fn code(dict: &mut FxHashMap<u128, u32>, t: &[u8]) -> u32 {
    let next = dict.len() as u32 + 1;
    *dict.entry(as_u128(t)).or_insert(next)
}

/// A 16-byte token as one integer (columns are checked to be 16 bytes wide before coding).
#[inline]
fn as_u128(t: &[u8]) -> u128 {
    let mut key: Tok = [0u8; 16];
    key.copy_from_slice(t);
    u128::from_le_bytes(key)
}
