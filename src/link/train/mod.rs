//! Training a linkage model: m probabilities by EM over agreement-pattern counts.

pub mod em;
