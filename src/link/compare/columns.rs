//! The columns a comparison reads, addressed by name ([`Col`]) through [`Columns`]: the records
//! themselves, or a [`View`] of them gathered row by row.
//!
//! Why a view: [`Records`] keeps each token in its own column, so comparing one pair reads some
//! fifteen columns at two random places — thirty cache misses a pair, which at hundreds of
//! millions of candidate pairs is most of a national linkage's time. A view copies the columns
//! the comparisons read into one row of 64-byte lines per identity, in identity order, so a
//! pair costs a line or two for each side. Both answer the same [`Columns`] calls, so the level
//! rules ([`super::Comparisons::level`]) are written once and tested on records.

use rayon::prelude::*;

use super::{Comparisons, Subject};
use crate::link::data::{BloomCol, Records, TokCol};

/// A column comparisons read, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Col(u16);

impl Col {
    /// The NHS-number token (valid numbers only).
    pub const NHS: Col = Col(0);
    /// The given name's exact token.
    pub const GIVEN: Col = Col(1);
    /// The given name's phonetic code.
    pub const GIVEN_PHONETIC: Col = Col(2);
    /// The given name's Bloom filter (its code; the filter through [`Columns::bloom`]).
    pub const GIVEN_BLOOM: Col = Col(3);
    /// The family name's exact token.
    pub const FAMILY: Col = Col(4);
    /// The family name's phonetic code.
    pub const FAMILY_PHONETIC: Col = Col(5);
    /// The family name's Bloom filter.
    pub const FAMILY_BLOOM: Col = Col(6);
    /// The date of birth: full, day and month swapped, year and month, year.
    pub const DOB: [Col; 4] = [Col(7), Col(8), Col(9), Col(10)];
    /// The postcode: full, sector, district, area.
    pub const POSTCODE: [Col; 4] = [Col(11), Col(12), Col(13), Col(14)];
    /// Sex (a small code; 0 missing).
    pub const SEX: Col = Col(15);
    /// The given and family names' frequency bands (salted name tokens only).
    pub const BAND: [Col; 2] = [Col(16), Col(17)];
    /// The record's extract (its index among the extracts).
    pub const SOURCE: Col = Col(18);
    const FIXED: u16 = 19;

    /// Extra field `k`'s token.
    pub fn extra(k: usize) -> Col {
        Col(Col::FIXED + 2 * k as u16)
    }

    /// Extra field `k`'s Bloom filter.
    pub fn extra_bloom(k: usize) -> Col {
        Col(Col::FIXED + 2 * k as u16 + 1)
    }

    fn index(self) -> usize {
        self.0 as usize
    }
}

/// Where comparisons read their columns: entry `i` is a record (of [`Records`]) or an identity
/// (of a [`View`]).
pub trait Columns: Sync {
    /// Column `c`'s code for entry `i`; 0 where missing.
    fn code(&self, c: Col, i: usize) -> u32;

    /// The records the Bloom filters are stored with.
    fn records(&self) -> &Records;

    /// Bloom column `c`'s filter for entry `i`, if present.
    #[inline]
    fn bloom(&self, c: Col, i: usize) -> Option<&[u8]> {
        let r = self.records();
        let col = bloom_col(r, c)?;
        match self.code(c, i) {
            0 => None,
            code => {
                let at = (code as usize - 1) * col.width;
                col.data.get(at..at + col.width)
            }
        }
    }
}

fn bloom_col(r: &Records, c: Col) -> Option<&BloomCol> {
    match c {
        Col::GIVEN_BLOOM => Some(&r.given.2),
        Col::FAMILY_BLOOM => Some(&r.family.2),
        Col(x) if x >= Col::FIXED && (x - Col::FIXED) % 2 == 1 => {
            r.extras.get(((x - Col::FIXED) / 2) as usize)?.bloom.as_ref()
        }
        _ => None,
    }
}

fn tok_col(r: &Records, c: Col) -> Option<&TokCol> {
    Some(match c {
        Col::NHS => &r.nhs,
        Col::GIVEN => &r.given.0,
        Col::GIVEN_PHONETIC => &r.given.1,
        Col::FAMILY => &r.family.0,
        Col::FAMILY_PHONETIC => &r.family.1,
        Col(x @ 7..=10) => &r.dob[x as usize - 7],
        Col(x @ 11..=14) => &r.postcode[x as usize - 11],
        Col(x) if x >= Col::FIXED && (x - Col::FIXED) % 2 == 0 => &r.extras.get(((x - Col::FIXED) / 2) as usize)?.token,
        _ => return None,
    })
}

impl Columns for Records {
    #[inline]
    fn code(&self, c: Col, i: usize) -> u32 {
        match c {
            Col::SEX => u32::from(self.sex[i]),
            Col(16) => u32::from(self.name_bands[0].get(i).copied().unwrap_or(0)),
            Col(17) => u32::from(self.name_bands[1].get(i).copied().unwrap_or(0)),
            Col::SOURCE => u32::from(self.source[i]),
            Col::GIVEN_BLOOM => self.given.2.codes[i],
            Col::FAMILY_BLOOM => self.family.2.codes[i],
            _ => match tok_col(self, c) {
                Some(t) => t.codes[i],
                None => bloom_col(self, c).map_or(0, |b| b.codes[i]),
            },
        }
    }

