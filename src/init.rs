//! `init`: a tokenise config proposed from the extract itself, for a provider's first run.
//!
//! From a sample of the file's start, [`sniff`] finds the text encoding (UTF-8, else
//! Windows-1252), the delimiter (the one giving every sampled row the same number of fields,
//! more than one), and whether the first row is a header. [`propose`] then types each column by
//! its name and the shape of its values — valid NHS numbers, dates (and their format),
//! postcodes, sex codes, amounts of money, short codes, unique ids — and [`render`] writes a
//! commented config. Values are only ever tested, never printed or written: the config holds
//! column names (header text) and settings.
//!
//! A proposal is conservative where the IG team must decide: only dates, amounts, yes/no flags and
//! short codes are proposed as pass-through, each marked for review; free text is left out.

use std::path::Path;

use crate::config::TextEncoding;
use crate::encode::Outcome;
use crate::encode::date::{DateFormats, parse_date};
use crate::encode::money::{Decimal, parse_money};
use crate::error::{Error, Location, Result};
use crate::token::NhsNumber;

/// Bytes read from the start of the file.
const SAMPLE_BYTES: usize = 1 << 20;
/// Data rows examined per column.
const SAMPLE_ROWS: usize = 5_000;
/// Date formats tried, most specific first; four-digit years only (two-digit years are left to
/// the IG team: which century "61" means is not a guess to make silently).
const DATE_FORMATS: [&str; 9] =
    ["%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y%m%d", "%d-%b-%Y", "%d %b %Y", "%d %B %Y", "%m/%d/%Y"];

/// What the start of the file shows.
#[derive(Debug, Clone)]
pub struct Sniffed {
    /// Text encoding.
    pub encoding: TextEncoding,
    /// Field delimiter.
    pub delimiter: char,
    /// Whether the first row is a header.
    pub has_header: bool,
    /// Column names (the header, or `column_1` …).
    pub columns: Vec<String>,
    /// Sampled data rows (never shown).
    rows: Vec<Vec<String>>,
}

/// Reads the start of `path` and works out how to read it.
pub fn sniff(path: &Path) -> Result<Sniffed> {
    use std::io::Read;
    let mut bytes = Vec::with_capacity(SAMPLE_BYTES);
    std::fs::File::open(path)
        .map_err(|e| Error::io("opening input", path, e))?
        .take(SAMPLE_BYTES as u64)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("reading input", path, e))?;
    // Whole lines only.
    if bytes.len() == SAMPLE_BYTES {
        if let Some(end) = bytes.iter().rposition(|&b| b == b'\n') {
            bytes.truncate(end + 1);
        }
    }
    if bytes.starts_with(b"\xFE\xFF")
        || bytes.starts_with(b"\xFF\xFE")
        || bytes.iter().take(4096).filter(|&&b| b == 0).count() > 8
    {
        return Err(Error::input(
            Location::file(path),
            "is UTF-16 text (or holds NUL bytes); export it as UTF-8 or Windows-1252 CSV",
        ));
    }
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    // UTF-8 unless its invalid sequences outnumber its valid multi-byte characters: one stray
    // byte in a UTF-8 export must not turn every accented name into mojibake.
    let (mut valid, mut invalid) = (0usize, 0usize);
    for chunk in body.utf8_chunks() {
        valid += chunk.valid().chars().filter(|c| !c.is_ascii()).count();
        invalid += usize::from(!chunk.invalid().is_empty());
    }
    let (text, encoding) = if invalid == 0 || valid > invalid {
        (String::from_utf8_lossy(body).into_owned(), TextEncoding::Utf8)
    } else {
        (encoding_rs::WINDOWS_1252.decode_without_bom_handling(body).0.into_owned(), TextEncoding::Windows1252)
    };
    if text.trim().is_empty() {
        return Err(Error::input(Location::file(path), "is empty; export the extract again, with its header row"));
    }
    let mut best: Option<(char, Vec<Vec<String>>)> = None;
    for d in [',', '|', '\t', ';'] {
        let rows: Vec<Vec<String>> = csv::ReaderBuilder::new()
            .delimiter(d as u8)
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes())
            .records()
            .filter_map(|r| r.ok())
            .filter(|r| !r.iter().all(|f| f.trim().is_empty()))
            .take(SAMPLE_ROWS + 1)
            .map(|r| r.iter().map(str::to_string).collect())
            .collect();
        let width = rows.first().map_or(0, Vec::len);
        let consistent = width > 1 && rows.iter().all(|r| r.len() == width);
        if consistent && best.as_ref().is_none_or(|(_, b)| width > b[0].len()) {
            best = Some((d, rows));
        }
    }
    let Some((delimiter, mut rows)) = best else {
        return Err(Error::input(
            Location::file(path),
            "could not be read as a delimited file (comma, pipe, tab or semicolon with the same number of fields on \
             every row); export it as CSV",
        ));
    };
    let first = rows[0].clone();
    let has_header = is_header(&first, &rows[1..]);
    let columns = if has_header {
        rows.remove(0);
        first.iter().map(|f| f.trim().to_string()).collect()
    } else {
        (1..=first.len()).map(|i| format!("column_{i}")).collect()
    };
    Ok(Sniffed { encoding, delimiter, has_header, columns, rows })
}

