//! Synthetic population (see issue in progress).
