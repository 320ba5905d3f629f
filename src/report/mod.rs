//! Reports for people: the tokeniser's data-quality report for provider IG teams, and the
//! linkage and population report for TRE analysts with its charts and theographs.

pub mod charts;
pub mod html;
pub mod quality;
pub mod theograph;
