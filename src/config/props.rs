//! Typed reading of one component's properties, with unknown-key detection.
//!
//! A [`Props`] holds the properties of one component (`a1.sources.r1.*`). Every getter marks the
//! property as used; [`Props::finish`] then warns about each property nobody asked for as an
//! unknown key, with the closest known key as a hint. All problems are collected, never returned
//! early.

use std::path::PathBuf;
use std::time::Duration;

use super::error::{shorten, ConfigError};
use super::properties::Entry;

/// The properties of one component and the errors found while reading them.
#[derive(Debug)]
pub struct Props<'a> {
    /// `a1.sources.r1.`: prepended to property names to form full keys.
    pub prefix: String,
    /// The prefix as shown in messages, a long component name shortened.
    shown_prefix: String,
    /// Property name (after the prefix) and entry, in file order.
    entries: Vec<(&'a str, &'a Entry)>,
    used: Vec<bool>,
    /// Where errors about missing properties point: the component's first entry.
    anchor: (Option<PathBuf>, Option<usize>),
    /// Problems found so far.
    pub errors: Vec<ConfigError>,
    /// Properties whose value was invalid (the default was used in their place).
    failed: Vec<String>,
}

impl<'a> Props<'a> {
    /// The properties `entries` of component `name`, whose keys start with `prefix`.
    pub fn new(prefix: String, entries: Vec<(&'a str, &'a Entry)>) -> Self {
        let shown_prefix = match prefix.strip_suffix('.').and_then(|p| p.rsplit_once('.')) {
            Some((kind, name)) => format!("{kind}.{}.", shorten(name)),
            None => shorten(&prefix).into_owned(),
        };
        let anchor = entries
            .iter()
            .map(|(_, e)| (e.file.clone(), Some(e.line)))
            .next()
            .unwrap_or((None, None));
        let used = vec![false; entries.len()];
        Props {
            prefix,
            shown_prefix,
            entries,
            used,
            anchor,
            errors: Vec::new(),
            failed: Vec::new(),
        }
    }

    /// The full key of property `prop`.
    pub fn key(&self, prop: &str) -> String {
        format!("{}{prop}", self.prefix)
    }

    /// The key of property `prop` as shown in messages (see [`shorten`]).
    pub fn shown(&self, prop: &str) -> String {
        format!("{}{}", self.shown_prefix, shorten(prop))
    }

    /// An error about `prop` located at its entry, or at the component when it is absent.
    pub fn error(
        &self,
        prop: &str,
        entry: Option<&Entry>,
        message: impl Into<String>,
    ) -> ConfigError {
        match entry {
            Some(e) => ConfigError::at(e, message),
            None => ConfigError::new(message)
                .located(self.anchor.0.as_deref(), self.anchor.1)
                .key(self.key(prop)),
        }
    }

    /// Records an error.
    pub fn push(&mut self, error: ConfigError) {
        self.errors.push(error);
    }

    /// Whether `prop` was set to an invalid value (so that nothing is checked against the
    /// default used in its place).
    pub fn failed(&self, prop: &str) -> bool {
        self.failed.iter().any(|f| f == prop)
    }

    /// The error for a required property `prop` that is absent, with `hint`. When a property
    /// nobody asked for looks like a misspelling of it (`typ` for `type`), the error is at that
    /// property's line and says so instead, and that property is not reported again as unknown.
    pub fn missing(&mut self, prop: &str, message: impl Into<String>, hint: String) -> ConfigError {
        let near = (0..self.entries.len())
            .filter(|&i| !self.used[i])
            .find(|&i| suggest(self.entries[i].0, [prop]).is_some());
        match near {
            Some(i) => {
                self.used[i] = true;
                ConfigError::at(self.entries[i].1, message)
                    .hint(format!("did you mean `{}`?", shorten(prop)))
            }
            None => self.error(prop, None, message).hint(hint),
        }
    }

    /// Whether an error (not a warning) was recorded.
    pub fn has_errors(&self) -> bool {
        self.errors.iter().any(|e| !e.is_warning())
    }

