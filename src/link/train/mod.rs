//! Training a linkage model: u from random pairs, m from NHS-number labels, then EM over
//! agreement-pattern counts with u fixed.

pub mod em;
pub mod labels;
pub mod u;
