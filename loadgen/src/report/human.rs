//! Numbers for humans: `1.23 M/s`, `456 k/s`, `12.3 ms`, `19.5 MiB`.
//!
//! The markdown and the chart axes show three significant digits, which is as much as a
//! capacity plan can use and as little as a reader can take in at a glance; `report.json` keeps
//! the exact values. Counts that must be exact (lost, duplicate lines) use [`count`] instead.
//!
//! Every function accepts any `f64`: a value that is not finite comes out as `n/a` rather than
//! `NaN` or `inf`, so one bad sample cannot make a report unreadable.

/// What a value that is not finite (or absent) is shown as.
pub const NA: &str = "n/a";

/// Rounds to three significant digits.
fn round3(v: f64) -> f64 {
    if v == 0.0 {
        return 0.0;
    }
    let e = v.abs().log10().floor() as i32;
    let scale = 10f64.powi(e - 2);
    (v / scale).round() * scale
}

/// A value already rounded to three significant digits, with just the decimals those digits
/// need (`123`, `12.3`, `1.23`, `0.0123`). Values of 1000 and more print as integers.
fn digits(r: f64) -> String {
    if r == 0.0 {
        return "0".to_owned();
    }
    let e = r.abs().log10().floor() as i32;
    let decimals = (2 - e).max(0) as usize;
    format!("{r:.decimals$}")
}

/// Three significant digits, without a prefix: `12.3`, `0.456`, `1230`.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return NA.to_owned();
    }
    digits(round3(v))
}

/// Three significant digits with an SI prefix: `456`, `1.23 k`, `45.6 M`.
///
/// The prefix is chosen after rounding, so 999 999 is `1.00 M`, not `1000 k`.
pub fn si(v: f64) -> String {
    const PREFIXES: [&str; 5] = ["", " k", " M", " G", " T"];
    if !v.is_finite() {
        return NA.to_owned();
    }
    let r = round3(v);
    if r.abs() < 1000.0 {
        return digits(r);
    }
    let i = ((r.abs().log10().floor() as usize) / 3).min(PREFIXES.len() - 1);
    format!("{}{}", num(r / 1000f64.powi(i as i32)), PREFIXES[i])
}

/// An axis tick: like [`si`] without trailing zeros (`0`, `2.5`, `30`, `1 k`, `2.5 M`), since
/// ticks fall on round numbers and `30.0` would suggest a precision that is not there.
pub fn tick(v: f64) -> String {
    trim_zeros(&si(v))
}

/// An axis tick without a prefix, for units that have their own (`0.5`, `20`, `1000` ms).
pub fn tick_plain(v: f64) -> String {
    trim_zeros(&num(v))
}

/// `2.50 M` to `2.5 M`, `30.0` to `30`; integers and `n/a` stay as they are.
fn trim_zeros(s: &str) -> String {
    let (number, prefix) = s.split_once(' ').unwrap_or((s, ""));
    let number = if number.contains('.') {
        number.trim_end_matches('0').trim_end_matches('.')
    } else {
        number
    };
    if prefix.is_empty() {
        number.to_owned()
    } else {
        format!("{number} {prefix}")
    }
}

/// A rate per second: `456/s`, `1.23 M/s`.
pub fn rate(per_sec: f64) -> String {
    if !per_sec.is_finite() {
        return NA.to_owned();
    }
    format!("{}/s", si(per_sec))
}

/// A rate of some unit per second: `456 lines/s`, `1.23 M events/s`.
pub fn per_sec(v: f64, unit: &str) -> String {
    if !v.is_finite() {
        return NA.to_owned();
    }
    format!("{} {unit}/s", si(v))
}

/// Milliseconds, switching to seconds from one second on: `0.456 ms`, `12.3 ms`, `1.23 s`.
pub fn ms(v: f64) -> String {
    if !v.is_finite() {
        return NA.to_owned();
    }
    let r = round3(v);
    if r.abs() < 1000.0 {
        format!("{} ms", digits(r))
    } else {
        format!("{} s", num(r / 1000.0))
    }
}

/// Seconds: `12.3 s`.
pub fn secs(v: f64) -> String {
    if !v.is_finite() {
        return NA.to_owned();
    }
    format!("{} s", num(v))
}

/// Bytes with a binary prefix: `512 B`, `1.00 KiB`, `19.5 MiB`.
pub fn bytes(v: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    if !v.is_finite() {
        return NA.to_owned();
    }
    let mut i = 0;
    let mut scaled = v;
    while scaled.abs() >= 1024.0 && i < UNITS.len() - 1 {
        scaled /= 1024.0;
        i += 1;
    }
    format!("{} {}", num(scaled), UNITS[i])
}

