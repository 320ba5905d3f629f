//! The tokenising kernel: one chunk of rows in, one Arrow record batch and its counts out.
//!
//! Chunks are independent, so a batch is split into fixed-size chunks processed in parallel and
//! written in chunk order: output bytes never depend on the thread count. Within a chunk every
//! scratch buffer is reused from row to row and wiped when the chunk ends, because it held
//! plaintext identifiers.

use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, StringBuilder};
use arrow_array::{Array, ArrayRef, FixedSizeBinaryArray, RecordBatch, StringArray};
use arrow_buffer::{Buffer, NullBuffer};
use chrono::{Datelike, NaiveDate};
use zeroize::Zeroize;

use crate::config::PassType;
use crate::encode::category::{normalise_identifier, normalise_sex, normalise_text};
use crate::encode::date::{date_parts, parse_date};
use crate::encode::name::normalise_name;
use crate::encode::phonetic::Phonetic;
use crate::encode::postcode::normalise_postcode;
use crate::encode::{Outcome, bloom};
use crate::error::{Error, Location, Result};
use crate::io::InputBatch;
use crate::token::{NhsNumber, NhsNumberStatus, TOKEN_BYTES};
use crate::tokenise::plan::{Encoder, PASS_YEARS, Plan};

/// Counts for one field over some rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FieldCounts {
    /// Usable values.
    pub present: u64,
    /// Empty values.
    pub missing: u64,
    /// Values present but unusable (treated as missing).
    pub invalid: u64,
    /// NHS number statuses, in [`NhsNumberStatus::ALL`] order (NHS number fields only).
    pub nhs: [u64; 7],
    /// HMAC-SHA256 evaluations made for this field (tokens and Bloom n-grams).
    pub macs: u64,
}

impl FieldCounts {
    fn add(&mut self, o: &FieldCounts) {
        self.present += o.present;
        self.missing += o.missing;
        self.invalid += o.invalid;
        for (a, b) in self.nhs.iter_mut().zip(o.nhs) {
            *a += b;
        }
        self.macs += o.macs;
    }

    fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Value => self.present += 1,
            Outcome::Missing => self.missing += 1,
            Outcome::Invalid => self.invalid += 1,
        }
    }
}

/// Counts for a chunk, a batch or a whole run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Rows processed.
    pub rows: u64,
    /// One per identifying field, in config order.
    pub fields: Vec<FieldCounts>,
    /// One per pass-through column, in config order.
    pub passthrough: Vec<FieldCounts>,
}

impl Counts {
    /// Zero counts shaped for `plan`.
    pub(crate) fn for_plan(plan: &Plan) -> Counts {
        Counts {
            rows: 0,
            fields: vec![FieldCounts::default(); plan.fields.len()],
            passthrough: vec![FieldCounts::default(); plan.passthrough.len()],
        }
    }

    /// Adds `other` (of the same shape).
    pub fn add(&mut self, other: &Counts) {
        self.rows += other.rows;
        for (a, b) in self.fields.iter_mut().zip(&other.fields) {
            a.add(b);
        }
        for (a, b) in self.passthrough.iter_mut().zip(&other.passthrough) {
            a.add(b);
        }
    }

    /// Total HMAC evaluations.
    pub fn macs(&self) -> u64 {
        self.fields.iter().map(|f| f.macs).sum::<u64>()
    }
}

/// A fixed-width binary output column under construction.
struct FixedCol {
    width: usize,
    data: Vec<u8>,
    valid: Vec<bool>,
}

impl FixedCol {
    fn new(width: usize, rows: usize) -> FixedCol {
        FixedCol { width, data: Vec::with_capacity(width * rows), valid: Vec::with_capacity(rows) }
    }

    /// Appends a zeroed slot and returns it for filling.
    fn push(&mut self) -> &mut [u8] {
        let start = self.data.len();
        self.data.resize(start + self.width, 0);
        self.valid.push(true);
        &mut self.data[start..]
    }

    fn null(&mut self) {
        self.data.resize(self.data.len() + self.width, 0);
        self.valid.push(false);
    }

    fn finish(self) -> ArrayRef {
        let nulls = NullBuffer::from(self.valid);
        let nulls = (nulls.null_count() > 0).then_some(nulls);
        // Infallible: data holds exactly width bytes per validity entry.
        Arc::new(
            FixedSizeBinaryArray::try_new(self.width as i32, Buffer::from_vec(self.data), nulls)
                .expect("fixed-size column is consistent"),
        )
    }
}

