//! The second key: `rekey` applies a TRE key that providers never hold to an extract as it enters
//! the TRE.
//!
//! Every provider holds the project key, and NHS numbers are only about 10^9 values: anyone at any
//! provider who obtains a TRE extract could recompute every NHS-number token. After `rekey`, each
//! token is a keyed function of the provider's token under the TRE key
//! (`HMAC(TRE subkey for the column's purpose, token)`, truncated to 128 bits), and each Bloom
//! filter's bits are permuted by a permutation drawn from the TRE key. Holding either key alone no
//! longer reverses a token: the provider lacks the TRE key, the TRE lacks the project key.
//!
//! Linkage is unchanged. Tokens that were equal stay equal (and different ones stay different, but
//! for a 2^-128 chance), because one purpose gets one subkey: the date of birth and its swapped form,
//! and given and family names, still compare across columns. A permutation moves bits without
//! changing how many two filters share, so every Dice coefficient is the same. Pseudonymised record
//! ids are re-keyed the same way (hex in, hex out); kept ids, plain and pass-through columns are
//! copied.
//!
//! The manifest records the TRE key's id beside the project key's, and `link` refuses a mix of
//! re-keyed and raw extracts (their tokens never agree).

use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{FixedSizeBinaryBuilder, StringBuilder};
use arrow_array::{Array, ArrayRef, FixedSizeBinaryArray, RecordBatch, RecordBatchReader, StringArray};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rayon::prelude::*;

use crate::config::RecordIdMode;
use crate::error::{Error, Result};
use crate::io::manifest::Manifest;
use crate::io::schema::{Encoding, RECORD_ID};
use crate::token::{ProjectKey, Purpose, Subkey, TOKEN_BYTES, TokenMac};

/// Rows re-keyed per parallel work unit.
const SLICE_ROWS: usize = 8_192;

/// What happens to one column.
enum Step {
    /// Tokens re-keyed under this MAC.
    Token(TokenMac),
    /// Hex record-id tokens re-keyed under this MAC.
    HexToken(TokenMac),
    /// Bloom bits moved: input bit `i` becomes output bit `to[i]`, a permutation drawn from the key.
    Permute(Vec<u32>),
    /// Copied as it is.
    Copy,
}

/// A rekeying plan for one extract's columns, in schema order.
pub struct Rekey {
    steps: Vec<Step>,
}

impl std::fmt::Debug for Rekey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Rekey([redacted])")
    }
}

impl Rekey {
    /// The plan for an extract with `manifest` and the column names `columns` (in file order),
    /// under the TRE key.
    pub fn new(tre: &ProjectKey, manifest: &Manifest, columns: &[String]) -> Rekey {
        let bloom_bits = manifest.bloom.output_bytes() * 8;
        let steps = columns
            .iter()
            .map(|name| {
                if name == RECORD_ID {
                    return match manifest.record_id_mode {
                        RecordIdMode::Pseudonymise => Step::HexToken(TokenMac::new(&Subkey::derive(
                            tre,
                            &Purpose::Rekey(record_id_label(manifest)),
                        ))),
                        RecordIdMode::Keep => Step::Copy,
                    };
                }
                let column = manifest.fields.iter().flat_map(|f| f.columns.iter()).find(|c| &c.name == name);
                match column {
                    Some(c) if c.encoding == Encoding::Token => {
                        let label = c.purpose.clone().unwrap_or_default();
                        Step::Token(TokenMac::new(&Subkey::derive(tre, &Purpose::Rekey(label))))
                    }
                    Some(c) if c.encoding == Encoding::Bloom => {
                        Step::Permute(permutation(tre, c.purpose.as_deref().unwrap_or_default(), bloom_bits))
                    }
                    _ => Step::Copy,
                }
            })
            .collect();
        Rekey { steps }
    }

    /// Re-keys one batch (its columns in the order the plan was made for).
    pub fn apply(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let mut cols: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
        for (step, col) in self.steps.iter().zip(batch.columns()) {
            cols.push(match step {
                Step::Copy => col.clone(),
                Step::Token(mac) => {
                    let a = fixed(col, TOKEN_BYTES)?;
                    let mut out = FixedSizeBinaryBuilder::with_capacity(a.len(), TOKEN_BYTES as i32);
                    let mut t = [0u8; TOKEN_BYTES];
                    for i in 0..a.len() {
                        if a.is_null(i) {
                            out.append_null();
                        } else {
                            mac.token_into(a.value(i), &mut t);
                            out.append_value(t).map_err(|_| bad_column())?;
                        }
                    }
                    Arc::new(out.finish())
                }
                Step::HexToken(mac) => {
                    let a = col.as_any().downcast_ref::<StringArray>().ok_or_else(bad_column)?;
                    let mut out = StringBuilder::with_capacity(a.len(), a.len() * 2 * TOKEN_BYTES);
                    let mut raw = [0u8; TOKEN_BYTES];
                    let mut hex_out = [0u8; 2 * TOKEN_BYTES];
                    for i in 0..a.len() {
                        hex::decode_to_slice(a.value(i), &mut raw).map_err(|_| bad_column())?;
                        // Infallible: the buffer is twice the token's length.
                        hex::encode_to_slice(mac.token(&raw).0, &mut hex_out).expect("hex buffer fits a token");
                        out.append_value(std::str::from_utf8(&hex_out).expect("hex is ASCII"));
                    }
                    Arc::new(out.finish())
                }
                Step::Permute(to) => {
                    let width = to.len() / 8;
                    let a = fixed(col, width)?;
                    let mut out = FixedSizeBinaryBuilder::with_capacity(a.len(), width as i32);
                    let mut f = vec![0u8; width];
                    for i in 0..a.len() {
                        if a.is_null(i) {
                            out.append_null();
                            continue;
                        }
                        permute_into(to, a.value(i), &mut f);
                        out.append_value(&f).map_err(|_| bad_column())?;
                    }
                    Arc::new(out.finish())
                }
            });
        }
        RecordBatch::try_new(batch.schema(), cols).map_err(|_| bad_column())
    }
}