    /// The entry for `prop`, marking it used.
    pub fn get(&mut self, prop: &str) -> Option<&'a Entry> {
        let i = self.entries.iter().position(|(p, _)| *p == prop)?;
        self.used[i] = true;
        Some(self.entries[i].1)
    }

    /// Every property under `prefix` (e.g. `filegroups.`), as (rest, entry), marking them used.
    pub fn take_prefixed(&mut self, prefix: &str) -> Vec<(&'a str, &'a Entry)> {
        let mut out = Vec::new();
        for (i, (p, e)) in self.entries.iter().enumerate() {
            if let Some(rest) = p.strip_prefix(prefix) {
                self.used[i] = true;
                out.push((rest, *e));
            }
        }
        out
    }

    /// A required non-empty string: absent or empty is an error saying `message`, with a hint
    /// showing `example` as its value.
    pub fn required(&mut self, prop: &str, message: &str, example: &str) -> Option<String> {
        match self.get(prop) {
            Some(e) if !e.value.is_empty() => Some(e.value.clone()),
            Some(e) => {
                let hint = format!("give `{}` a value, e.g. {example}", self.shown(prop));
                self.push(ConfigError::at(e, message).hint(hint));
                None
            }
            None => {
                let hint = format!("add `{} = {example}`", self.shown(prop));
                let err = self.missing(prop, message, hint);
                self.push(err);
                None
            }
        }
    }

    /// A required TCP or UDP port, `min` to 65535: absent is an error saying `message`.
    pub fn port(&mut self, prop: &str, message: &str, min: u16) -> Option<u16> {
        if self.get(prop).is_some() {
            return self
                .int(prop, 0, u64::from(min), 65535, "port")
                .map(|n| n as u16);
        }
        let hint = format!(
            "add `{} = PORT` ({} to 65535)",
            self.shown(prop),
            min.max(1)
        );
        let err = self.missing(prop, message, hint);
        self.push(err);
        None
    }

    /// A non-empty string, or `default`.
    pub fn string(&mut self, prop: &str, default: &str) -> String {
        match self.get(prop) {
            None => default.to_string(),
            Some(e) if e.value.is_empty() => {
                let err = ConfigError::at(e, "empty value").hint(format!(
                    "remove the line to use the default `{default}`, or give a value"
                ));
                self.push(err);
                default.to_string()
            }
            Some(e) => e.value.clone(),
        }
    }

    /// A boolean (`true`/`false`, any case), or `default`.
    pub fn bool(&mut self, prop: &str, default: bool) -> bool {
        let Some(e) = self.get(prop) else {
            return default;
        };
        match e.value.to_ascii_lowercase().as_str() {
            "true" => true,
            "false" => false,
            _ => {
                let err = ConfigError::at(
                    e,
                    format!(
                        "`{}` is not a boolean: expected true or false",
                        shorten(&e.value)
                    ),
                );
                self.push(err);
                default
            }
        }
    }

    /// One of `options` (names matched in any case), or `default`; an unrecognised value is an
    /// error listing the options.
    pub fn choice<T: Copy>(&mut self, prop: &str, default: T, options: &[(&str, T)]) -> T {
        let Some(e) = self.get(prop) else {
            return default;
        };
        let value = e.value.to_ascii_lowercase();
        if let Some(&(_, v)) = options.iter().find(|(name, _)| *name == value) {
            return v;
        }
        let names: Vec<&str> = options.iter().map(|(name, _)| *name).collect();
        let err = ConfigError::at(
            e,
            format!(
                "invalid value `{}`: expected {}",
                shorten(&e.value),
                names.join(" or ")
            ),
        );
        self.push(err);
        default
    }

    /// An integer in `min..=max` (`what` names the unit), or `default` when absent. Returns
    /// `None` (and records an error) when present but invalid.
    pub fn int(&mut self, prop: &str, default: u64, min: u64, max: u64, what: &str) -> Option<u64> {
        let Some(e) = self.get(prop) else {
            return Some(default);
        };
        match parse_int(&e.value) {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                let expected = if max == u64::MAX || max == i64::MAX as u64 {
                    if min == 0 {
                        format!("a non-negative integer ({what})")
                    } else if min == 1 {
                        format!("a positive integer ({what})")
                    } else {
                        format!("an integer of at least {min} ({what})")
                    }
                } else {
                    format!("an integer from {min} to {max} ({what})")
                };
                let err = ConfigError::at(
                    e,
                    format!("invalid value `{}`: expected {expected}", shorten(&e.value)),
                );
                self.push(err);
                self.failed.push(prop.to_string());
                None
            }
        }
    }

    /// A positive Java `int`, as Flume reads most of its numbers (1 to [`JAVA_INT_MAX`]); on
    /// error the default is used (the error is recorded).
    pub fn positive(&mut self, prop: &str, default: usize, what: &str) -> usize {
        self.int(prop, default as u64, 1, JAVA_INT_MAX, what)
            .map_or(default, |n| n as usize)
    }

    /// A duration in milliseconds from `min_ms` to `max_ms`.
    pub fn millis(&mut self, prop: &str, default_ms: u64, min_ms: u64, max_ms: u64) -> Duration {
        let ms = self.int(prop, default_ms, min_ms, max_ms, "milliseconds");
        Duration::from_millis(ms.unwrap_or(default_ms))
    }

    /// Reports every unused property as unknown, with a warning: Flume ignores keys it does not
    /// read, and so does spate. `known` lists the valid property names (for the hint); pattern
    /// entries such as `filegroups.<group>` are shown but not suggested.
    pub fn finish(&mut self, kind: &str, known: &[&str]) {
        for (i, (prop, e)) in self.entries.iter().enumerate() {
            if self.used[i] {
                continue;
            }
            let candidates = known.iter().filter(|k| !k.contains('<'));
            let hint = match suggest(prop, candidates.copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("valid keys for {kind}: {}", known.join(", ")),
            };
            let err = ConfigError::at(
                e,
                format!("unknown key `{}` for {kind}, ignored", shorten(prop)),
            )
            .hint(hint)
            .warning();
            self.errors.push(err);
        }
        self.used.iter_mut().for_each(|u| *u = true);
    }
}

