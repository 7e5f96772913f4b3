//! How long generated lines are: one fixed size, a uniform range, or shaped like real logs.
//!
//! Fixed and uniform lines are the numbered header followed by `x` filler, for throughput
//! measurements where only the byte count matters. The shaped kinds ([`LineSizes::Access`],
//! [`LineSizes::App`]) give bodies that look like web access logs or application logs (see
//! [`super::shapes`]), so that an agent's parsers and interceptors see realistic text and a
//! realistic spread of sizes.
//!
//! In a scenario file the size is written `size = 128`, `size = { min = 64, max = 512 }`,
//! `size = "access"` or `size = "app"`; on the command line `128`, `64-512`, `access`, `app`.

use std::fmt;
use std::str::FromStr;

use anyhow::{bail, Result};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::shapes;
use crate::line::{HEADER_LEN, MIN_LINE_SIZE};

/// Largest line accepted, newline included (the receiver's default `--max-line` takes it).
pub const MAX_LINE_SIZE: usize = 1 << 20;

/// Lines sampled by [`LineSizes::mean`] for the shaped kinds.
const MEAN_SAMPLE: usize = 4096;

/// The size (and, for the shaped kinds, the text) of generated lines. Sizes count the whole line:
/// the 42-byte numbered header, the body and the trailing `\n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineSizes {
    /// Every line this many bytes.
    Fixed(usize),
    /// Each line's size drawn uniformly from `min..=max`.
    Uniform { min: usize, max: usize },
    /// Combined-log-format web access lines, mostly 150-350 bytes with a tail of long URLs.
    Access,
    /// Application log lines (timestamp, level, logger, message), occasionally a long one.
    App,
}

impl LineSizes {
    /// Checks the sizes against the line format: at least [`MIN_LINE_SIZE`], at most
    /// [`MAX_LINE_SIZE`], and `min <= max`. Errors name the `size` field.
    pub fn check(&self) -> Result<()> {
        let in_bounds = |what: &str, n: usize| -> Result<()> {
            if n < MIN_LINE_SIZE {
                bail!(
                    "size: {what}{n} is too small: a numbered line needs at least {MIN_LINE_SIZE} \
                     bytes (16-digit seq, 19-digit timestamp, 4-digit stream, separators, newline)"
                );
            }
            if n > MAX_LINE_SIZE {
                bail!("size: {what}{n} is too large (at most {MAX_LINE_SIZE} bytes)");
            }
            Ok(())
        };
        match *self {
            LineSizes::Fixed(n) => in_bounds("", n),
            LineSizes::Uniform { min, max } => {
                in_bounds("min ", min)?;
                in_bounds("max ", max)?;
                if min > max {
                    bail!("size: min {min} is larger than max {max}");
                }
                Ok(())
            }
            LineSizes::Access | LineSizes::App => Ok(()),
        }
    }

    /// Mean line size in bytes, newline included: exact for fixed and uniform sizes, measured
    /// over a sample of [`MEAN_SAMPLE`] lines (fixed seed) for the shaped kinds.
    pub fn mean(&self) -> f64 {
        match *self {
            LineSizes::Fixed(n) => n as f64,
            LineSizes::Uniform { min, max } => (min + max) as f64 / 2.0,
            LineSizes::Access | LineSizes::App => {
                let mut rng = fastrand::Rng::with_seed(0);
                let mut body = Vec::new();
                let mut total = 0usize;
                for i in 0..MEAN_SAMPLE {
                    body.clear();
                    self.shape(&mut rng, i, &mut body);
                    total += HEADER_LEN + body.len() + 1;
                }
                total as f64 / MEAN_SAMPLE as f64
            }
        }
    }

    /// Appends the body of line number `i` of a pool (without header or newline) to `out`, for
    /// the shaped kinds; fixed and uniform sizes have no body text and append nothing.
    pub(crate) fn shape(&self, rng: &mut fastrand::Rng, i: usize, out: &mut Vec<u8>) {
        match self {
            LineSizes::Access => shapes::access(rng, i, out),
            LineSizes::App => shapes::app(rng, i, out),
            LineSizes::Fixed(_) | LineSizes::Uniform { .. } => {}
        }
    }
}

impl fmt::Display for LineSizes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineSizes::Fixed(n) => write!(f, "{n}"),
            LineSizes::Uniform { min, max } => write!(f, "{min}-{max}"),
            LineSizes::Access => f.write_str("access"),
            LineSizes::App => f.write_str("app"),
        }
    }
}

const EXPECTED: &str =
    "a line size in bytes (128), a range (64-512, or { min = 64, max = 512 } in a \
                        scenario file), \"access\" or \"app\"";

/// Parses the command-line form: `128`, `64-512`, `access` or `app`. Bounds are checked by
/// [`LineSizes::check`], not here.
impl FromStr for LineSizes {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        let number = |t: &str| -> Result<usize> {
            t.trim()
                .parse()
                .map_err(|_| anyhow::anyhow!("size: {s:?} is not {EXPECTED}"))
        };
        match s {
            "access" => Ok(LineSizes::Access),
            "app" => Ok(LineSizes::App),
            _ => match s.split_once('-') {
                Some((min, max)) => Ok(LineSizes::Uniform {
                    min: number(min)?,
                    max: number(max)?,
                }),
                None => Ok(LineSizes::Fixed(number(s)?)),
            },
        }
    }
}

