//! Normalisation and encodings of identifying fields.
//!
//! Each normaliser turns a raw value into the canonical text that is tokenised, so that two
//! providers' spellings of the same fact give the same token. All normalisers write into a
//! caller's reused buffer (no allocation per row) and return `false` when the value is missing
//! or unusable. The normalisation rules are versioned by [`NORMALISATION_VERSION`]: any change
//! to them changes tokens, so it changes the version.

pub mod band;
pub mod bloom;
pub mod category;
pub mod date;
pub mod money;
pub mod name;
pub mod phonetic;
pub mod postcode;

/// The version of every normalisation rule in this module, recorded in each extract's manifest.
pub const NORMALISATION_VERSION: u32 = 1;

/// What a normaliser made of one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A usable value was written to the buffer.
    Value,
    /// The value was empty or blank.
    Missing,
    /// The value was present but could not be understood; it is treated as missing and counted.
    Invalid,
}