/// Words header names are made of: a first row holding several is a header.
const HEADER_WORDS: [&str; 40] = [
    "id",
    "ref",
    "no",
    "number",
    "nhs",
    "name",
    "forename",
    "surname",
    "given",
    "family",
    "first",
    "last",
    "dob",
    "birth",
    "date",
    "postcode",
    "post",
    "code",
    "sex",
    "gender",
    "cost",
    "amount",
    "type",
    "setting",
    "method",
    "service",
    "episode",
    "encounter",
    "attendance",
    "admission",
    "discharge",
    "arrival",
    "contact",
    "patient",
    "record",
    "key",
    "status",
    "source",
    "specialty",
    "team",
];

/// The shape class of a value: 0 empty, 1 a date, 2 digits, 3 text.
fn shape(v: &str) -> u8 {
    let t = v.trim();
    if t.is_empty() {
        0
    } else if parse_date(t, &DateFormats::defaults(), 1000, 3000).0 == Outcome::Value {
        1
    } else if t.chars().all(|c| c.is_ascii_digit() || " .-/£,:()".contains(c)) {
        2
    } else {
        3
    }
}

/// Whether `first` is a header row above `rest`: none of its cells is shaped like data (a number
/// or a date), and either two or more of them are made of header words or, in at least half the
/// columns, the column's values are mostly numbers or dates under a text cell. A first row of
/// names and codes that merely looks like text is taken as data: its cells would otherwise be
/// printed and written as column names.
fn is_header(first: &[String], rest: &[Vec<String>]) -> bool {
    if first.iter().any(|f| matches!(shape(f), 1 | 2)) {
        return false;
    }
    let words = first
        .iter()
        .filter(|f| {
            let lower = f.to_lowercase();
            lower.split(|c: char| !c.is_alphanumeric()).any(|w| HEADER_WORDS.contains(&w))
                || HEADER_WORDS.iter().any(|w| w.len() > 3 && lower.contains(w))
        })
        .count();
    let contrast = (0..first.len())
        .filter(|&c| {
            let shapes: Vec<u8> = rest.iter().filter_map(|r| r.get(c)).map(|v| shape(v)).filter(|&s| s != 0).collect();
            !shapes.is_empty() && shapes.iter().filter(|&&s| s != 3).count() * 2 > shapes.len()
        })
        .count();
    words >= 2 || contrast * 2 >= first.len()
}

