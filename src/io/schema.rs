//! Column names and Arrow types of pseudonymised extracts (format version 2).
//!
//! | column | type | content |
//! |---|---|---|
//! | `record_id` | Utf8 | the provider's row id, kept or pseudonymised (hex token) |
//! | `<field>_status` | Utf8 | NHS number status (`valid`, `missing`, `bad_format` …) |
//! | `<field>_token`, `_exact`, `_phonetic`, `_full`, `_swapped`, `_year_month`, `_year`, `_sector`, `_district`, `_area` | FixedSizeBinary(16) | tokens; null when missing |
//! | `<field>_bloom` | FixedSizeBinary(bits / 8) | Bloom-filter encodings |
//! | `sex` (plain) | Utf8 | `M`, `F`, `I` or null |
//! | `<field>_year_of_birth`, `<field>_band` | Int32 | plain year of birth (if released); a salted name's frequency band (1–3) |
//! | pass-through | Utf8, Int64, Float64, Date32 or Boolean | as configured |
//!
//! Field order follows the config; the manifest lists every column with its encoding. Rows are in
//! a keyed pseudo-random order, not the input's (an extract sorted by surname would otherwise give
//! surnames away by position), and the input's row numbers are not written. Linkage outputs name a
//! record by source and record id, and by its `row_number`: its 1-based row in this extract.

use std::sync::Arc;

use arrow_schema::{DataType, Field, FieldRef};
use serde::{Deserialize, Serialize};

use crate::config::{FieldType, PassType};
use crate::token::{Purpose, TOKEN_BYTES};

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
    /// A name's frequency band in the provider's extract (Int32: 1 common, 2 middling, 3 rare;
    /// see `encode::band`), written beside salted name tokens so that the linker can still weigh
    /// agreement on a common name below agreement on a rare one.
    Band,
}

/// One column a field is encoded into: its part (`token`, `exact`, `bloom` …; empty for a plain
/// category, whose column is the field's own name), its encoding and the subkey purpose its
/// tokens are keyed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnSpec {
    /// The part name, appended to the field's name with `_`.
    pub part: &'static str,
    /// How the column encodes the field.
    pub encoding: Encoding,
    /// The subkey purpose of its tokens or Bloom filter; none for plain columns.
    pub purpose: Option<Purpose>,
}

/// Options that change which columns a field is encoded into.
#[derive(Debug, Clone, Copy, Default)]
pub struct FieldOptions {
    /// Sex kept as a plain category instead of a token.
    pub plain_sex: bool,
    /// The plain year of birth released beside the date-of-birth tokens.
    pub release_year: bool,
    /// A Bloom filter for an identifier or string field.
    pub bloom: bool,
    /// Name tokens salted with the date of birth (the `resistant` profile).
    pub salted_names: bool,
}

/// The columns of a field of type `kind` named `name`: the extract contract, used by tokenise to
/// write them and by every reader to check that a manifest describes exactly these (a manifest
/// presenting a date-of-birth column as the NHS-number token is refused).
pub fn field_columns(kind: FieldType, name: &str, options: FieldOptions) -> Vec<ColumnSpec> {
    let c = |part, encoding, purpose| ColumnSpec { part, encoding, purpose };
    match kind {
        FieldType::NhsNumber => {
            vec![c("status", Encoding::Status, None), c("token", Encoding::Token, Some(Purpose::NhsNumber))]
        }
        FieldType::GivenName | FieldType::FamilyName | FieldType::Name => {
            let (exact, phonetic) = if options.salted_names {
                (Purpose::NameExactByDob, Purpose::NamePhoneticByDob)
            } else {
                (Purpose::NameExact, Purpose::NamePhonetic)
            };
            let mut v = vec![
                c("exact", Encoding::Token, Some(exact)),
                c("phonetic", Encoding::Token, Some(phonetic)),
                c("bloom", Encoding::Bloom, Some(Purpose::NameBloom)),
            ];
            if options.salted_names && kind != FieldType::Name {
                v.push(c("band", Encoding::Band, None));
            }
            v
        }
        FieldType::DateOfBirth | FieldType::Date => {
            let dob = kind == FieldType::DateOfBirth;
            let (full, ym, y) = if dob {
                (Purpose::DobFull, Purpose::DobYearMonth, Purpose::DobYear)
            } else {
                (Purpose::DateFull, Purpose::DateYearMonth, Purpose::DateYear)
            };
            let mut v = vec![
                c("full", Encoding::Token, Some(full.clone())),
                c("swapped", Encoding::Token, Some(full)),
                c("year_month", Encoding::Token, Some(ym)),
                c("year", Encoding::Token, Some(y)),
            ];
            if dob && options.release_year {
                v.push(c("year_of_birth", Encoding::Year, None));
            }
            v
        }
        FieldType::Postcode => vec![
            c("full", Encoding::Token, Some(Purpose::PostcodeFull)),
            c("sector", Encoding::Token, Some(Purpose::PostcodeSector)),
            c("district", Encoding::Token, Some(Purpose::PostcodeDistrict)),
            c("area", Encoding::Token, Some(Purpose::PostcodeArea)),
        ],
        FieldType::Sex if options.plain_sex => vec![c("", Encoding::Plain, None)],
        FieldType::Sex => vec![c("token", Encoding::Token, Some(Purpose::Sex))],
        FieldType::Identifier | FieldType::String => {
            let token = if kind == FieldType::Identifier {
                Purpose::Identifier(name.to_string())
            } else {
                Purpose::Text(name.to_string())
            };
            let mut v = vec![c("token", Encoding::Token, Some(token))];
            if options.bloom {
                v.push(c("bloom", Encoding::Bloom, Some(Purpose::TextBloom(name.to_string()))));
            }
            v
        }
    }
}

/// A column's name: the field's name and the part, or the field's name for a plain category.
pub fn column_name(field: &str, part: &str) -> String {
    if part.is_empty() { field.to_string() } else { format!("{field}_{part}") }
}

/// The Arrow field of an encoded column.
pub fn encoded_field(name: &str, encoding: Encoding, bytes: usize) -> FieldRef {
    let dt = match encoding {
        Encoding::Status | Encoding::Plain => DataType::Utf8,
        Encoding::Token => DataType::FixedSizeBinary(TOKEN_BYTES as i32),
        Encoding::Bloom => DataType::FixedSizeBinary(bytes as i32),
        Encoding::Year | Encoding::Band => DataType::Int32,
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