    fn records(&self) -> &Records {
        self
    }
}

/// A column read from a view that did not gather it: missing. Every column a comparison or rule
/// reads is gathered ([`View::of`], blocking's view), so in tests this is a bug, caught.
#[inline]
fn not_gathered(c: Col) -> u32 {
    debug_assert!(false, "column {c:?} read from a view without it");
    0
}

/// Words in a 64-byte line.
const LINE: usize = 16;

/// One 64-byte line of a view's row, aligned so that a row of up to sixteen columns is one
/// cache line.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(64))]
struct Line([u32; LINE]);

/// The columns `comparisons` read (and the term frequencies' name bands), gathered for each of
/// `reps`' records into one row per identity: entry `i` of the view is identity `i`.
#[derive(Debug)]
pub struct View<'a> {
    records: &'a Records,
    /// Column → word within a row (`u16::MAX` where not gathered).
    slot: Vec<u16>,
    /// Lines per row.
    lines: usize,
    rows: Vec<Line>,
}

impl<'a> View<'a> {
    /// The view of `reps`' records (one per identity) for `comparisons`.
    pub fn of(r: &'a Records, comparisons: &Comparisons, reps: &[u32]) -> View<'a> {
        // Name bands only where names are salted: otherwise the term frequencies never read them,
        // and a row of fifteen columns stays one line.
        let bands = r.salted_names;
        let mut cols: Vec<Col> = Vec::new();
        for (k, d) in comparisons.defs.iter().enumerate() {
            let add: Vec<Col> = match &d.subject {
                Subject::NhsNumber => vec![Col::NHS],
                Subject::GivenName => vec![Col::GIVEN, Col::GIVEN_PHONETIC, Col::GIVEN_BLOOM, Col::FAMILY],
                Subject::FamilyName => vec![Col::FAMILY, Col::FAMILY_PHONETIC, Col::FAMILY_BLOOM, Col::GIVEN],
                Subject::DateOfBirth => Col::DOB.to_vec(),
                Subject::Postcode => Col::POSTCODE[..3].to_vec(),
                Subject::Sex => vec![Col::SEX],
                Subject::Field(_) => {
                    let e = comparisons.extra_of(k);
                    vec![Col::extra(e), Col::extra_bloom(e)]
                }
            };
            let band = match d.subject {
                Subject::GivenName if bands => Some(Col::BAND[0]),
                Subject::FamilyName if bands => Some(Col::BAND[1]),
                _ => None,
            };
            for c in add.into_iter().chain(band) {
                if !cols.contains(&c) {
                    cols.push(c);
                }
            }
        }
        View::with_columns(r, &cols, reps)
    }

    /// The view of columns `cols` of `reps`' records (one per identity).
    pub fn with_columns(r: &'a Records, cols: &[Col], reps: &[u32]) -> View<'a> {
        let width = cols.len();
        let lines = width.div_ceil(LINE).max(1);
        let mut slot = vec![u16::MAX; cols.iter().map(|c| c.index() + 1).max().unwrap_or(0)];
        for (w, c) in cols.iter().enumerate() {
            slot[c.index()] = w as u16;
        }
        let mut rows = vec![Line::default(); reps.len() * lines];
        rows.par_chunks_mut(lines).zip(reps.par_iter()).for_each(|(row, &rep)| {
            for (w, &c) in cols.iter().enumerate() {
                row[w / LINE].0[w % LINE] = r.code(c, rep as usize);
            }
        });
        View { records: r, slot, lines, rows }
    }

    /// Calls `each(j, pair)` for every pair `j` of `pairs` (entries of the view, the second
    /// usually far from the first), where `pair` answers [`Columns`] calls for entry 0 (the
    /// pair's first) and 1 (its second).
    ///
    /// Why: a kernel reading each pair's second row as it compares is bound by memory latency,
    /// one cache miss at a time. Here the second rows of a few dozen pairs are first copied side
    /// by side — independent loads the processor overlaps — and then compared from the copy.
    /// The first entries are in order (candidate pairs are sorted), so their rows stream.
    pub fn for_each_pair(&self, pairs: &[(u32, u32)], mut each: impl FnMut(usize, &PairRows)) {
        const GATHER: usize = 64;
        let mut copied = vec![Line::default(); GATHER * self.lines];
        for (c, chunk) in pairs.chunks(GATHER).enumerate() {
            for (k, &(_, b)) in chunk.iter().enumerate() {
                let at = b as usize * self.lines;
                copied[k * self.lines..(k + 1) * self.lines].copy_from_slice(&self.rows[at..at + self.lines]);
            }
            for (k, &(a, _)) in chunk.iter().enumerate() {
                let at = a as usize * self.lines;
                let rows = PairRows {
                    view: self,
                    rows: [&self.rows[at..at + self.lines], &copied[k * self.lines..(k + 1) * self.lines]],
                };
                each(c * GATHER + k, &rows);
            }
        }
    }

    /// The rows of `entries` copied side by side: entry `k` of the copy is `entries[k]`. For
    /// kernels that compare every pair of a small group (a block), so that each member's row is
    /// fetched once rather than once per pair.
    pub fn gather(&self, entries: impl Iterator<Item = usize>) -> Gathered<'_> {
        let mut lines = Vec::new();
        for i in entries {
            lines.extend_from_slice(&self.rows[i * self.lines..(i + 1) * self.lines]);
        }
        Gathered { view: self, lines }
    }

    /// Identities in the view.
    pub fn len(&self) -> usize {
        self.rows.len() / self.lines
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

impl Columns for View<'_> {
    #[inline]
    fn code(&self, c: Col, i: usize) -> u32 {
        match self.slot.get(c.index()) {
            Some(&w) if w != u16::MAX => {
                let w = w as usize;
                self.rows[i * self.lines + w / LINE].0[w % LINE]
            }
            // Not gathered: no comparison reads it.
            _ => not_gathered(c),
        }
    }

    fn records(&self) -> &Records {
        self.records
    }
}

/// The rows of one pair of a [`View`]'s identities: entry 0 and entry 1
/// ([`View::for_each_pair`]).
#[derive(Debug)]
pub struct PairRows<'v> {
    view: &'v View<'v>,
    rows: [&'v [Line]; 2],
}

impl Columns for PairRows<'_> {
    #[inline]
    fn code(&self, c: Col, i: usize) -> u32 {
        match self.view.slot.get(c.index()) {
            Some(&w) if w != u16::MAX => {
                let w = w as usize;
                self.rows[i][w / LINE].0[w % LINE]
            }
            _ => not_gathered(c),
        }
    }

    fn records(&self) -> &Records {
        self.view.records
    }
}

/// Rows of a [`View`] copied side by side ([`View::gather`]).
#[derive(Debug)]
pub struct Gathered<'v> {
    view: &'v View<'v>,
    lines: Vec<Line>,
}

