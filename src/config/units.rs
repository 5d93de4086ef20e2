//! Durations (`"200ms"`, `"1.5s"`, `"2m"`) and percentages (`"20%"`, `"0.5%"`).
//!
//! Strict on purpose: ASCII digits, an optional fraction with at least one digit on each
//! side of the point, then the unit with no space. No signs, exponents or unit aliases, so a
//! typo is an error rather than a surprise.

use std::fmt;
use std::time::Duration;

use super::Percent;

/// Units a duration may carry, with their length in microseconds.
const DURATION_UNITS: [(&str, u64); 5] = [
    ("us", 1),
    ("ms", 1_000),
    ("s", 1_000_000),
    ("m", 60_000_000),
    ("h", 3_600_000_000),
];

/// Why a duration or percentage string was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitError {
    /// Not `<digits>[.<digits>]<unit>`.
    DurationSyntax,
    /// More fractional digits than the unit resolves to whole microseconds.
    DurationPrecision,
    /// Does not fit a `u64` of microseconds.
    DurationRange,
    /// Not `<digits>[.<digits>]%`.
    PercentSyntax,
    /// More than two decimals (the resolution is a hundredth of a percent).
    PercentPrecision,
    /// Over 100 %.
    PercentRange,
}

impl fmt::Display for UnitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UnitError::DurationSyntax => "expected a number with a unit (us, ms, s, m, h)",
            UnitError::DurationPrecision => "finer than a microsecond",
            UnitError::DurationRange => "too large",
            UnitError::PercentSyntax => "expected a percentage such as \"20%\" or \"0.5%\"",
            UnitError::PercentPrecision => "at most two decimals (0.01% resolution)",
            UnitError::PercentRange => "over 100%",
        })
    }
}

/// A non-negative decimal split at its point: `"1.25"` is `("1", "25")`.
struct Decimal<'a> {
    int: &'a str,
    frac: &'a str,
}

