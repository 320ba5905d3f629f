//! Reports for people: the tokeniser's data-quality report for provider IG teams.

pub mod quality;
