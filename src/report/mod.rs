//! The linkage and population report for TRE analysts: the HTML page, its charts and the
//! theographs. (The provider's data-quality report lives with the tokeniser, in
//! [`crate::tokenise::quality`].)

pub mod charts;
pub mod html;
pub mod theograph;