impl<'de> Deserialize<'de> for LineSizes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SizesVisitor)
    }
}

struct SizesVisitor;

impl<'de> Visitor<'de> for SizesVisitor {
    type Value = LineSizes;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(EXPECTED)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<LineSizes, E> {
        usize::try_from(v)
            .map(LineSizes::Fixed)
            .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<LineSizes, E> {
        usize::try_from(v)
            .map(LineSizes::Fixed)
            .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<LineSizes, E> {
        v.parse()
            .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LineSizes, A::Error> {
        let (mut min, mut max) = (None, None);
        while let Some(key) = map.next_key::<String>()? {
            let slot = match key.as_str() {
                "min" => &mut min,
                "max" => &mut max,
                _ => return Err(de::Error::unknown_field(&key, &["min", "max"])),
            };
            if slot.is_some() {
                return Err(de::Error::custom(format_args!("duplicate field `{key}`")));
            }
            *slot = Some(map.next_value::<usize>()?);
        }
        match (min, max) {
            (Some(min), Some(max)) => Ok(LineSizes::Uniform { min, max }),
            (None, _) => Err(de::Error::missing_field("min")),
            (_, None) => Err(de::Error::missing_field("max")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        size: LineSizes,
    }

    fn toml_size(text: &str) -> Result<LineSizes, String> {
        toml::from_str::<Doc>(text)
            .map(|d| d.size)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn reads_every_toml_form() {
        assert_eq!(toml_size("size = 128"), Ok(LineSizes::Fixed(128)));
        assert_eq!(
            toml_size("size = { min = 64, max = 512 }"),
            Ok(LineSizes::Uniform { min: 64, max: 512 })
        );
        assert_eq!(toml_size("size = \"access\""), Ok(LineSizes::Access));
        assert_eq!(toml_size("size = \"app\""), Ok(LineSizes::App));
        assert_eq!(
            toml_size("size = \"64-512\""),
            Ok(LineSizes::Uniform { min: 64, max: 512 })
        );
    }

    #[test]
    fn toml_errors_say_what_is_expected() {
        for bad in [
            "size = \"huge\"",
            "size = -5",
            "size = 1.5",
            "size = [1, 2]",
        ] {
            let err = toml_size(bad).unwrap_err();
            assert!(err.contains("a line size in bytes"), "{bad}: {err}");
        }
        let err = toml_size("size = { min = 64 }").unwrap_err();
        assert!(err.contains("missing field `max`"), "{err}");
        let err = toml_size("size = { min = 64, max = 80, avg = 70 }").unwrap_err();
        assert!(err.contains("unknown field `avg`"), "{err}");
    }

    #[test]
    fn reads_the_command_line_form_and_prints_it_back() {
        for s in ["128", "64-512", "access", "app"] {
            assert_eq!(s.parse::<LineSizes>().unwrap().to_string(), s);
        }
        assert_eq!(
            " 64 - 512 ".parse::<LineSizes>().unwrap(),
            LineSizes::Uniform { min: 64, max: 512 }
        );
        for bad in ["", "x", "64-", "-5", "1.5", "64-512-1024"] {
            let err = bad.parse::<LineSizes>().unwrap_err().to_string();
            assert!(err.starts_with("size: "), "{bad}: {err}");
        }
    }

    #[test]
    fn check_names_the_field_and_the_limit() {
        assert!(LineSizes::Fixed(MIN_LINE_SIZE).check().is_ok());
        assert!(LineSizes::Fixed(MAX_LINE_SIZE).check().is_ok());
        assert!(LineSizes::Access.check().is_ok());
        let err = |s: LineSizes| s.check().unwrap_err().to_string();
        assert!(err(LineSizes::Fixed(42)).contains("size: 42 is too small"));
        assert!(err(LineSizes::Fixed(MAX_LINE_SIZE + 1)).contains("too large"));
        assert!(err(LineSizes::Uniform { min: 10, max: 100 }).contains("size: min 10"));
        assert!(err(LineSizes::Uniform {
            min: 100,
            max: 1 << 30
        })
        .contains("size: max"));
        assert!(err(LineSizes::Uniform { min: 200, max: 100 }).contains("larger than max"));
    }

    #[test]
    fn mean_is_exact_or_measured() {
        assert_eq!(LineSizes::Fixed(128).mean(), 128.0);
        assert_eq!(LineSizes::Uniform { min: 64, max: 512 }.mean(), 288.0);
        let access = LineSizes::Access.mean();
        assert!((150.0..450.0).contains(&access), "{access}");
        let app = LineSizes::App.mean();
        assert!((100.0..400.0).contains(&app), "{app}");
        assert_eq!(LineSizes::App.mean(), app, "the sample is seeded");
    }
}
