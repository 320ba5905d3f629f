//! Deterministic links: identities sharing a valid NHS-number token are one person — unless
//! both their given names and their dates of birth disagree outright, the signature of a number
//! recorded on the wrong person's record (a relative's). Such a record is left to the
//! probabilistic stage, and counted.

use rustc_hash::FxHashMap as HashMap;

use crate::link::LinkType;
use crate::link::cluster::Clusters;
use crate::link::compare::{Comparisons, Subject};
use crate::link::data::Records;

/// Groups larger than this are linked without the contradiction check (which is quadratic in
/// the group).
pub const MAX_CHECKED_GROUP: usize = 50;

/// Links identities (positions in `reps`, with their NHS tokens `tokens`) sharing a token into
/// `clusters`, marking them in `linked`; returns the links made and those refused as
/// contradicted. Only pairs `link_type` allows are linked.
#[allow(clippy::too_many_arguments)]
pub fn nhs_links(
    records: &Records,
    comparisons: &Comparisons,
    reps: &[u32],
    tokens: &[Option<u32>],
    link_type: LinkType,
    one_to_one: bool,
    clusters: &mut Clusters,
    linked: &mut [bool],
) -> (u64, u64) {
    let mut groups: HashMap<u32, Vec<u32>> = HashMap::default();
    for (i, t) in tokens.iter().enumerate() {
        if let Some(t) = t {
            groups.entry(*t).or_default().push(i as u32);
        }
    }
    let mut group_list: Vec<Vec<u32>> = groups.into_values().collect();
    group_list.sort_unstable();
    let (given_k, dob_k) = (comparisons.find(&Subject::GivenName), comparisons.find(&Subject::DateOfBirth));
    let contradicts = |a: usize, b: usize| match (given_k, dob_k) {
        (Some(g), Some(d)) => {
            comparisons.level(g, records, a, b) == comparisons.defs[g].else_level()
                && comparisons.level(d, records, a, b) == comparisons.defs[d].else_level()
        }
        _ => false,
    };
    let (mut links, mut contradicted) = (0u64, 0u64);
    for g in &group_list {
        for (x, &i) in g.iter().enumerate().skip(1) {
            if one_to_one && linked[i as usize] {
                continue;
            }
            let partner = g[..x].iter().copied().find(|&j| {
                let (a, b) = (reps[i as usize] as usize, reps[j as usize] as usize);
                (!one_to_one || !linked[j as usize])
                    && link_type.allows(records.source[a], records.source[b])
                    && (g.len() > MAX_CHECKED_GROUP || !contradicts(a, b))
            });
            match partner {
                Some(j) => {
                    clusters.union(j, i);
                    linked[i as usize] = true;
                    linked[j as usize] = true;
                    links += 1;
                }
                None => contradicted += 1,
            }
        }
    }
    (links, contradicted)
}