/// An output column under construction.
enum OutCol {
    Fixed(FixedCol),
    Code(Vec<Option<&'static str>>),
    /// Small integers: a plain year of birth, a name's frequency band.
    Int(Vec<Option<i32>>),
}

impl OutCol {
    fn fixed(&mut self) -> &mut FixedCol {
        match self {
            OutCol::Fixed(f) => f,
            // The plan builds columns in the order the kernel fills them.
            _ => unreachable!("plan and kernel agree on column kinds"),
        }
    }

    fn int(&mut self) -> &mut Vec<Option<i32>> {
        match self {
            OutCol::Int(y) => y,
            _ => unreachable!("plan and kernel agree on column kinds"),
        }
    }

    fn code(&mut self) -> &mut Vec<Option<&'static str>> {
        match self {
            OutCol::Code(c) => c,
            _ => unreachable!("plan and kernel agree on column kinds"),
        }
    }

    fn finish(self) -> ArrayRef {
        match self {
            OutCol::Fixed(f) => f.finish(),
            OutCol::Code(c) => Arc::new(StringArray::from(c)),
            OutCol::Int(y) => Arc::new(arrow_array::Int32Array::from(y)),
        }
    }
}

/// Reused per-chunk scratch space; wiped on drop because it held plaintext.
#[derive(Default)]
struct Scratch {
    text: String,
    parts: Vec<(usize, usize)>,
    bloom: Vec<u8>,
    seed: Vec<u8>,
    /// A name (or its phonetic code) with its salt, for the `resistant` profile.
    salted: Vec<u8>,
    /// Phonetic codes of the names seen in this chunk. Names repeat heavily (a few are very
    /// common) and Double Metaphone was a visible cost in the profile; the cache lives for one
    /// chunk and its plaintext keys are wiped with it.
    codes: rustc_hash::FxHashMap<String, String>,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        self.text.zeroize();
        self.bloom.zeroize();
        self.seed.zeroize();
        self.salted.zeroize();
        for (mut k, mut v) in self.codes.drain() {
            k.zeroize();
            v.zeroize();
        }
    }
}

/// Longest name or identifier value encoded, in bytes; longer values are unusable.
pub(crate) const MAX_VALUE_BYTES: usize = 1_024;

/// A tokenised chunk: its rows, their counts, and each row's keyed sort key (the output is
/// written in that order, so row order says nothing about the input's).
pub(crate) struct Chunk {
    pub batch: RecordBatch,
    pub counts: Counts,
    pub order: Vec<u64>,
    /// Rows with an unusable value: (row, column, reason), in row order per column.
    pub issues: Vec<Issue>,
}

/// A row's unusable value, for the provider's issues file: where and why, never the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Issue {
    /// 1-based data row.
    pub row: u64,
    /// The config's field (index into its fields, then its pass-through columns after them).
    pub column: u32,
    /// A reason code: an NHS-number status, or `unusable_<type>`.
    pub reason: &'static str,
}

/// The reason code of an unusable value of a field of `kind`.
fn unusable(kind: crate::config::FieldType, raw: &str) -> &'static str {
    use crate::config::FieldType as F;
    match kind {
        // A number that parses was unusable only as one of the config's known dummy numbers.
        F::NhsNumber => NhsNumber::parse(raw).err().map_or("placeholder", NhsNumberStatus::as_str),
        F::GivenName | F::FamilyName | F::Name => "unusable_name",
        F::DateOfBirth | F::Date => "unusable_date",
        F::Postcode => "unusable_postcode",
        F::Sex => "unusable_sex",
        F::Identifier | F::String => "unusable_text",
    }
}

