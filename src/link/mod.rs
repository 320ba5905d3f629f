//! Linkage on tokens: Splink's model, without plaintext.
//!
//! Built so far: the Fellegi–Sunter [`model`] (comparisons, levels, m and u, match weights,
//! JSON), its training by expectation–maximisation over agreement-pattern counts
//! ([`train::em`]), and conflict-aware clustering into persons ([`cluster`]). The names follow
//! Splink's (training, predict, clustering) so that analysts find things where they expect them.

pub mod cluster;
pub mod model;
pub mod train;