impl Columns for Gathered<'_> {
    #[inline]
    fn code(&self, c: Col, i: usize) -> u32 {
        match self.view.slot.get(c.index()) {
            Some(&w) if w != u16::MAX => {
                let w = w as usize;
                self.lines[i * self.view.lines + w / LINE].0[w % LINE]
            }
            _ => not_gathered(c),
        }
    }

    fn records(&self) -> &Records {
        self.view.records
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::compare::{Thresholds, default_comparisons};

    #[test]
    fn a_view_answers_as_the_records_of_its_identities() {
        let mut r = Records::default();
        let n = 6;
        r.nhs.codes = vec![0, 1, 1, 2, 0, 3];
        r.given.0.codes = vec![1, 2, 1, 0, 3, 1];
        r.given.1.codes = vec![1, 1, 1, 0, 2, 1];
        r.family.0.codes = vec![2, 1, 2, 2, 0, 4];
        r.family.1.codes = vec![1, 1, 1, 1, 0, 2];
        r.given.2 = BloomCol { width: 2, data: vec![0xFF, 0x00, 0x0F, 0xF0], codes: vec![1, 2, 1, 0, 2, 1] };
        r.family.2.codes = vec![0; n];
        for (k, c) in r.dob.iter_mut().enumerate() {
            c.codes = (0..n as u32).map(|i| 1 + (i + k as u32) % 3).collect();
        }
        for c in r.postcode.iter_mut() {
            c.codes = vec![1, 2, 0, 1, 3, 1];
        }
        r.sex = vec![1, 2, 1, 0, 1, 2];
        for _ in 0..n {
            r.record_id.push("x");
        }
        let c = Comparisons::resolve(default_comparisons(&r, Thresholds::default()), &r).unwrap();
        let reps = [5u32, 0, 3, 1, 4, 2];
        let v = View::of(&r, &c, &reps);
        assert_eq!(v.len(), reps.len());
        for a in 0..reps.len() {
            for b in 0..reps.len() {
                let (x, y) = (reps[a] as usize, reps[b] as usize);
                assert_eq!(c.pattern(&v, a, b), c.pattern(&r, x, y), "identities {a} and {b}");
            }
            assert_eq!(v.bloom(Col::GIVEN_BLOOM, a), r.bloom(Col::GIVEN_BLOOM, reps[a] as usize));
        }
        let pairs: Vec<(u32, u32)> = (0..6u32).flat_map(|a| (0..6u32).map(move |b| (a, b))).collect();
        let mut seen = 0;
        v.for_each_pair(&pairs, |j, p| {
            let (a, b) = pairs[j];
            assert_eq!(c.pattern(p, 0, 1), c.pattern(&v, a as usize, b as usize), "pair {j}");
            seen += 1;
        });
        assert_eq!(seen, pairs.len());
        let g = v.gather([3usize, 0, 5].into_iter());
        for (k, &e) in [3usize, 0, 5].iter().enumerate() {
            assert_eq!(c.pattern(&g, k, 0), c.pattern(&v, e, 3));
        }
        // Only the columns comparisons read are gathered: one line per identity.
        assert_eq!(v.lines, 1);
    }
}