/// Tokenises rows `start..end` of `batch`.
pub(crate) fn tokenise_chunk(
    plan: &Plan,
    batch: &InputBatch,
    start: usize,
    end: usize,
    input_name: &std::path::Path,
) -> Result<Chunk> {
    let rows = end - start;
    let mut counts = Counts::for_plan(plan);
    counts.rows = rows as u64;
    let mut s = Scratch::default();
    let phonetic = Phonetic::default();
    let bloom_bytes = plan.bloom.output_bytes();

    // Record ids, and each row's place in the output: a keyed hash of its plaintext record id
    // and row number, which only someone holding both the key and the input could recompute.
    let ids = &batch.columns[plan.record_id];
    let mut id_out = StringBuilder::with_capacity(rows, rows * 16);
    let mut order = Vec::with_capacity(rows);
    let mut issues: Vec<Issue> = Vec::new();
    let reason_of = |field: &super::plan::FieldPlan, raw: &str| -> &'static str {
        if raw.len() > MAX_VALUE_BYTES { "too_long" } else { unusable(field.kind, raw) }
    };
    for r in start..end {
        let v = if ids.is_null(r) { "" } else { ids.value(r).trim() };
        if v.is_empty() {
            return Err(Error::input(
                Location::file(input_name).at_row(batch.first_row + r as u64).in_column(&plan.record_column),
                "the record id is empty; every record needs an id unique within the extract",
            ));
        }
        s.seed.clear();
        s.seed.extend_from_slice(v.as_bytes());
        s.seed.push(0);
        s.seed.extend_from_slice(&(batch.first_row + r as u64).to_le_bytes());
        let t = plan.row_order.token(&s.seed).0;
        order.push(u64::from_le_bytes([t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7]]));
        match &plan.record_mac {
            None => {
                if !plan.allow_nhs_like_ids && crate::token::nhs_number::looks_like_nhs_number(v) {
                    return Err(Error::input(
                        Location::file(input_name).at_row(batch.first_row + r as u64).in_column(&plan.record_column),
                        "the record id is kept in clear (`mode = \"keep\"`) but holds what looks like an NHS number \
                         (ten of its digits pass the modulus-11 check); use `mode = \"pseudonymise\"`, or another id column",
                    ));
                }
                id_out.append_value(v)
            }
            Some(mac) => {
                // A token is public; hex it on the stack rather than allocate per row.
                let mut hex = [0u8; 2 * TOKEN_BYTES];
                // Infallible: the buffer is twice the token's length.
                hex::encode_to_slice(mac.token(v.as_bytes()).0, &mut hex).expect("hex buffer fits a token");
                id_out.append_value(std::str::from_utf8(&hex).expect("hex is ASCII"));
            }
        }
    }
    let mut arrays: Vec<ArrayRef> = vec![Arc::new(id_out.finish())];

    // The `resistant` profile salts name tokens with each record's full date of birth (none
    // when it is missing or unusable; see below): an insider who groups tokens by the
    // date-of-birth token sees cohorts of a few persons, too small to rank names by frequency.
    let salts: Option<Vec<Salt>> = plan.name_salt.map(|k| {
        let f = &plan.fields[k];
        let input = &batch.columns[f.input];
        (start..end)
            .map(|r| {
                let raw = if input.is_null(r) { "" } else { input.value(r) };
                match &f.encoder {
                    Encoder::Date { formats, min_year, max_year, .. } => {
                        match parse_date(raw, formats, *min_year, *max_year).1 {
                            Some(d) => date_salt(d.year(), d.month(), d.day()),
                            None => *UNKNOWN_DATE,
                        }
                    }
                    _ => *UNKNOWN_DATE,
                }
            })
            .collect()
    });

    // Identifying fields.
    for (fi, field) in plan.fields.iter().enumerate() {
        let input = &batch.columns[field.input];
        let fc = &mut counts.fields[fi];
        let mut cols: Vec<OutCol> = match &field.encoder {
            Encoder::Nhs { .. } => vec![OutCol::Code(Vec::with_capacity(rows)), fixed(rows)],
            Encoder::Name { .. } => {
                let mut v = vec![fixed(rows), fixed(rows), OutCol::Fixed(FixedCol::new(bloom_bytes, rows))];
                if plan.name_bands[fi].is_some() {
                    v.push(OutCol::Int(Vec::with_capacity(rows)));
                }
                v
            }
            Encoder::Date { release_year, .. } => {
                let mut v = vec![fixed(rows), fixed(rows), fixed(rows), fixed(rows)];
                if *release_year {
                    v.push(OutCol::Int(Vec::with_capacity(rows)));
                }
                v
            }
            Encoder::Postcode { .. } => vec![fixed(rows), fixed(rows), fixed(rows), fixed(rows)],
            Encoder::Sex { token: None } => vec![OutCol::Code(Vec::with_capacity(rows))],
            Encoder::Sex { token: Some(_) } => vec![fixed(rows)],
            Encoder::Generic { bloom, .. } => {
                let mut v = vec![fixed(rows)];
                if bloom.is_some() {
                    v.push(OutCol::Fixed(FixedCol::new(bloom_bytes, rows)));
                }
                v
            }
        };
        // Debug builds only: a panic on a chosen value, so that tests can check that a panic
        // never shows an input value (see `cli::hide_panic_payloads`).
        let panic_on = if cfg!(debug_assertions) { std::env::var("PSEUDOLINK_TEST_PANIC_ON_VALUE").ok() } else { None };
        let mut seen_invalid = fc.invalid;
        for r in start..end {
            let raw = if input.is_null(r) { "" } else { input.value(r) };
            // The previous row's value was unusable: listed (a row's processing may `continue`).
            if fc.invalid > seen_invalid && r > start {
                let prev = if input.is_null(r - 1) { "" } else { input.value(r - 1) };
                issues.push(Issue {
                    row: batch.first_row + (r - 1) as u64,
                    column: fi as u32,
                    reason: reason_of(field, prev),
                });
            }
            seen_invalid = fc.invalid;
            if panic_on.as_deref() == Some(raw) {
                panic!("test panic on the value `{raw}`");
            }
            // No name or identifier runs to a kilobyte; a longer value is damage (or an attack on
            // the Bloom encoder, whose cost grows with length) and is counted as unusable.
            if raw.len() > MAX_VALUE_BYTES && matches!(field.encoder, Encoder::Name { .. } | Encoder::Generic { .. }) {
                fc.count(Outcome::Invalid);
                nulls(&mut cols);
                continue;
            }
            match &field.encoder {
                Encoder::Nhs { token, placeholders } => match NhsNumber::parse(raw) {
                    Ok(n) if placeholders.contains(n.digits()) => {
                        let status = NhsNumberStatus::Placeholder;
                        cols[0].code().push(Some(status.as_str()));
                        cols[1].fixed().null();
                        fc.nhs[status as usize] += 1;
                        fc.count(Outcome::Invalid);
                    }
                    Ok(n) => {
                        cols[0].code().push(Some(NhsNumberStatus::Valid.as_str()));
                        token.token_into(n.digits(), cols[1].fixed().push());
                        fc.present += 1;
                        fc.nhs[0] += 1;
                        fc.macs += 1;
                    }
                    Err(status) => {
                        cols[0].code().push(Some(status.as_str()));
                        cols[1].fixed().null();
                        fc.nhs[status as usize] += 1;
                        fc.count(if status == NhsNumberStatus::Missing { Outcome::Missing } else { Outcome::Invalid });
                    }
                },
                Encoder::Name { exact, phonetic: ph, bloom } => {
                    let o = normalise_name(raw, &mut s.text, &mut s.parts);
                    fc.count(o);
                    if o == Outcome::Value {
                        let salt = salts.as_ref().map(|v| v[r - start]);
                        // Salted, but no usable date of birth to salt with: every such record
                        // would share one cohort, as exposed to counting as unsalted tokens, so
                        // the name gets no exact or phonetic token (its Bloom filter remains).
                        let unsalted = salt == Some(*UNKNOWN_DATE);
                        if unsalted {
                            cols[0].fixed().null();
                        } else {
                            salted_into(&mut s.salted, s.text.as_bytes(), salt);
                            exact.token_into(&s.salted, cols[0].fixed().push());
                        }
                        if !s.codes.contains_key(s.text.as_str()) {
                            let code = phonetic.code(&s.text);
                            s.codes.insert(s.text.clone(), code);
                        }
                        let code = &s.codes[s.text.as_str()];
                        if code.is_empty() || unsalted {
                            cols[1].fixed().null();
                        } else {
                            salted_into(&mut s.salted, code.as_bytes(), salt);
                            ph.token_into(&s.salted, cols[1].fixed().push());
                            fc.macs += 1;
                        }
                        fc.macs += 1 + fill_bloom(plan, bloom, &mut s, batch, r, &field.name, cols[2].fixed());
                        if let Some(bands) = &plan.name_bands[fi] {
                            cols[3].int().push(Some(i32::from(bands.band(&s.text))));
                        }
                    } else {
                        nulls(&mut cols);
                    }
                }
                Encoder::Date { full, year_month, year, formats, min_year, max_year, release_year } => {
                    let (o, d) = parse_date(raw, formats, *min_year, *max_year);
                    fc.count(o);
                    match d {
                        Some(d) => {
                            let p = date_parts(d);
                            full.token_into(&p.full, cols[0].fixed().push());
                            match p.swapped {
                                Some(sw) => {
                                    full.token_into(&sw, cols[1].fixed().push());
                                    fc.macs += 1;
                                }
                                None => cols[1].fixed().null(),
                            }
                            year_month.token_into(&p.year_month, cols[2].fixed().push());
                            year.token_into(&p.year, cols[3].fixed().push());
                            fc.macs += 3;
                            if *release_year {
                                cols[4].int().push(Some(d.year()));
                            }
                        }
                        None => nulls(&mut cols),
                    }
                }
                Encoder::Postcode { full, sector, district, area } => {
                    let (o, parts) = normalise_postcode(raw, &mut s.text);
                    fc.count(o);
                    match parts {
                        Some(p) => {
                            let t = s.text.as_bytes();
                            for (i, (mac, len)) in [
                                (full, p.full_len),
                                (sector, p.sector_len),
                                (district, p.district_len),
                                (area, p.area_len),
                            ]
                            .into_iter()
                            .enumerate()
                            {
                                if len == 0 {
                                    cols[i].fixed().null();
                                } else {
                                    mac.token_into(&t[..len], cols[i].fixed().push());
                                    fc.macs += 1;
                                }
                            }
                        }
                        None => nulls(&mut cols),
                    }
                }
                Encoder::Sex { token } => {
                    let (o, v) = normalise_sex(raw);
                    fc.count(o);
                    match (token, v) {
                        (None, v) => cols[0].code().push(v),
                        (Some(mac), Some(v)) => {
                            mac.token_into(v.as_bytes(), cols[0].fixed().push());
                            fc.macs += 1;
                        }
                        (Some(_), None) => cols[0].fixed().null(),
                    }
                }
                Encoder::Generic { identifier, token, bloom } => {
                    let o = if *identifier {
                        normalise_identifier(raw, &mut s.text)
                    } else {
                        normalise_text(raw, &mut s.text)
                    };
                    fc.count(o);
                    if o == Outcome::Value {
                        token.token_into(s.text.as_bytes(), cols[0].fixed().push());
                        fc.macs += 1;
                        if let Some(b) = bloom {
                            fc.macs += fill_bloom(plan, b, &mut s, batch, r, &field.name, cols[1].fixed());
                        }
                    } else {
                        nulls(&mut cols);
                    }
                }
            }
        }
        if fc.invalid > seen_invalid && end > start {
            let last = if input.is_null(end - 1) { "" } else { input.value(end - 1) };
            issues.push(Issue {
                row: batch.first_row + (end - 1) as u64,
                column: fi as u32,
                reason: reason_of(field, last),
            });
        }
        arrays.extend(cols.into_iter().map(OutCol::finish));
    }

    // Pass-through columns.
    for (pi, pass) in plan.passthrough.iter().enumerate() {
        let input = &batch.columns[pass.input];
        let pc = &mut counts.passthrough[pi];
        let value = |r: usize| if input.is_null(r) { "" } else { input.value(r).trim() };
        let array: ArrayRef = match pass.kind {
            PassType::String => {
                let mut b = StringBuilder::with_capacity(rows, rows * 8);
                for r in start..end {
                    let v = value(r);
                    if v.is_empty() {
                        pc.missing += 1;
                        b.append_null();
                    } else {
                        pc.present += 1;
                        b.append_value(v);
                    }
                }
                Arc::new(b.finish())
            }
            PassType::Integer => {
                let mut b = Int64Builder::with_capacity(rows);
                for r in start..end {
                    b.append_option(parse_pass(value(r), pc, |v| v.parse::<i64>().ok()));
                }
                Arc::new(b.finish())
            }
            PassType::Float => {
                let mut b = Float64Builder::with_capacity(rows);
                for r in start..end {
                    b.append_option(parse_pass(value(r), pc, |v| crate::encode::money::parse_money(v, pass.decimal)));
                }
                Arc::new(b.finish())
            }
            PassType::Date => {
                let mut b = Date32Builder::with_capacity(rows);
                let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
                for r in start..end {
                    let v = value(r);
                    let (o, d) = parse_date(v, &pass.formats, PASS_YEARS.0, PASS_YEARS.1);
                    pc.count(o);
                    b.append_option(d.map(|d| (d - epoch).num_days() as i32));
                }
                Arc::new(b.finish())
            }
            PassType::Boolean => {
                let mut b = BooleanBuilder::with_capacity(rows);
                for r in start..end {
                    b.append_option(parse_pass(value(r), pc, parse_bool));
                }
                Arc::new(b.finish())
            }
        };
        // A value present in the input and null in the output did not parse.
        let reason = match pass.kind {
            PassType::String => "unusable_text",
            PassType::Integer => "unusable_integer",
            PassType::Float => "unusable_amount",
            PassType::Date => "unusable_date",
            PassType::Boolean => "unusable_boolean",
        };
        for r in start..end {
            if !value(r).is_empty() && array.is_null(r - start) {
                issues.push(Issue { row: batch.first_row + r as u64, column: (plan.fields.len() + pi) as u32, reason });
            }
        }
        arrays.push(array);
    }

    // Infallible: arrays are built to the plan's schema, all with `rows` rows.
    let out = RecordBatch::try_new(plan.schema.clone(), arrays).expect("kernel output matches the plan's schema");
    issues.sort_unstable();
    Ok(Chunk { batch: out, counts, order, issues })
}