/// Splits `text` into a decimal number and the rest. `None` unless the number is ASCII
/// digits with, if there is a point, at least one digit on both sides.
fn split_decimal(text: &str) -> Option<(Decimal<'_>, &str)> {
    // Every byte before `end` is ASCII, so `end` is a char boundary.
    let end = text
        .bytes()
        .position(|b| !(b.is_ascii_digit() || b == b'.'))
        .unwrap_or(text.len());
    let (number, rest) = text.split_at(end);
    let (int, frac) = match number.split_once('.') {
        Some((int, frac)) => (int, frac),
        None => (number, ""),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || (number.contains('.') && !digits(frac)) {
        return None;
    }
    Some((Decimal { int, frac }, rest))
}

/// Why [`scaled`] failed.
enum ScaleError {
    Overflow,
    /// The fraction is finer than one unit of the scale.
    Precision,
}

/// `int.frac × scale` in whole units. `scale` is a power of ten.
fn scaled(number: &Decimal<'_>, scale: u64) -> Result<u64, ScaleError> {
    let int: u64 = number.int.parse().map_err(|_| ScaleError::Overflow)?;
    let mut value = int.checked_mul(scale).ok_or(ScaleError::Overflow)?;
    let mut place = scale;
    for digit in number.frac.bytes() {
        place /= 10;
        let d = u64::from(digit - b'0');
        if place == 0 {
            if d != 0 {
                return Err(ScaleError::Precision);
            }
            continue;
        }
        value = value.checked_add(d * place).ok_or(ScaleError::Overflow)?;
    }
    Ok(value)
}

/// Parses `"200ms"`, `"1.5s"`, `"2m"`, `"1h"`, `"250us"`.
pub fn parse_duration(text: &str) -> Result<Duration, UnitError> {
    let (number, unit) = split_decimal(text).ok_or(UnitError::DurationSyntax)?;
    let unit_us = DURATION_UNITS
        .iter()
        .find(|(name, _)| *name == unit)
        .map(|(_, us)| *us)
        .ok_or(UnitError::DurationSyntax)?;
    match scaled(&number, unit_us) {
        Ok(us) => Ok(Duration::from_micros(us)),
        Err(ScaleError::Overflow) => Err(UnitError::DurationRange),
        Err(ScaleError::Precision) => Err(UnitError::DurationPrecision),
    }
}

/// Parses `"20%"`, `"0.5%"`, `"100%"` into hundredths of a percent.
pub fn parse_percent(text: &str) -> Result<Percent, UnitError> {
    let (number, rest) = split_decimal(text).ok_or(UnitError::PercentSyntax)?;
    if rest != "%" {
        return Err(UnitError::PercentSyntax);
    }
    match scaled(&number, 100) {
        Ok(v) if v <= 10_000 => Ok(Percent(v as u16)),
        Ok(_) | Err(ScaleError::Overflow) => Err(UnitError::PercentRange),
        Err(ScaleError::Precision) => Err(UnitError::PercentPrecision),
    }
}

/// Formats a duration in the largest unit that keeps it a whole number (`"300ms"`,
/// `"10s"`, `"2m"`), the inverse of [`parse_duration`] for whole microseconds.
pub fn format_duration(d: Duration) -> String {
    let us = d.as_micros();
    for (name, unit_us) in DURATION_UNITS.iter().rev() {
        let unit_us = u128::from(*unit_us);
        if us != 0 && us % unit_us == 0 {
            return format!("{}{}", us / unit_us, name);
        }
    }
    if us == 0 {
        "0s".to_string()
    } else {
        format!("{us}us")
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, hundredths) = (self.0 / 100, self.0 % 100);
        match hundredths {
            0 => write!(f, "{whole}%"),
            h if h % 10 == 0 => write!(f, "{whole}.{}%", h / 10),
            h => write!(f, "{whole}.{h:02}%"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn durations_in_every_unit() {
        let good = [
            ("250us", Duration::from_micros(250)),
            ("200ms", ms(200)),
            ("1s", ms(1_000)),
            ("1.5s", ms(1_500)),
            ("0.25s", ms(250)),
            ("2m", ms(120_000)),
            ("1.5m", ms(90_000)),
            ("1h", ms(3_600_000)),
            ("0s", ms(0)),
            ("007ms", ms(7)),
            ("1.000000s", ms(1_000)),
            ("0.001ms", Duration::from_micros(1)),
            ("1.0us", Duration::from_micros(1)),
        ];
        for (text, want) in good {
            assert_eq!(parse_duration(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn hostile_durations() {
        use UnitError::*;
        let bad = [
            ("", DurationSyntax),
            ("1", DurationSyntax),
            ("-1s", DurationSyntax),
            ("+1s", DurationSyntax),
            ("1e9h", DurationSyntax),
            ("1.s", DurationSyntax),
            (".5s", DurationSyntax),
            ("1..5s", DurationSyntax),
            ("1.2.3s", DurationSyntax),
            ("ms", DurationSyntax),
            ("10 sec", DurationSyntax),
            ("10 s", DurationSyntax),
            (" 1s", DurationSyntax),
            ("1s ", DurationSyntax),
            ("1S", DurationSyntax),
            ("1sec", DurationSyntax),
            ("1µs", DurationSyntax),
            ("１s", DurationSyntax),
            ("1ｓ", DurationSyntax),
            ("1d", DurationSyntax),
            ("0x10s", DurationSyntax),
            ("1_000ms", DurationSyntax),
            ("9999999999999999999s", DurationRange),
            ("99999999999999999999999999us", DurationRange),
            ("5124095576.1h", DurationRange),
            ("0.5us", DurationPrecision),
            ("1.0000001s", DurationPrecision),
        ];
        for (text, want) in bad {
            assert_eq!(parse_duration(text), Err(want), "{text:?}");
        }
    }

    #[test]
    fn percentages() {
        let good = [
            ("20%", 2_000),
            ("0.5%", 50),
            ("0.05%", 5),
            ("12.34%", 1_234),
            ("100%", 10_000),
            ("100.00%", 10_000),
            ("0%", 0),
            ("5.10%", 510),
        ];
        for (text, want) in good {
            assert_eq!(parse_percent(text), Ok(Percent(want)), "{text}");
        }
        use UnitError::*;
        let bad = [
            ("", PercentSyntax),
            ("20", PercentSyntax),
            ("%", PercentSyntax),
            ("-1%", PercentSyntax),
            ("20 %", PercentSyntax),
            ("20%%", PercentSyntax),
            ("1.%", PercentSyntax),
            ("２０%", PercentSyntax),
            ("0.001%", PercentPrecision),
            ("100.01%", PercentRange),
            ("101%", PercentRange),
            ("99999999999999999999%", PercentRange),
        ];
        for (text, want) in bad {
            assert_eq!(parse_percent(text), Err(want), "{text:?}");
        }
    }

    #[test]
    fn formats_round_trip() {
        for text in ["250us", "300ms", "1s", "10s", "2m", "1h", "1500ms", "0s"] {
            let d = parse_duration(text).unwrap();
            assert_eq!(format_duration(d), text);
        }
        for (p, text) in [
            (2_000, "20%"),
            (50, "0.5%"),
            (5, "0.05%"),
            (1_234, "12.34%"),
        ] {
            assert_eq!(Percent(p).to_string(), text);
        }
    }
}