/// A percentage: `45.6 %`.
pub fn percent(v: f64) -> String {
    if !v.is_finite() {
        return NA.to_owned();
    }
    format!("{} %", num(v))
}

/// An exact count with thousands separators: `1,234,567`.
pub fn count(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// An exact unsigned count; see [`count`].
pub fn ucount(n: u64) -> String {
    // Counts above i64::MAX do not occur in a run; saturate rather than wrap if one ever did.
    count(i64::try_from(n).unwrap_or(i64::MAX))
}

/// Formats an optional value with `f`, or [`NA`] when it is absent.
pub fn opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map_or_else(|| NA.to_owned(), f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_significant_digits() {
        assert_eq!(num(0.0), "0");
        assert_eq!(num(1.0), "1.00");
        assert_eq!(num(12.34), "12.3");
        assert_eq!(num(123.4), "123");
        assert_eq!(num(0.012345), "0.0123");
        assert_eq!(num(-4.567), "-4.57");
        // Rounding up across a decade must not add a digit.
        assert_eq!(num(9.996), "10.0");
        assert_eq!(num(99.96), "100");
        assert_eq!(num(1234.0), "1230");
    }

    #[test]
    fn si_prefix_boundaries() {
        assert_eq!(si(999.0), "999");
        assert_eq!(si(999.4), "999");
        assert_eq!(si(999.5), "1.00 k");
        assert_eq!(si(1000.0), "1.00 k");
        assert_eq!(si(1234.0), "1.23 k");
        assert_eq!(si(456_000.0), "456 k");
        assert_eq!(si(999_499.0), "999 k");
        assert_eq!(si(999_999.0), "1.00 M");
        assert_eq!(si(1_234_567.0), "1.23 M");
        assert_eq!(si(2.5e9), "2.50 G");
        assert_eq!(si(-1500.0), "-1.50 k");
        assert_eq!(si(5e18), "5000000 T");
    }

    #[test]
    fn ticks_drop_trailing_zeros() {
        assert_eq!(tick(0.0), "0");
        assert_eq!(tick(30.0), "30");
        assert_eq!(tick(2.5), "2.5");
        assert_eq!(tick(100.0), "100");
        assert_eq!(tick(1000.0), "1 k");
        assert_eq!(tick(2_500_000.0), "2.5 M");
        assert_eq!(tick(0.05), "0.05");
        assert_eq!(tick(f64::NAN), NA);
        assert_eq!(tick_plain(1000.0), "1000");
        assert_eq!(tick_plain(0.5), "0.5");
        assert_eq!(tick_plain(20.0), "20");
    }

    #[test]
    fn rates_and_times() {
        assert_eq!(rate(1_234_567.0), "1.23 M/s");
        assert_eq!(rate(456_000.0), "456 k/s");
        assert_eq!(rate(0.0), "0/s");
        assert_eq!(per_sec(1_234_567.0, "events"), "1.23 M events/s");
        assert_eq!(per_sec(456.0, "lines"), "456 lines/s");
        assert_eq!(per_sec(f64::NAN, "lines"), NA);
        assert_eq!(ms(12.34), "12.3 ms");
        assert_eq!(ms(0.456), "0.456 ms");
        assert_eq!(ms(999.4), "999 ms");
        assert_eq!(ms(999.5), "1.00 s");
        assert_eq!(ms(1234.0), "1.23 s");
        assert_eq!(secs(61.0), "61.0 s");
        assert_eq!(percent(45.66), "45.7 %");
        assert_eq!(percent(150.0), "150 %");
    }

    #[test]
    fn binary_byte_boundaries() {
        assert_eq!(bytes(0.0), "0 B");
        assert_eq!(bytes(512.0), "512 B");
        assert_eq!(bytes(1023.0), "1020 B");
        assert_eq!(bytes(1024.0), "1.00 KiB");
        assert_eq!(bytes(19.5 * 1024.0 * 1024.0), "19.5 MiB");
        assert_eq!(bytes(3.0 * 1024f64.powi(3)), "3.00 GiB");
        assert_eq!(bytes(2048.0 * 1024f64.powi(4)), "2050 TiB");
    }

    #[test]
    fn exact_counts() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(count(-12_345), "-12,345");
        assert_eq!(count(i64::MIN), "-9,223,372,036,854,775,808");
        assert_eq!(ucount(u64::MAX), "9,223,372,036,854,775,807");
    }

    #[test]
    fn not_finite_is_not_a_number() {
        for f in [num, si, rate, ms, secs, bytes, percent] {
            assert_eq!(f(f64::NAN), NA);
            assert_eq!(f(f64::INFINITY), NA);
            assert_eq!(f(f64::NEG_INFINITY), NA);
        }
        assert_eq!(opt(None, ms), NA);
        assert_eq!(opt(Some(1.5), ms), "1.50 ms");
    }
}