/// The largest Java `int`: Flume reads most numbers with `Context.getInteger`, so a larger value
/// does not start Flume either.
pub const JAVA_INT_MAX: u64 = i32::MAX as u64;

/// The longest duration accepted where Flume reads a `long` of milliseconds: one year, far above
/// any useful setting and far below what would overflow a deadline.
pub const MAX_MILLIS: u64 = 365 * 24 * 3600 * 1000;

/// Parses a decimal integer as Java's `Long.parseLong` does for non-negative values (an
/// optional `+`, then digits).
pub(crate) fn parse_int(s: &str) -> Option<u64> {
    let digits = s.strip_prefix('+').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Names longer than this get no "did you mean" hint and are not suggested: a typo is made in a
/// name one types, and comparing two names costs the product of their lengths.
pub(crate) const MAX_SUGGEST_LEN: usize = 64;

/// The work (characters compared, plus one per candidate looked at) that the hints of one
/// configuration may take; past it, there are no more hints. A configuration of thousands of
/// misspelt names against thousands of listed ones would otherwise be quadratic.
pub(crate) const SUGGEST_BUDGET: u64 = 5_000_000;

thread_local! {
    static SUGGEST_LEFT: std::cell::Cell<u64> = const { std::cell::Cell::new(SUGGEST_BUDGET) };
}

/// Gives the hints of the next configuration their full [`SUGGEST_BUDGET`].
pub(crate) fn reset_suggest_budget() {
    SUGGEST_LEFT.with(|left| left.set(SUGGEST_BUDGET));
}

/// What is left of this thread's [`SUGGEST_BUDGET`].
#[cfg(test)]
pub(crate) fn suggest_budget_left() -> u64 {
    SUGGEST_LEFT.with(std::cell::Cell::get)
}

/// Takes `cost` from the budget; false (and nothing taken) when there is not that much left.
fn spend(cost: u64) -> bool {
    SUGGEST_LEFT.with(|left| match left.get().checked_sub(cost) {
        Some(rest) => {
            left.set(rest);
            true
        }
        None => false,
    })
}

/// The candidate closest to `word`, if it is close enough to be a plausible typo: at most one
/// edit away (which catches short names such as `ri` for `r1`), or similar by Jaro-Winkler.
///
/// Bounded: a word or candidate longer than [`MAX_SUGGEST_LEN`] is not compared, and all the
/// comparisons of one configuration share [`SUGGEST_BUDGET`].
pub(crate) fn suggest<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    if word.len() > MAX_SUGGEST_LEN {
        return None;
    }
    let lower = word.to_ascii_lowercase();
    let mut best: Option<(usize, f64, &str)> = None;
    for c in candidates {
        let cost = 1 + (lower.len() * c.len().min(MAX_SUGGEST_LEN)) as u64;
        if !spend(cost) {
            break;
        }
        if c.len() > MAX_SUGGEST_LEN {
            continue;
        }
        let cl = c.to_ascii_lowercase();
        let edits = strsim::osa_distance(&lower, &cl);
        let score = strsim::jaro_winkler(&lower, &cl);
        let plausible = edits <= 1 || score >= 0.8;
        let better = best.is_none_or(|(e, s, _)| (edits, -score) < (e, -s));
        if plausible && better {
            best = Some((edits, score, c));
        }
    }
    best.map(|(_, _, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_int_forms() {
        assert_eq!(parse_int("42"), Some(42));
        assert_eq!(parse_int("+7"), Some(7));
        for bad in [
            "",
            "-1",
            "1.5",
            "1e3",
            "0x10",
            " 1",
            "99999999999999999999999",
        ] {
            assert_eq!(parse_int(bad), None, "{bad}");
        }
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            suggest("batchsize", ["batchSize", "skipToEnd"]),
            Some("batchSize")
        );
        assert_eq!(
            suggest("postionFile", ["positionFile", "fileHeader"]),
            Some("positionFile")
        );
        assert_eq!(suggest("zzz", ["batchSize", "skipToEnd"]), None);
        assert_eq!(suggest("ri", ["r1", "r2x"]), Some("r1"));
        assert_eq!(suggest("g1", ["f1", "f2"]), Some("f1"));
        assert_eq!(suggest("k9", ["a", "xyz"]), None);
    }

    #[test]
    fn suggestions_are_bounded() {
        reset_suggest_budget();
        // A long word is not compared at all.
        let long = "a".repeat(10_000);
        assert_eq!(suggest(&long, ["aaa", long.as_str()]), None);
        assert_eq!(suggest_budget_left(), SUGGEST_BUDGET);
        // A long candidate costs as much as a MAX_SUGGEST_LEN one, and is not suggested.
        let huge = "b".repeat(100_000);
        assert_eq!(
            suggest("batchsize", [huge.as_str(), "batchSize"]),
            Some("batchSize")
        );
        let spent = SUGGEST_BUDGET - suggest_budget_left();
        assert_eq!(spent, (1 + 9 * MAX_SUGGEST_LEN as u64) + (1 + 9 * 9));
        assert_eq!(suggest("a", [long.as_str()]), None);
        // Past the budget, there are no more hints, however many words are checked.
        let names: Vec<String> = (0..100_000).map(|i| format!("name{i:06}")).collect();
        let mut rounds = 0;
        while suggest("name00000x", names.iter().map(String::as_str)).is_some() {
            rounds += 1;
            assert!(rounds < 1_000, "the budget does not run out");
        }
        assert!(
            suggest_budget_left() < 1 + 10 * 10,
            "{}",
            suggest_budget_left()
        );
        assert_eq!(suggest("batchsize", ["batchSize"]), None);
        reset_suggest_budget();
        assert_eq!(suggest("batchsize", ["batchSize"]), Some("batchSize"));
    }
}
