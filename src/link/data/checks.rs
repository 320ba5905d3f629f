//! Checks of extracts against each other — what makes two extracts unlinkable together, or one
//! a copy of another — and of each extract's record ids (no id twice).

use std::path::PathBuf;

use rayon::prelude::*;
use rustc_hash::FxHasher;
use std::hash::Hasher;

use super::Records;
use crate::error::{Error, Result};
use crate::io::manifest::Manifest;

impl Records {
    /// Checks extracts' manifests (named by `files` in messages) against each other, before any
    /// record is read: none empty, one TRE key (or none), one profile, one key id, one set of
    /// Bloom-filter settings, each source once. A Spark job makes these checks before its work
    /// on the records, in the order the command line makes them.
    pub fn check_together(files: &[PathBuf], manifests: &[Manifest]) -> Result<()> {
        for (f, m) in files.iter().zip(manifests) {
            if m.rows.written == 0 {
                return Err(Error::manifest(
                    f,
                    "holds no records; an empty extract usually means a failed export. Ask the provider to export and \
                     tokenise again, or leave the file out",
                ));
            }
        }
        let tre_key_id = &manifests[0].tre_key_id;
        for (f, m) in files.iter().zip(manifests).skip(1) {
            if m.tre_key_id != *tre_key_id {
                let state = |id: &Option<String>| match id {
                    Some(id) => format!("re-keyed under TRE key id {id}"),
                    None => "not re-keyed".to_string(),
                };
                return Err(Error::manifest(
                    f,
                    format!(
                        "is {}, but {} is {}; tokens never agree across the two. Re-key every extract with the same \
                         TRE key (`pseudolink rekey`) or none",
                        state(&m.tre_key_id),
                        files[0].display(),
                        state(tre_key_id)
                    ),
                ));
            }
        }
        let salted = manifests[0].salted_names();
        for (f, m) in files.iter().zip(manifests).skip(1) {
            if m.salted_names() != salted {
                let profile = |s: bool| if s { "the `resistant` profile" } else { "the `standard` profile" };
                return Err(Error::manifest(
                    f,
                    format!(
                        "was tokenised with {}, but {} with {}; their name tokens never agree. Tokenise every extract \
                         of a project with the same profile",
                        profile(m.salted_names()),
                        files[0].display(),
                        profile(salted)
                    ),
                ));
            }
        }
        let key_id = &manifests[0].key_id;
        for (f, m) in files.iter().zip(manifests).skip(1) {
            if m.key_id != *key_id {
                return Err(Error::manifest(
                    f,
                    format!(
                        "was tokenised with key id {}, but {} with key id {key_id}; tokens under different keys never \
                         agree. Ask the provider to tokenise again with the project's key",
                        m.key_id,
                        files[0].display()
                    ),
                ));
            }
        }
        for (f, m) in files.iter().zip(manifests).skip(1) {
            if m.bloom != manifests[0].bloom {
                return Err(Error::manifest(
                    f,
                    format!(
                        "uses Bloom-filter settings that differ from {}'s; all extracts of a project must use the same \
                         [bloom] settings in their tokenise configs",
                        files[0].display()
                    ),
                ));
            }
        }
        for (i, (f, m)) in files.iter().zip(manifests).enumerate() {
            if let Some((g, _)) = files.iter().zip(manifests).take(i).find(|(_, n)| n.source == m.source) {
                return Err(Error::manifest(
                    f,
                    format!(
                        "is of source `{}`, as {} is (the same extract given twice, or two extracts claiming one source); \
                         give each source once, or tokenise the second with its own `source`",
                        m.source,
                        g.display()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Refuses two extracts holding the same records' identifying tokens (the same data tokenised
    /// again under another `source`): every record and event would count twice. Compared by a
    /// fingerprint of each extract's sorted per-record token tuples.
    pub(super) fn refuse_copies(&self) -> Result<()> {
        use std::hash::Hasher;
        // Per source, each row's token hash with the records it stands for (one, unless rows were
        // grouped elsewhere): the fingerprint is that of every record's hash, sorted.
        let mut per_source: Vec<Vec<(u64, u64)>> = vec![Vec::new(); self.files.len()];
        for i in 0..self.len() {
            let mut h = FxHasher::default();
            for c in [&self.nhs, &self.given.0, &self.family.0, &self.dob[0], &self.postcode[0]] {
                h.write_u32(c.codes[i]);
            }
            h.write_u8(self.sex[i]);
            per_source[self.source[i] as usize].push((h.finish(), self.records_of(i)));
        }
        let mut seen: rustc_hash::FxHashMap<(u64, u64), usize> = Default::default();
        for (s, mut v) in per_source.into_iter().enumerate() {
            v.sort_unstable();
            let mut h = FxHasher::default();
            let mut records = 0u64;
            for &(x, n) in &v {
                for _ in 0..n {
                    h.write_u64(x);
                }
                records += n;
            }
            if let Some(&first) = seen.get(&(records, h.finish())) {
                return Err(Error::manifest(
                    &self.files[s],
                    format!(
                        "holds the same records as {} (every identifying token equal), under another source; \
                         linking both would count every record twice. Give each extract once",
                        self.files[first].display()
                    ),
                ));
            }
            seen.insert((records, h.finish()), s);
        }
        Ok(())
    }
}

/// The first record among `rows` whose id an earlier one of them has: the ids hashed and sorted
/// in parallel, then only ids sharing a hash compared.
pub(super) fn first_repeat(ids: &super::Ids, rows: std::ops::Range<usize>) -> Option<usize> {
    let hash = |i: usize| {
        let mut h = FxHasher::default();
        h.write(ids.get(i).as_bytes());
        h.finish()
    };
    let mut hashed: Vec<(u64, usize)> = rows.into_par_iter().map(|i| (hash(i), i)).collect();
    hashed.par_sort_unstable();
    // Within a run of one hash: its ids sorted (with their rows), and for each id held twice or
    // more its second row; the least of these over all runs is the first repeat in row order.
    // Sorting, not comparing every pair, so that ids crafted to share a hash cost n log n.
    hashed
        .chunk_by(|a, b| a.0 == b.0)
        .filter(|run| run.len() > 1)
        .filter_map(|run| {
            let mut by_id: Vec<(&str, usize)> = run.iter().map(|&(_, i)| (ids.get(i), i)).collect();
            by_id.sort_unstable();
            by_id.chunk_by(|a, b| a.0 == b.0).filter(|g| g.len() > 1).map(|g| g[1].1).min()
        })
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first record whose id an earlier one has, by a plain scan.
    fn naive(ids: &super::super::Ids, rows: std::ops::Range<usize>) -> Option<usize> {
        let mut seen = std::collections::HashSet::new();
        rows.into_iter().find(|&i| !seen.insert(ids.get(i)))
    }

    #[test]
    fn the_first_repeated_id_is_found_as_a_scan_finds_it() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        for round in 0..200 {
            let mut ids = super::super::Ids::default();
            let n = rng.random_range(0..60);
            let alphabet = rng.random_range(1..80);
            for _ in 0..n {
                ids.push(&format!("r{}", rng.random_range(0..alphabet)));
            }
            let start = if n > 0 { rng.random_range(0..n) } else { 0 };
            assert_eq!(first_repeat(&ids, start..n), naive(&ids, start..n), "round {round}");
        }
    }
}
