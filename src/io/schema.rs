//! Column names and Arrow types of pseudonymised extracts (format version 2).
//!
//! | column | type | content |
//! |---|---|---|
//! | `record_id` | Utf8 | the provider's row id, kept or pseudonymised (hex token) |
//! | `<field>_status` | Utf8 | NHS number status (`valid`, `missing`, `bad_format` …) |
//! | `<field>_token`, `_exact`, `_phonetic`, `_full`, `_swapped`, `_year_month`, `_year`, `_sector`, `_district`, `_area` | FixedSizeBinary(16) | tokens; null when missing |
//! | `<field>_bloom` | FixedSizeBinary(bits / 8) | Bloom-filter encodings |
//! | `sex` (plain) | Utf8 | `M`, `F`, `I` or null |
//! | pass-through | Utf8, Int64, Float64, Date32 or Boolean | as configured |
//!
//! Field order follows the config; the manifest lists every column with its encoding. Rows are in
//! a keyed pseudo-random order, not the input's (an extract sorted by surname would otherwise give
//! surnames away by position), and the input's row numbers are not written. Linkage outputs name a
//! record by source and record id, and by its `row_number`: its 1-based row in this extract.

use std::sync::Arc;

use arrow_schema::{DataType, Field, FieldRef};
use serde::{Deserialize, Serialize};

use crate::config::PassType;
use crate::token::TOKEN_BYTES;

/// The record id column.
pub const RECORD_ID: &str = "record_id";
/// The column of linkage outputs holding a record's 1-based row in its pseudonymised extract.
pub const ROW_NUMBER: &str = "row_number";

/// How a column encodes its field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// A per-record status category (text).
    Status,
    /// A keyed token, FixedSizeBinary(16).
    Token,
    /// A Bloom-filter encoding, FixedSizeBinary(n).
    Bloom,
    /// A plain low-risk category (text).
    Plain,
    /// A plain year (Int32): the year of birth, released for age-based analysis when the
    /// config asks for it.
    Year,
}

/// The Arrow field of an encoded column.
pub fn encoded_field(name: &str, encoding: Encoding, bytes: usize) -> FieldRef {
    let dt = match encoding {
        Encoding::Status | Encoding::Plain => DataType::Utf8,
        Encoding::Token => DataType::FixedSizeBinary(TOKEN_BYTES as i32),
        Encoding::Bloom => DataType::FixedSizeBinary(bytes as i32),
        Encoding::Year => DataType::Int32,
    };
    let nullable = encoding != Encoding::Status;
    Arc::new(Field::new(name, dt, nullable))
}

/// The Arrow type of a pass-through column.
pub fn passthrough_type(kind: PassType) -> DataType {
    match kind {
        PassType::String => DataType::Utf8,
        PassType::Integer => DataType::Int64,
        PassType::Float => DataType::Float64,
        PassType::Date => DataType::Date32,
        PassType::Boolean => DataType::Boolean,
    }
}