/// Re-keys the extract at `input` under the TRE key into `output` (atomically, private). Refuses
/// an extract that was already re-keyed.
pub fn rekey_file(tre: &ProjectKey, input: &Path, output: &Path) -> Result<Manifest> {
    let (mut manifest, _) = Manifest::read(input)?;
    if let Some(id) = &manifest.tre_key_id {
        return Err(Error::manifest(
            input,
            format!("was already re-keyed (TRE key id {id}); re-key each extract once, as it enters the TRE"),
        ));
    }
    let file = std::fs::File::open(input).map_err(|e| Error::io("opening", input, e))?;
    let reader = crate::io::parquet::reader_builder(file)
        .map_err(|_| Error::manifest(input, "is not a readable Parquet file (it may be truncated or damaged)"))?
        .with_batch_size(65_536)
        .build()
        .map_err(|_| Error::manifest(input, "could not be read"))?;
    let schema = reader.schema();
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let plan = Rekey::new(tre, &manifest, &names);
    let mut out = crate::io::parquet::ParquetOut::create(output, schema)?;
    for batch in crate::io::parquet::Guarded(reader) {
        let batch =
            batch.map_err(|_| Error::manifest(input, "could not be decoded (it may be truncated or damaged)"))?;
        // Fixed slices re-keyed on every core and written in order: bytes never depend on the
        // thread count.
        let slices: Vec<Result<RecordBatch>> = (0..batch.num_rows().div_ceil(SLICE_ROWS))
            .into_par_iter()
            .map(|k| {
                let len = SLICE_ROWS.min(batch.num_rows() - k * SLICE_ROWS);
                plan.apply(&batch.slice(k * SLICE_ROWS, len))
            })
            .collect();
        for done in slices {
            out.write(&done.map_err(|_| Error::manifest(input, "a column does not match its manifest"))?)?;
        }
    }
    manifest.tre_key_id = Some(tre.id().to_string());
    out.append_metadata(crate::io::manifest::MANIFEST_KEY, manifest.to_json());
    out.commit()?;
    Ok(manifest)
}

/// Moves the set bits of filter `v` to their places under permutation `to` (input bit `i` becomes
/// output bit `to[i]`) in `out`. Only set bits move: a filter holds a few hundred of its thousand.
fn permute_into(to: &[u32], v: &[u8], out: &mut [u8]) {
    out.iter_mut().for_each(|b| *b = 0);
    for (byte, &x) in v.iter().enumerate() {
        let mut bits = x;
        while bits != 0 {
            let t = to[byte * 8 + bits.trailing_zeros() as usize] as usize;
            out[t / 8] |= 1 << (t % 8);
            bits &= bits - 1;
        }
    }
}

/// The label under which pseudonymised record ids of a source are re-keyed.
fn record_id_label(m: &Manifest) -> String {
    Purpose::RecordId(m.source.clone()).label()
}

/// A permutation of `bits` positions drawn from the TRE key for one Bloom purpose: a ChaCha20
/// stream seeded by the purpose's subkey, shuffled by Fisher–Yates (portable and reproducible bit
/// for bit).
fn permutation(tre: &ProjectKey, purpose: &str, bits: usize) -> Vec<u32> {
    let sub = Subkey::derive(tre, &Purpose::Rekey(format!("bloom-permutation/{purpose}")));
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    seed.copy_from_slice(&sub.secret()[..32]);
    let mut rng = rand_chacha::ChaCha20Rng::from_seed(*seed);
    let mut p: Vec<u32> = (0..bits as u32).collect();
    p.shuffle(&mut rng);
    p
}

fn fixed(col: &ArrayRef, width: usize) -> Result<&FixedSizeBinaryArray> {
    col.as_any()
        .downcast_ref::<FixedSizeBinaryArray>()
        .filter(|a| a.value_length() as usize == width)
        .ok_or_else(bad_column)
}

fn bad_column() -> Error {
    Error::usage("a column does not match the extract's manifest; the file may have been altered")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dice(a: &[u8], b: &[u8]) -> f64 {
        let both: u32 = a.iter().zip(b).map(|(x, y)| (x & y).count_ones()).sum();
        let n: u32 = a.iter().chain(b).map(|x| x.count_ones()).sum();
        2.0 * both as f64 / n as f64
    }

    #[test]
    fn a_permutation_is_one_keeps_dice_and_depends_on_key_and_purpose() {
        let k1 = ProjectKey::from_bytes([1; 32]);
        let k2 = ProjectKey::from_bytes([2; 32]);
        let p = permutation(&k1, "pseudolink/v1/name/bloom", 1024);
        let mut sorted = p.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1024).collect::<Vec<u32>>());
        assert_ne!(p, permutation(&k2, "pseudolink/v1/name/bloom", 1024));
        assert_ne!(p, permutation(&k1, "pseudolink/v1/string-bloom/x", 1024));
        assert_eq!(p, permutation(&k1, "pseudolink/v1/name/bloom", 1024));
        let a: Vec<u8> = (0..128u32).map(|i| (i * 37 % 251) as u8).collect();
        let b: Vec<u8> = (0..128u32).map(|i| (i * 91 % 241) as u8).collect();
        let perm = |v: &[u8]| {
            let mut f = vec![0u8; v.len()];
            permute_into(&p, v, &mut f);
            f
        };
        assert_eq!(dice(&a, &b), dice(&perm(&a), &perm(&b)));
        assert_ne!(perm(&a), a);
    }
}
