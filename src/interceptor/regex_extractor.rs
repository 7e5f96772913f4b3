//! Flume's `regex_extractor` interceptor: the first match of a regular expression in each body
//! (Java's `Matcher.find()`) sets one header per capture group, through that group's
//! serializer: group 1 the first serializer, group 2 the second, and so on.
//!
//! Serializers (`serializers.<s>.type`): the default passes the text through;
//! `org.apache.flume.interceptor.RegexExtractorInterceptorMillisSerializer` parses it with a
//! Joda-Time pattern (`serializers.<s>.pattern`, in the local time zone unless the pattern has
//! one) into milliseconds since the epoch. Bodies are read as UTF-8. Where Flume would store a
//! null header (a group that took no part in the match) or fail the whole batch (a date that
//! does not parse), spate sets no header for that event and says so in its log, at most once a
//! minute.

use std::sync::Arc;

use chrono::format::{parse as parse_date, Parsed, StrftimeItems};
use chrono::{Local, TimeZone};
use regex::Regex;
use tracing::warn;

use crate::throttle::Throttle;

use crate::component::{
    Component, Interceptor, InterceptorSpec, ParseContext, Setting, StartError,
};
use crate::config::{shorten, ConfigError, Props};
use crate::event::Batch;

/// Flume's class name of the millisecond serializer.
pub const MILLIS_SERIALIZER: &str =
    "org.apache.flume.interceptor.RegexExtractorInterceptorMillisSerializer";
/// Flume's class name of the default serializer.
pub const PASS_THROUGH_SERIALIZER: &str =
    "org.apache.flume.interceptor.RegexExtractorInterceptorPassThroughSerializer";

/// Settings of the `regex_extractor` interceptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegexExtractorConfig {
    /// Flume key `regex` (required; checked).
    pub regex: String,
    /// Flume keys `serializers` and `serializers.<s>.*`, in order: one per capture group.
    pub serializers: Vec<Serializer>,
}

/// One serializer: the header a capture group sets, and how its text becomes the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Serializer {
    /// Its name in `serializers`.
    pub id: String,
    /// Key `serializers.<s>.name` (required): the header.
    pub header: String,
    /// Key `serializers.<s>.type` (and `pattern`).
    pub kind: SerializerKind,
}

/// A serializer type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SerializerKind {
    /// The text as it is (the default).
    PassThrough,
    /// A date in the Joda-Time `pattern`, as milliseconds since the epoch; `format` is the
    /// pattern in chrono's syntax.
    Millis { pattern: String, format: String },
}

/// Reads a `regex_extractor` interceptor's settings (the registry's parser).
pub fn parse(p: &mut Props<'_>, _: &ParseContext<'_>) -> Option<Arc<dyn InterceptorSpec>> {
    let regex = match p.get("regex") {
        Some(e) if !e.value.is_empty() => Some(e.value.clone()),
        _ => {
            let hint = format!(
                "add `{} = REGEX` with one capture group per header",
                p.key("regex")
            );
            let err = p.missing(
                "regex",
                "the regex_extractor interceptor needs a `regex`",
                hint,
            );
            p.push(err);
            None
        }
    };
    let compiled = regex
        .as_deref()
        .and_then(|r| super::regex_key(p, "regex", r));
    let ids: Vec<String> = match p.get("serializers") {
        Some(e) if !e.value.trim().is_empty() => {
            e.value.split_whitespace().map(str::to_string).collect()
        }
        _ => {
            let hint = format!(
                "add `{} = s1` and `{}` naming the header of group 1",
                p.key("serializers"),
                p.key("serializers.s1.name")
            );
            let err = p.missing(
                "serializers",
                "the regex_extractor interceptor needs `serializers`",
                hint,
            );
            p.push(err);
            Vec::new()
        }
    };
    let mut serializers = Vec::new();
    for id in &ids {
        let name_key = format!("serializers.{id}.name");
        let header = match p.get(&name_key) {
            Some(e) if !e.value.is_empty() => Some(e.value.clone()),
            _ => {
                let hint = format!("add `{} = HEADER`", p.key(&name_key));
                let err = p.missing(
                    &name_key,
                    format!("serializer `{}` has no `name`", shorten(id)),
                    hint,
                );
                p.push(err);
                None
            }
        };
        let type_key = format!("serializers.{id}.type");
        let pattern_key = format!("serializers.{id}.pattern");
        let kind = match p.get(&type_key).map(|e| (e, e.value.as_str())) {
            None => Some(SerializerKind::PassThrough),
            Some((_, t)) if t.eq_ignore_ascii_case("DEFAULT") || t == PASS_THROUGH_SERIALIZER => {
                Some(SerializerKind::PassThrough)
            }
            Some((_, MILLIS_SERIALIZER)) => match p.get(&pattern_key) {
                Some(e) if !e.value.is_empty() => match joda_to_chrono(&e.value) {
                    Ok(format) => Some(SerializerKind::Millis {
                        pattern: e.value.clone(),
                        format,
                    }),
                    Err(why) => {
                        p.push(ConfigError::at(e, format!("unsupported date pattern: {why}")).hint(
                            "use Joda-Time letters y M d H h m s S a Z E D, and quote literal text in ''",
                        ));
                        None
                    }
                },
                _ => {
                    let hint = format!("add `{} = yyyy-MM-dd HH:mm:ss`", p.key(&pattern_key));
                    let err = p.missing(
                        &pattern_key,
                        "the millisecond serializer needs a `pattern`",
                        hint,
                    );
                    p.push(err);
                    None
                }
            },
            Some((e, t)) => {
                p.push(
                    ConfigError::at(
                        e,
                        format!("serializer type `{}` is not supported by spate", shorten(t)),
                    )
                    .hint(format!(
                        "spate supports DEFAULT (the text as it is) and {MILLIS_SERIALIZER}"
                    )),
                );
                None
            }
        };
        if let (Some(header), Some(kind)) = (header, kind) {
            serializers.push(Serializer {
                id: id.clone(),
                header,
                kind,
            });
        }
    }
    // The keys of serializers not listed are unknown keys: `finish` says so.
    let mut known: Vec<String> = ["type", "regex", "serializers"].map(String::from).to_vec();
    for id in &ids {
        for k in ["name", "type", "pattern"] {
            known.push(format!("serializers.{id}.{k}"));
        }
    }
    let known: Vec<&str> = known.iter().map(String::as_str).collect();
    p.finish("a regex_extractor interceptor", &known);
    if let Some(r) = &compiled {
        let groups = r.captures_len() - 1;
        if groups < serializers.len() && !p.has_errors() {
            let entry = p.get("serializers");
            let err = p
                .error(
                    "serializers",
                    entry,
                    format!("{} serializers for {groups} capture groups: the last ones never set a header", serializers.len()),
                )
                .hint("give the regex one capture group per serializer")
                .warning();
            p.push(err);
        }
    }
    if p.has_errors() {
        return None;
    }
    Some(Arc::new(RegexExtractorConfig {
        regex: regex?,
        serializers,
    }))
}