/// What a column is proposed to be.
#[derive(Debug, Clone, PartialEq)]
pub enum Proposal {
    /// The record id.
    RecordId,
    /// An identifying field of this type (`nhs_number`, `given_name` …), with date formats.
    Field(&'static str, Option<String>),
    /// A pass-through column of this type, with date formats or a decimal convention.
    Passthrough(&'static str, Option<String>, Option<Decimal>),
    /// Left out, with the reason.
    LeftOut(&'static str),
}

/// Share of the non-empty values of column `c` for which `test` holds, and how many there are.
fn share(s: &Sniffed, c: usize, mut test: impl FnMut(&str) -> bool) -> (f64, usize) {
    let values: Vec<&str> =
        s.rows.iter().filter_map(|r| r.get(c)).map(|v| v.trim()).filter(|v| !v.is_empty()).collect();
    if values.is_empty() {
        return (0.0, 0);
    }
    (values.iter().filter(|v| test(v)).count() as f64 / values.len() as f64, values.len())
}

/// The date format that reads at least 90% of column `c`'s values, if any.
fn date_format(s: &Sniffed, c: usize) -> Option<&'static str> {
    DATE_FORMATS.into_iter().find(|f| {
        let Ok(formats) = DateFormats::new(&[f.to_string()]) else { return false };
        share(s, c, |v| parse_date(v, &formats, 1880, 2100).0 == Outcome::Value).0 >= 0.9
    })
}

fn name_has(name: &str, words: &[&str]) -> bool {
    let n: String = name.to_lowercase().chars().map(|c| if c.is_alphanumeric() { c } else { ' ' }).collect();
    let squashed: String = n.split_whitespace().collect();
    words.iter().any(|w| {
        let w2: String = w.split_whitespace().collect();
        n.split_whitespace().any(|t| t == *w) || squashed.contains(&w2) && w2.len() > 3
    })
}

/// Whether header `name` (lower-cased, squashed to letters and digits) contains any of `words`.
fn squashed_has(name: &str, words: &[&str]) -> bool {
    let squashed: String = name.to_lowercase().chars().filter(|c| c.is_alphanumeric()).collect();
    words.iter().any(|w| squashed.contains(w))
}

/// Column names that must never pass through in clear, whatever their values look like.
const NEVER_CLEAR: [&str; 16] = [
    "name", "alias", "email", "mail", "phone", "tel", "mobile", "address", "street", "town", "nok", "kin", "gp",
    "doctor", "note", "comment",
];

/// Activity dates that may pass through (never a birth or death).
const ACTIVITY_DATES: [&str; 18] = [
    "admi",
    "attend",
    "arriv",
    "discharg",
    "activit",
    "encounter",
    "contact",
    "servic",
    "appoint",
    "episode",
    "start",
    "end",
    "referr",
    "event",
    "visit",
    "procedur",
    "spell",
    "session",
];

/// Short codes that may pass through by name (a setting, a method of admission …).
const CODE_NAMES: [&str; 13] = [
    "setting",
    "type",
    "method",
    "service",
    "specialt",
    "source",
    "destination",
    "outcome",
    "category",
    "team",
    "priority",
    "mode",
    "pathway",
];

/// A proposal per column, in column order. Conservative where it matters: identifying fields
/// by name and shape; pass-through only for columns whose names say they are activity (dates,
/// amounts, flags, short codes) and whose values fit; nothing passes through from a file without
/// a header, and a name that could hold identifiers never does.
pub fn propose(s: &Sniffed) -> Vec<Proposal> {
    let n = s.columns.len();
    let mut out = vec![Proposal::LeftOut("free text or not recognised: left out"); n];
    let mut taken = std::collections::BTreeSet::new();
    let assign =
        |out: &mut Vec<Proposal>, taken: &mut std::collections::BTreeSet<&'static str>, c: usize, p: Proposal| {
            if let Proposal::Field(kind, _) = &p {
                if !taken.insert(*kind) {
                    return;
                }
            }
            out[c] = p;
        };
    let usable_name = |c: usize| {
        s.has_header && !s.columns[c].trim().is_empty() && s.columns.iter().filter(|x| **x == s.columns[c]).count() == 1
    };
    for c in 0..n {
        if !usable_name(c) {
            // No name to go by (a header-less file, or an empty or repeated header name): only
            // an NHS number or a postcode is recognised, by its values alone; nothing passes.
            if !s.has_header {
                let mut pc = String::new();
                if share(s, c, |v| NhsNumber::parse(v).is_ok()).0 >= 0.8 {
                    assign(&mut out, &mut taken, c, Proposal::Field("nhs_number", None));
                } else if share(s, c, |v| crate::encode::postcode::normalise_postcode(v, &mut pc).0 == Outcome::Value).0
                    >= 0.8
                {
                    assign(&mut out, &mut taken, c, Proposal::Field("postcode", None));
                }
            }
            continue;
        }
        let name = &s.columns[c];
        let nhs = share(s, c, |v| NhsNumber::parse(v).is_ok()).0;
        if name_has(name, &["nhs", "nhs number", "nhsno"]) && nhs >= 0.5 || nhs >= 0.8 {
            assign(&mut out, &mut taken, c, Proposal::Field("nhs_number", None));
            continue;
        }
        if name_has(name, &["forename", "forenames", "given", "first name", "firstname", "given name", "first names"]) {
            assign(&mut out, &mut taken, c, Proposal::Field("given_name", None));
            continue;
        }
        if name_has(name, &["surname", "family", "last name", "lastname", "family name"]) {
            assign(&mut out, &mut taken, c, Proposal::Field("family_name", None));
            continue;
        }
        let date = date_format(s, c);
        if squashed_has(name, &["dob", "birth", "born"]) {
            if let Some(f) = date {
                assign(&mut out, &mut taken, c, Proposal::Field("date_of_birth", Some(f.to_string())));
            }
            continue;
        }
        let mut pc = String::new();
        let postcode = share(s, c, |v| crate::encode::postcode::normalise_postcode(v, &mut pc).0 == Outcome::Value).0;
        if name_has(name, &["postcode", "post code", "postal code"]) && postcode >= 0.5 || postcode >= 0.8 {
            assign(&mut out, &mut taken, c, Proposal::Field("postcode", None));
            continue;
        }
        let sex = share(s, c, |v| crate::encode::category::normalise_sex(v).0 == Outcome::Value).0;
        if name_has(name, &["sex", "gender"]) && sex >= 0.8 {
            assign(&mut out, &mut taken, c, Proposal::Field("sex", None));
            continue;
        }
        if squashed_has(name, &NEVER_CLEAR) || squashed_has(name, &["death", "died"]) || nhs > 0.0 {
            continue;
        }
        if let Some(f) = date {
            if squashed_has(name, &ACTIVITY_DATES) {
                out[c] = Proposal::Passthrough("date", Some(f.to_string()), None);
            }
            continue;
        }
        let money_name = squashed_has(name, &["cost", "price", "amount", "tariff", "spend", "charge", "fee"]);
        let points = share(s, c, |v| parse_money(v, Decimal::Point).is_some()).0;
        let commas = share(s, c, |v| parse_money(v, Decimal::Comma).is_some()).0;
        // An amount column holding NHS numbers (9434765919.00) is not an amount.
        let nhs_like = share(s, c, |v| NhsNumber::parse(v.split(['.', ',']).next().unwrap_or("")).is_ok()).0;
        // An export may hold both conventions (rows keyed on two systems): "auto" reads each value.
        let either =
            share(s, c, |v| parse_money(v, Decimal::Point).is_some() || parse_money(v, Decimal::Comma).is_some()).0;
        if money_name && either >= 0.9 && nhs_like == 0.0 {
            let decimal = if points >= 0.99 && commas < 0.99 {
                Decimal::Point
            } else if commas >= 0.99 && points < 0.99 {
                Decimal::Comma
            } else {
                Decimal::Auto
            };
            out[c] = Proposal::Passthrough("float", None, Some(decimal));
            continue;
        }
        let flag = share(s, c, |v| {
            matches!(
                v.to_ascii_lowercase().as_str(),
                "true" | "false" | "t" | "f" | "yes" | "no" | "y" | "n" | "1" | "0"
            )
        });
        if flag.0 >= 0.99 && flag.1 > 0 {
            out[c] = Proposal::Passthrough("boolean", None, None);
            continue;
        }
        // Short codes by name (a setting, a method of admission): few distinct short values.
        let values: std::collections::BTreeSet<&str> =
            s.rows.iter().filter_map(|r| r.get(c)).map(|v| v.trim()).filter(|v| !v.is_empty()).collect();
        let rows_with = s.rows.iter().filter(|r| r.get(c).is_some_and(|v| !v.trim().is_empty())).count();
        if squashed_has(name, &CODE_NAMES)
            && !values.is_empty()
            && values.len() <= 50
            && values.len() * 4 <= rows_with.max(1)
            && values.iter().all(|v| v.len() <= 30)
        {
            out[c] = Proposal::Passthrough("string", None, None);
        }
    }
    // The record id: a column named as an id whose sampled values are all present and distinct
    // (in a file without a header, the first such column that is not an identifying field).
    let unique = |c: usize| {
        let vals: Vec<&str> = s.rows.iter().filter_map(|r| r.get(c)).map(|v| v.trim()).collect();
        !vals.is_empty()
            && vals.iter().all(|v| !v.is_empty())
            && vals.iter().collect::<std::collections::BTreeSet<_>>().len() == vals.len()
    };
    let id_named = |c: usize| {
        usable_name(c)
            && (name_has(&s.columns[c], &["id", "ref", "reference", "key", "number", "no"])
                || squashed_has(
                    &s.columns[c],
                    &["episode", "encounter", "attendance", "record", "spell", "case", "contact"],
                ))
    };
    let free = |c: usize| matches!(out[c], Proposal::LeftOut(_));
    let pick = if s.has_header {
        (0..n).find(|&c| free(c) && id_named(c) && unique(c))
    } else {
        (0..n).find(|&c| free(c) && unique(c))
    };
    if let Some(c) = pick {
        out[c] = Proposal::RecordId;
    }
    out
}

/// Quotes `s` as a TOML basic string.
fn quoted(s: &str) -> String {
    let mut q = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            c if c.is_control() => q.push_str(&format!("\\u{:04X}", c as u32)),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

/// The commented config for `s` and `proposals`, with `source` as its source code.
pub fn render(s: &Sniffed, proposals: &[Proposal], source: &str, input: &Path) -> String {
    use std::fmt::Write as _;
    let mut t = String::new();
    let _ = writeln!(t, "# Tokenise config proposed by `pseudolink init` from {}.", input.display());
    let _ =
        writeln!(t, "# Review every line before the first run: `pseudolink tokenise --check` reads the file with it,");
    let _ = writeln!(t, "# and docs/config.md explains each setting. Only the columns below leave your organisation:");
    let _ = writeln!(t, "# identifying fields as keyed tokens, pass-through columns in clear.\n");
    let _ = writeln!(t, "source = {}\n", quoted(source));
    let _ = writeln!(t, "[input]");
    let _ = writeln!(t, "delimiter = {}", quoted(&s.delimiter.to_string()));
    let enc = match s.encoding {
        TextEncoding::Utf8 => "utf-8",
        TextEncoding::Windows1252 => "windows-1252",
    };
    let _ = writeln!(t, "encoding = {}", quoted(enc));
    let _ = writeln!(t, "has_header = {}", s.has_header);
    if !s.has_header {
        let _ =
            writeln!(t, "# The first row holds values, not names: columns are named column_1, column_2 … in order.");
    }
    let _ = writeln!(t);
    match proposals.iter().position(|p| *p == Proposal::RecordId) {
        Some(c) => {
            let _ = writeln!(t, "[record_id]");
            let _ = writeln!(
                t,
                "# Unique on every sampled row. Pseudonymised (a keyed token) unless you set mode = \"keep\"."
            );
            let _ = writeln!(t, "column = {}\n", quoted(&s.columns[c]));
        }
        None => {
            let _ = writeln!(t, "[record_id]");
            let _ =
                writeln!(t, "# No column was unique on every sampled row: name the export's row or episode id here.");
            let _ = writeln!(t, "column = \"\"\n");
        }
    }
    for (c, p) in proposals.iter().enumerate() {
        if let Proposal::Field(kind, formats) = p {
            let _ = writeln!(t, "[[field]]");
            let _ = writeln!(t, "column = {}", quoted(&s.columns[c]));
            let _ = writeln!(t, "type = {}", quoted(kind));
            if let Some(f) = formats {
                let _ = writeln!(t, "formats = [{}]", quoted(f));
            }
            // Release choices the TRE's population views need, left for the IG team to agree.
            match *kind {
                "date_of_birth" => {
                    let _ = writeln!(
                        t,
                        "# release_year = true   # the year of birth in clear: the TRE's age groups need it (agree it first)"
                    );
                }
                "sex" => {
                    let _ = writeln!(
                        t,
                        "# plain = true          # sex in clear: the TRE's population views need it (agree it first)"
                    );
                }
                _ => {}
            }
            let _ = writeln!(t);
        }
    }
    // The first activity date and the first amount take the names the TRE's timeline reads.
    let mut named_date = false;
    let mut named_cost = false;
    for (c, p) in proposals.iter().enumerate() {
        if let Proposal::Passthrough(kind, formats, decimal) = p {
            let _ = writeln!(t, "# Leaves in clear: keep only if your data-sharing agreement allows this column.");
            let _ = writeln!(t, "[[passthrough]]");
            let _ = writeln!(t, "column = {}", quoted(&s.columns[c]));
            let _ = writeln!(t, "type = {}", quoted(kind));
            if let Some(f) = formats {
                let _ = writeln!(t, "formats = [{}]", quoted(f));
            }
            match decimal {
                Some(Decimal::Comma) => {
                    let _ = writeln!(t, "decimal = \",\"");
                }
                Some(Decimal::Auto) => {
                    let _ = writeln!(
                        t,
                        "decimal = \"auto\"   # both conventions seen; ambiguous values (1,234) are counted unusable"
                    );
                }
                _ => {}
            }
            if *kind == "date" && !named_date {
                named_date = true;
                let _ = writeln!(t, "as = \"activity_date\"   # the event date the TRE's timeline reads");
            } else if *kind == "float" && !named_cost {
                named_cost = true;
                let _ = writeln!(t, "as = \"cost\"            # the event's cost the TRE's timeline reads");
            }
            let _ = writeln!(t);
        }
    }
    let left: Vec<String> = proposals
        .iter()
        .enumerate()
        .filter(|(_, p)| matches!(p, Proposal::LeftOut(_)))
        .map(|(c, _)| quoted(&s.columns[c]))
        .collect();
    if !left.is_empty() {
        let _ =
            writeln!(t, "# Left out (free text, or not recognised; add a [[field]] or [[passthrough]] to use one):");
        for l in left {
            let _ = writeln!(t, "#   {l}");
        }
    }
    t
}

/// The dataset templates `init --dataset` starts from (the files in `examples/configs/`).
pub const DATASETS: &[(&str, &str)] = &[
    ("acute_apc", include_str!("../examples/configs/acute_apc.toml")),
    ("emergency_ecds", include_str!("../examples/configs/emergency_ecds.toml")),
    ("gp", include_str!("../examples/configs/gp.toml")),
    ("community_csds", include_str!("../examples/configs/community_csds.toml")),
    ("mental_health_mhsds", include_str!("../examples/configs/mental_health_mhsds.toml")),
    ("adult_social_care_cld", include_str!("../examples/configs/adult_social_care_cld.toml")),
];

/// A header name reduced for matching a template's column to an export's: lower case, letters
/// and digits only (`PERSON_BIRTH_DATE`, `Person Birth Date` and `person-birth-date` agree).
fn loose(name: &str) -> String {
    name.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect()
}

/// The config a dataset template gives for the sniffed export: each template column matched to
/// the export's header (exactly, else by [`loose`] spelling) and renamed to it; a field or
/// pass-through column the export lacks is commented out and listed; the delimiter and encoding
/// are the sniffed ones, and a date column's format is the one found in its values. The record
/// id column must be found. Returns the config's text and the template columns not found.
pub fn from_template(s: &Sniffed, dataset: &str, source: Option<&str>) -> Result<(String, Vec<String>)> {
    let Some((_, template)) = DATASETS.iter().find(|(k, _)| *k == dataset) else {
        return Err(Error::usage(format!(
            "--dataset `{dataset}` is not one of {}",
            DATASETS.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
        )));
    };
    let proposals = propose(s);
    let find = |wanted: &str| {
        s.columns.iter().position(|c| c == wanted).or_else(|| s.columns.iter().position(|c| loose(c) == loose(wanted)))
    };
    // Blocks: the text from one `[` header line to the next.
    let mut blocks: Vec<Vec<String>> = vec![Vec::new()];
    for line in template.lines() {
        if line.starts_with('[') {
            blocks.push(Vec::new());
        }
        blocks.last_mut().expect("one block at least").push(line.to_string());
    }
    let mut missing = Vec::new();
    let mut out = String::new();
    for block in &mut blocks {
        let header = block.first().cloned().unwrap_or_default();
        let column = block.iter().find_map(|l| l.strip_prefix("column = \"").and_then(|r| r.split('"').next()));
        let found = column.map(|c| (c.to_string(), find(c)));
        match (&found, header.as_str()) {
            (Some((c, None)), "[record_id]") => {
                return Err(Error::usage(format!(
                    "--dataset {dataset}: the export has no record id column like `{c}`; nothing was written. Name \
                     the id column so, or run init without --dataset"
                )));
            }
            (Some((c, None)), _) => {
                missing.push(c.clone());
                out.push_str(&format!(
                    "# Not in this export (`{c}`): left out. Add the column, or delete this block.\n"
                ));
                for l in block.iter() {
                    out.push_str(&format!("# {l}\n"));
                }
                continue;
            }
            _ => {}
        }
        let index = found.as_ref().and_then(|(_, i)| *i);
        let sniffed_format = index.and_then(|i| match proposals.get(i) {
            Some(Proposal::Field(_, Some(f)) | Proposal::Passthrough(_, Some(f), _)) => Some(f.clone()),
            _ => None,
        });
        for l in block.iter() {
            let line = if l.starts_with("column = ") {
                format!("column = {}", quoted(&s.columns[index.unwrap_or(0)]))
            } else if l.starts_with("delimiter = ") {
                format!("delimiter = {}", quoted(&s.delimiter.to_string()))
            } else if l.starts_with("encoding = ") {
                let e = match s.encoding {
                    TextEncoding::Utf8 => "utf-8",
                    TextEncoding::Windows1252 => "windows-1252",
                };
                format!("encoding = \"{e}\"           # found in the file")
            } else if l.starts_with("source = ") && source.is_some() {
                format!("source = {}", quoted(source.unwrap_or_default()))
            } else if let (true, Some(f)) = (l.starts_with("formats = "), &sniffed_format) {
                format!("formats = [{}]       # found in the file's values", quoted(f))
            } else {
                l.clone()
            };
            out.push_str(&line);
            out.push('\n');
        }
    }
    Ok((out, missing))
}
