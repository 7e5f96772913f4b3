//! Flume's `search_replace` interceptor: replaces every match of a regular expression in each
//! body (Java's `Matcher.replaceAll`).
//!
//! The replacement is written as in Java: `$1` and `${name}` name groups, `\` makes the next
//! character literal. A reference to a group the pattern lacks is refused when the
//! configuration is read (Flume fails on it at each event). Bodies are read as UTF-8, bytes that
//! are not UTF-8 becoming U+FFFD, as Java's decoder does.

use std::sync::Arc;

use regex::Regex;
use tracing::warn;

use crate::component::{
    Component, Interceptor, InterceptorSpec, ParseContext, Setting, StartError,
};
use crate::config::Props;
use crate::event::Batch;

/// Settings of the `search_replace` interceptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchReplaceConfig {
    /// Flume key `searchPattern` (required; checked).
    pub search_pattern: String,
    /// Flume key `replaceString`, default empty: in Java's replacement syntax.
    pub replace_string: String,
    /// The replacement in the regex crate's syntax.
    replacement: String,
    /// Flume key `charset`, default UTF-8 (the only one spate reads).
    pub charset: String,
}

const KEYS: &[&str] = &["type", "searchPattern", "replaceString", "charset"];

/// Reads a `search_replace` interceptor's settings (the registry's parser).
pub fn parse(p: &mut Props<'_>, _: &ParseContext<'_>) -> Option<Arc<dyn InterceptorSpec>> {
    let search = match p.get("searchPattern") {
        Some(e) if !e.value.is_empty() => Some(e.value.clone()),
        Some(e) => {
            let err = crate::config::ConfigError::at(e, "empty `searchPattern`")
                .hint("give the regular expression to replace");
            p.push(err);
            None
        }
        None => {
            let hint = format!("add `{} = REGEX`", p.key("searchPattern"));
            let err = p.missing(
                "searchPattern",
                "the search_replace interceptor needs a `searchPattern`",
                hint,
            );
            p.push(err);
            None
        }
    };
    let regex = search
        .as_deref()
        .and_then(|s| super::regex_key(p, "searchPattern", s));
    let replace_string = p
        .get("replaceString")
        .map_or_else(String::new, |e| e.value.clone());
    let replacement =
        match &regex {
            Some(r) => {
                match java_replacement(&replace_string, r) {
                    Ok(rep) => Some(rep),
                    Err(why) => {
                        let entry = p.get("replaceString");
                        let err = p
                    .error("replaceString", entry, format!("invalid replacement: {why}"))
                    .hint("refer to groups as `$1` or `${name}`; write `\\$` for a literal `$`");
                        p.push(err);
                        None
                    }
                }
            }
            None => None,
        };
    let charset = p.string("charset", "UTF-8");
    if !matches!(charset.to_ascii_uppercase().as_str(), "UTF-8" | "UTF8") {
        let entry = p.get("charset");
        let err = p
            .error(
                "charset",
                entry,
                format!("charset `{charset}` is not supported by spate"),
            )
            .hint("remove it: bodies are read and written as UTF-8");
        p.push(err);
    }
    p.finish("a search_replace interceptor", KEYS);
    Some(Arc::new(SearchReplaceConfig {
        search_pattern: search?,
        replace_string,
        replacement: replacement?,
        charset,
    }))
}

/// `java`, a `Matcher.replaceAll` replacement, in the regex crate's syntax for `regex`.
fn java_replacement(java: &str, regex: &Regex) -> Result<String, String> {
    let groups = regex.captures_len() - 1;
    let mut out = String::with_capacity(java.len());
    let mut chars = java.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('$') => out.push_str("$$"),
                Some(c) => out.push(c),
                None => return Err("a `\\` at the end escapes nothing".into()),
            },
            '$' => match chars.peek() {
                Some('{') => {
                    chars.next();
                    let name: String = chars.by_ref().take_while(|&c| c != '}').collect();
                    if name.is_empty() || !regex.capture_names().flatten().any(|n| n == name) {
                        return Err(format!("no group named `{name}` in the search pattern"));
                    }
                    out.push_str(&format!("${{{name}}}"));
                }
                Some(d) if d.is_ascii_digit() => {
                    // As Java: the first digit, then more while the number names a group.
                    let mut n = d.to_digit(10).expect("a digit") as usize;
                    chars.next();
                    if n > groups {
                        return Err(format!(
                            "no group {n} in the search pattern ({groups} groups)"
                        ));
                    }
                    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                        let more = n * 10 + d as usize;
                        if more > groups {
                            break;
                        }
                        n = more;
                        chars.next();
                    }
                    out.push_str(&format!("${{{n}}}"));
                }
                _ => return Err("a `$` that names no group".into()),
            },
            c => out.push(c),
        }
    }
    Ok(out)
}

impl Component for SearchReplaceConfig {
    fn type_name(&self) -> &'static str {
        "search_replace"
    }

    fn describe(&self) -> Vec<Setting> {
        vec![
            Setting::new("searchPattern", &self.search_pattern),
            Setting::new("replaceString", &self.replace_string),
            Setting::new("charset", &self.charset),
        ]
    }
}

impl InterceptorSpec for SearchReplaceConfig {
    fn build(&self) -> Result<Arc<dyn Interceptor>, StartError> {
        Ok(Arc::new(SearchReplace {
            regex: Regex::new(&self.search_pattern).map_err(StartError::new)?,
            replacement: self.replacement.clone(),
        }))
    }
}

/// The `search_replace` interceptor.
#[derive(Debug)]
pub struct SearchReplace {
    regex: Regex,
    replacement: String,
}

impl Interceptor for SearchReplace {
    fn intercept(&self, batch: Batch) -> Option<Batch> {
        let replaced = batch.map_bodies(|body, out| {
            // Valid UTF-8 (nearly always) is searched in place; other bodies are decoded first.
            let text = String::from_utf8_lossy(body);
            let replaced = self.regex.replace_all(&text, self.replacement.as_str());
            out.extend_from_slice(replaced.as_bytes());
        });
        Some(replaced.unwrap_or_else(|unchanged| {
            warn!(
                pattern = %self.regex.as_str(),
                "search_replace: the replaced bodies of a batch would exceed 4 GiB; the batch \
                 passes unchanged"
            );
            unchanged
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_replacements_become_the_regex_crates() {
        let r = Regex::new(r"(\d+)-(?P<word>\w+)").unwrap();
        assert_eq!(java_replacement("$1", &r).unwrap(), "${1}");
        assert_eq!(java_replacement("$2x$1", &r).unwrap(), "${2}x${1}");
        assert_eq!(
            java_replacement("$12", &r).unwrap(),
            "${1}2",
            "group 12 does not exist"
        );
        assert_eq!(java_replacement("${word}", &r).unwrap(), "${word}");
        assert_eq!(
            java_replacement(r"\$1 costs \\", &r).unwrap(),
            r"$$1 costs \"
        );
        assert!(java_replacement("$3", &r).is_err());
        assert!(java_replacement("$", &r).is_err());
        assert!(java_replacement("${nope}", &r).is_err());
        assert!(java_replacement("\\", &r).is_err());
        let text = "12-ab 7-c";
        let rep = java_replacement("$2=$1", &r).unwrap();
        assert_eq!(r.replace_all(text, rep.as_str()), "ab=12 c=7");
    }
}
