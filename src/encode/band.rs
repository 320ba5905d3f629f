//! Name frequency bands: how common a name is in the provider's own extract, in three bands.
//!
//! Salting name tokens with the date of birth (the `resistant` profile) hides how common each
//! name is — which is the point, since frequencies are what a re-identification attack lines up
//! against public lists — but the linker needs some of that knowledge: agreeing on SMITH is
//! weaker evidence than agreeing on a rare name (term-frequency adjustment; on the synthetic
//! population it is worth about 0.0035 of pairwise F1). A band gives the linker that much and
//! no more: 1 for names held by at least [`COMMON_SHARE`] of the extract's records (a few dozen
//! of the commonest surnames), 2 for at least [`MIDDLE_SHARE`], 3 for the rest. A band names no
//! one: each holds dozens of names at least, and the audit attacks tokens band by band.
//!
//! Bands are counted per extract over its records before any is tokenised (`tokenise` reads the
//! input twice under this profile), so that they follow the provider's population, whatever its
//! names; small extracts need a name to be seen a few times before it counts as common.

use rustc_hash::FxHashMap as HashMap;
use zeroize::Zeroize;

/// Share of records at or above which a name is in band 1 (common).
pub const COMMON_SHARE: f64 = 0.002;
/// Share of records at or above which a name is in band 2 (middling).
pub const MIDDLE_SHARE: f64 = 0.0002;
/// Fewest records holding a name in band 1; band 2 needs [`MIN_MIDDLE`].
pub const MIN_COMMON: u32 = 5;
/// Fewest records holding a name in band 2.
pub const MIN_MIDDLE: u32 = 3;
/// The band of names not seen often enough for the others.
pub const RARE: u8 = 3;

/// The band of a name held by `count` of `total` records.
pub fn band_of(count: u32, total: u64) -> u8 {
    let share = f64::from(count) / total.max(1) as f64;
    if count >= MIN_COMMON && share >= COMMON_SHARE {
        1
    } else if count >= MIN_MIDDLE && share >= MIDDLE_SHARE {
        2
    } else {
        RARE
    }
}

/// Normalised names counted over an extract, then banded. The names are plaintext: the map is
/// wiped when dropped and never printed (`Debug` shows only its size).
#[derive(Default)]
pub struct NameCounts {
    counts: HashMap<String, u32>,
    total: u64,
    bands: HashMap<String, u8>,
}

impl std::fmt::Debug for NameCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NameCounts({} distinct names, {} records)", self.counts.len().max(self.bands.len()), self.total)
    }
}

impl NameCounts {
    /// Counts one record's normalised name.
    pub fn add(&mut self, name: &str) {
        self.total += 1;
        match self.counts.get_mut(name) {
            Some(c) => *c += 1,
            None => {
                self.counts.insert(name.to_string(), 1);
            }
        }
    }

    /// Fixes every counted name's band; names not counted are rare.
    pub fn finish(&mut self) {
        let total = self.total;
        for (name, count) in self.counts.drain() {
            let b = band_of(count, total);
            if b != RARE {
                self.bands.insert(name, b);
            } else {
                let mut name = name;
                name.zeroize();
            }
        }
    }

    /// The band of a normalised name (after [`NameCounts::finish`]).
    pub fn band(&self, name: &str) -> u8 {
        self.bands.get(name).copied().unwrap_or(RARE)
    }
}

impl Drop for NameCounts {
    fn drop(&mut self) {
        for (mut k, _) in self.counts.drain() {
            k.zeroize();
        }
        for (mut k, _) in self.bands.drain() {
            k.zeroize();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_names_are_band_one_and_a_few_sightings_are_not_enough() {
        let mut c = NameCounts::default();
        for _ in 0..30 {
            c.add("SMITH");
        }
        for _ in 0..3 {
            c.add("OKAFOR");
        }
        c.add("ZYW");
        for i in 0..5_000 {
            c.add(&format!("N{i}"));
        }
        c.finish();
        // 30 of 5,034 is 0.6%: common. 3 is 0.06%: middling. One sighting: rare, as is a name
        // never counted.
        assert_eq!((c.band("SMITH"), c.band("OKAFOR"), c.band("ZYW"), c.band("JONES")), (1, 2, 3, 3));
        assert!(!format!("{c:?}").contains("SMITH"));
    }

    #[test]
    fn in_a_small_extract_a_name_must_be_seen_several_times_to_count_as_common() {
        assert_eq!(band_of(2, 10), RARE);
        assert_eq!(band_of(4, 10), 2);
        assert_eq!(band_of(5, 10), 1);
    }
}
