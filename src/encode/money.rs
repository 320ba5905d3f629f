//! Amounts of money as spreadsheets and finance systems export them: `£1,234.50`, `1.234,50 €`,
//! `(20.00)` for a credit, `-£5`. The decimal separator is the config's choice (`decimal = "."`,
//! the default, or `","`), or `"auto"`: decided value by value where the value itself settles it,
//! and otherwise — `1,234` or `1.234`, a thousand or a bit over one — not guessed: the value is
//! unusable and counted. A value that does not fit the chosen convention (`1.234,50` read with
//! `"."`) is likewise unusable rather than misread.

use serde::{Deserialize, Serialize};

/// Which character separates the decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
pub enum Decimal {
    /// `1,234.50` (UK and US exports).
    #[default]
    #[serde(rename = ".")]
    Point,
    /// `1.234,50` (most of Europe).
    #[serde(rename = ",")]
    Comma,
    /// Decided per value where unambiguous; ambiguous values are unusable.
    #[serde(rename = "auto")]
    Auto,
}

/// Parses an amount of money; `None` when it is not one under `decimal`.
pub fn parse_money(v: &str, decimal: Decimal) -> Option<f64> {
    let mut t = v.trim();
    // At most one sign: accounting brackets, or a minus before or after; `--5` is not an amount.
    let mut signs = 0;
    if let Some(inner) = t.strip_prefix('(').and_then(|x| x.strip_suffix(')')) {
        signs += 1;
        t = inner.trim();
    }
    // Currency symbols and spaces anywhere; a minus before the digits or after them.
    let mut digits = String::with_capacity(t.len());
    for c in t.chars() {
        match c {
            '£' | '€' | '$' | ' ' | '\u{a0}' => {}
            '-' | '\u{2212}' if digits.is_empty() => signs += 1,
            _ => digits.push(c),
        }
    }
    if let Some(d) = digits.strip_suffix('-') {
        signs += 1;
        digits = d.to_string();
    }
    if signs > 1 {
        return None;
    }
    let negative = signs == 1;
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit() || c == '.' || c == ',') {
        return None;
    }
    let point = match decimal {
        Decimal::Point => '.',
        Decimal::Comma => ',',
        Decimal::Auto => auto_decimal(&digits)?,
    };
    let group = if point == '.' { ',' } else { '.' };
    let (whole, frac) = match digits.split_once(point) {
        Some((w, f)) => (w, Some(f)),
        None => (digits.as_str(), None),
    };
    if frac.is_some_and(|f| f.is_empty() || !f.chars().all(|c| c.is_ascii_digit())) {
        return None;
    }
    // Thousands groups: every group after the first exactly three digits.
    let parts: Vec<&str> = whole.split(group).collect();
    if parts.iter().any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()))
        || parts.len() > 1 && (parts[0].len() > 3 || parts[1..].iter().any(|p| p.len() != 3))
    {
        return None;
    }
    let text = format!("{}{}{}", parts.concat(), if frac.is_some() { "." } else { "" }, frac.unwrap_or(""));
    let x: f64 = text.parse().ok().filter(|x: &f64| x.is_finite())?;
    Some(if negative { -x } else { x })
}

/// The decimal separator a value shows, if it settles it: the later of `.` and `,` when both
/// appear; a separator appearing more than once is a thousands separator; one followed by other
/// than three digits is the decimal. `1,234` and `1.234` settle nothing.
fn auto_decimal(d: &str) -> Option<char> {
    let (dots, commas) = (d.matches('.').count(), d.matches(',').count());
    match (dots, commas) {
        (0, 0) => Some('.'),
        (_, 0) if dots > 1 => Some(','),
        (0, _) if commas > 1 => Some('.'),
        (1, 0) | (0, 1) => {
            let sep = if dots == 1 { '.' } else { ',' };
            let after = d.len() - d.find(sep)? - 1;
            if after == 3 { None } else { Some(sep) }
        }
        _ => {
            let last = d.rfind(['.', ','])?;
            Some(d[last..].chars().next()?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_convention_reads_its_own_values_and_refuses_the_others() {
        use Decimal::{Auto, Comma, Point};
        let cases: [(&str, Decimal, Option<f64>); 25] = [
            ("--5", Point, None),
            ("-5-", Point, None),
            ("(-5)", Point, None),
            ("£--5", Auto, None),
            ("-£1,234.50-", Point, None),
            ("£1,234.50", Point, Some(1234.5)),
            ("1234.5", Point, Some(1234.5)),
            ("£1.234,50", Point, None),
            ("1,23.4", Point, None),
            ("(£20.00)", Point, Some(-20.0)),
            ("-£5", Point, Some(-5.0)),
            ("5.00-", Point, Some(-5.0)),
            ("£1.234,50", Comma, Some(1234.5)),
            ("1.234.567,8", Comma, Some(1_234_567.8)),
            ("12,5 €", Comma, Some(12.5)),
            ("£1,234.50", Comma, None),
            ("£1.234,50", Auto, Some(1234.5)),
            ("£1,234.50", Auto, Some(1234.5)),
            ("12,50", Auto, Some(12.5)),
            ("1,234,567", Auto, Some(1_234_567.0)),
            ("1,234", Auto, None),
            ("1.234", Auto, None),
            ("abc", Auto, None),
            ("inf", Point, None),
            ("", Point, None),
        ];
        for (v, d, want) in cases {
            assert_eq!(parse_money(v, d), want, "{v} with {d:?}");
        }
    }
}