/// Translates a Joda-Time `DateTimeFormat` pattern into chrono's strftime syntax.
fn joda_to_chrono(pattern: &str) -> Result<String, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let mut n = 1;
        while i + n < chars.len() && chars[i + n] == c {
            n += 1;
        }
        match c {
            '\'' => {
                // '' is a quote; 'text' is literal text.
                if n >= 2 {
                    out.push('\'');
                    i += 2;
                    continue;
                }
                let end = chars[i + 1..]
                    .iter()
                    .position(|&c| c == '\'')
                    .ok_or("an unterminated quote")?;
                for &lit in &chars[i + 1..i + 1 + end] {
                    push_literal(&mut out, lit);
                }
                i += end + 2;
                continue;
            }
            'y' | 'Y' | 'u' => out.push_str(if n == 2 { "%y" } else { "%Y" }),
            'M' => out.push_str(match n {
                1 | 2 => "%m",
                3 => "%b",
                _ => "%B",
            }),
            'd' => out.push_str("%d"),
            'H' => out.push_str("%H"),
            'h' => out.push_str("%I"),
            'm' => out.push_str("%M"),
            's' => out.push_str("%S"),
            'S' => out.push_str(match n {
                1..=3 => "%3f",
                4..=6 => "%6f",
                _ => "%9f",
            }),
            'a' => out.push_str("%p"),
            'Z' => out.push_str(if n == 1 { "%z" } else { "%:z" }),
            'E' => out.push_str(if n >= 4 { "%A" } else { "%a" }),
            'D' => out.push_str("%j"),
            c if c.is_ascii_alphabetic() => {
                return Err(format!("the letter `{c}` is not supported"))
            }
            c => push_literal(&mut out, c),
        }
        i += n;
    }
    Ok(out)
}

fn push_literal(out: &mut String, c: char) {
    if c == '%' {
        out.push_str("%%");
    } else {
        out.push(c);
    }
}

/// Milliseconds since the epoch of `text` in chrono `format`; fields the pattern lacks are
/// Joda's defaults (1970-01-01, midnight), the zone the local one unless the text has one.
fn parse_millis(text: &str, format: &str) -> Option<i64> {
    let mut parsed = Parsed::new();
    parse_date(&mut parsed, text, StrftimeItems::new(format)).ok()?;
    if parsed.year().is_none() && parsed.year_mod_100().is_none() {
        parsed.set_year(1970).ok()?;
    }
    if parsed.month().is_none() && parsed.ordinal().is_none() {
        parsed.set_month(1).ok()?;
    }
    if parsed.day().is_none() && parsed.ordinal().is_none() {
        parsed.set_day(1).ok()?;
    }
    if parsed.hour_div_12().is_none() && parsed.hour_mod_12().is_none() {
        parsed.set_hour(0).ok()?;
    }
    if parsed.minute().is_none() {
        parsed.set_minute(0).ok()?;
    }
    if parsed.offset().is_some() {
        return parsed.to_datetime().ok().map(|d| d.timestamp_millis());
    }
    let naive = parsed.to_naive_datetime_with_offset(0).ok()?;
    Local
        .from_local_datetime(&naive)
        .earliest()
        .map(|d| d.timestamp_millis())
}