fn fixed(rows: usize) -> OutCol {
    OutCol::Fixed(FixedCol::new(TOKEN_BYTES, rows))
}

fn nulls(cols: &mut [OutCol]) {
    for c in cols {
        match c {
            OutCol::Fixed(f) => f.null(),
            OutCol::Code(v) => v.push(None),
            OutCol::Int(v) => v.push(None),
        }
    }
}

fn fill_bloom(
    plan: &Plan,
    mac: &crate::token::TokenMac,
    s: &mut Scratch,
    batch: &InputBatch,
    r: usize,
    field: &str,
    out: &mut FixedCol,
) -> u64 {
    // BLIP randomness is seeded by the record id and field, so a re-run gives the same bytes.
    s.seed.clear();
    if plan.blip.is_some() {
        let ids = &batch.columns[plan.record_id];
        s.seed.extend_from_slice(ids.value(r).trim().as_bytes());
        s.seed.push(0);
        s.seed.extend_from_slice(field.as_bytes());
    }
    let slot = out.push();
    bloom::encode(&plan.bloom, mac, &s.text, &mut s.bloom, plan.blip.as_ref(), &s.seed, slot)
}

/// A name token's salt: the date of birth as `YYYY-MM-DD`.
type Salt = [u8; 10];

/// The salt of a record without a usable date of birth (its names get no salted token).
const UNKNOWN_DATE: &Salt = b"????-??-??";

/// `YYYY-MM-DD` without allocating (the year clamped to four digits).
fn date_salt(year: i32, month: u32, day: u32) -> Salt {
    let y = year.clamp(0, 9_999) as u32;
    let d = |x: u32| b'0' + (x % 10) as u8;
    [d(y / 1000), d(y / 100), d(y / 10), d(y), b'-', d(month / 10), d(month), b'-', d(day / 10), d(day)]
}

/// `value`, then (with a salt) a NUL and the salt: a name and its date of birth.
fn salted_into(out: &mut Vec<u8>, value: &[u8], salt: Option<Salt>) {
    out.clear();
    out.extend_from_slice(value);
    if let Some(s) = salt {
        out.push(0);
        out.extend_from_slice(&s);
    }
}

fn parse_pass<T>(v: &str, c: &mut FieldCounts, parse: impl Fn(&str) -> Option<T>) -> Option<T> {
    if v.is_empty() {
        c.missing += 1;
        return None;
    }
    let out = parse(v);
    if out.is_some() {
        c.present += 1;
    } else {
        c.invalid += 1;
    }
    out
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "1" => Some(true),
        "false" | "f" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans() {
        assert_eq!(parse_bool("Yes"), Some(true));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
    }
}