impl Component for RegexExtractorConfig {
    fn type_name(&self) -> &'static str {
        "regex_extractor"
    }

    fn describe(&self) -> Vec<Setting> {
        let ids: Vec<&str> = self.serializers.iter().map(|s| s.id.as_str()).collect();
        let mut v = vec![
            Setting::new("regex", &self.regex),
            Setting::new("serializers", ids.join(" ")),
        ];
        for s in &self.serializers {
            v.push(Setting::new(
                format!("serializers.{}.name", s.id),
                &s.header,
            ));
            match &s.kind {
                SerializerKind::PassThrough => v.push(Setting::new(
                    format!("serializers.{}.type", s.id),
                    "DEFAULT",
                )),
                SerializerKind::Millis { pattern, .. } => {
                    v.push(Setting::new(
                        format!("serializers.{}.type", s.id),
                        MILLIS_SERIALIZER,
                    ));
                    v.push(Setting::new(
                        format!("serializers.{}.pattern", s.id),
                        pattern,
                    ));
                }
            }
        }
        v
    }
}

impl InterceptorSpec for RegexExtractorConfig {
    fn build(&self) -> Result<Arc<dyn Interceptor>, StartError> {
        Ok(Arc::new(RegexExtractor {
            regex: Regex::new(&self.regex).map_err(StartError::new)?,
            serializers: self.serializers.clone(),
            warned: Throttle::per_minute(),
        }))
    }
}

/// The `regex_extractor` interceptor.
#[derive(Debug)]
pub struct RegexExtractor {
    regex: Regex,
    serializers: Vec<Serializer>,
    /// When a value was last found that sets no header, for the warning's rate.
    warned: Throttle,
}

impl RegexExtractor {
    fn warn_unset(&self, header: &str, why: &str) {
        if !self.warned.ready() {
            return;
        }
        warn!(
            header,
            "regex_extractor: {why}; the event gets no such header (said at most once a minute)"
        );
    }
}

impl Interceptor for RegexExtractor {
    fn intercept(&self, mut batch: Batch) -> Option<Batch> {
        // The headers of each event first, read from the bodies in place; then set, and only if
        // some event matched.
        let mut found: Vec<Vec<(&str, String)>> = batch
            .bodies()
            .map(|body| {
                let text = String::from_utf8_lossy(body);
                let Some(caps) = self.regex.captures(&text) else {
                    return Vec::new();
                };
                self.serializers
                    .iter()
                    .zip(caps.iter().skip(1))
                    .filter_map(|(s, group)| {
                        // A group that took no part in the match: Flume's null, no header.
                        let text = group?.as_str();
                        let value = match &s.kind {
                            SerializerKind::PassThrough => text.to_string(),
                            SerializerKind::Millis { format, .. } => {
                                match parse_millis(text, format) {
                                    Some(ms) => ms.to_string(),
                                    None => {
                                        let why = format!(
                                            "`{}` is not a date of its pattern",
                                            shorten(text)
                                        );
                                        self.warn_unset(&s.header, &why);
                                        return None;
                                    }
                                }
                            }
                        };
                        Some((s.header.as_str(), value))
                    })
                    .collect()
            })
            .collect();
        if found.iter().any(|f| !f.is_empty()) {
            batch.modify_event_headers(|i, headers| {
                for (key, value) in std::mem::take(&mut found[i]) {
                    headers.insert(key, value);
                }
            });
        }
        Some(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joda_patterns_translate_to_chrono() {
        assert_eq!(
            joda_to_chrono("yyyy-MM-dd HH:mm:ss.SSS").unwrap(),
            "%Y-%m-%d %H:%M:%S.%3f"
        );
        assert_eq!(
            joda_to_chrono("dd/MMM/yyyy:HH:mm:ss Z").unwrap(),
            "%d/%b/%Y:%H:%M:%S %z"
        );
        assert_eq!(
            joda_to_chrono("yyyy-MM-dd'T'HH:mm ''").unwrap(),
            "%Y-%m-%dT%H:%M '"
        );
        assert!(joda_to_chrono("yyyy ww").is_err());
        assert!(joda_to_chrono("yyyy 'open").is_err());
    }

    #[test]
    fn dates_become_milliseconds() {
        let f = joda_to_chrono("yyyy-MM-dd HH:mm:ss Z").unwrap();
        assert_eq!(
            parse_millis("2012-10-17 14:34:44 +0000", &f),
            Some(1_350_484_484_000)
        );
        let f = joda_to_chrono("dd/MMM/yyyy:HH:mm:ss Z").unwrap();
        assert_eq!(
            parse_millis("10/Oct/2000:13:55:36 -0700", &f),
            Some(971_211_336_000)
        );
        assert_eq!(parse_millis("not a date", &f), None);
    }
}
