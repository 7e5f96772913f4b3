//! Flume's `remove_header` interceptor: removes headers by name, by list or by pattern.

use std::collections::HashSet;
use std::sync::Arc;

use regex::Regex;

use crate::component::{
    Component, Interceptor, InterceptorSpec, ParseContext, Setting, StartError,
};
use crate::config::Props;
use crate::event::Batch;

/// Flume's default `fromListSeparator`: a comma, with any spaces around it.
const DEFAULT_SEPARATOR: &str = r"\s*,\s*";

/// Settings of the `remove_header` interceptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoveHeaderConfig {
    /// Flume key `withName`: one header name, removed.
    pub with_name: Option<String>,
    /// Flume key `fromList`: header names, split by `fromListSeparator`.
    pub from_list: Vec<String>,
    /// Flume key `fromListSeparator` (a regular expression), default `\s*,\s*`.
    pub from_list_separator: String,
    /// Flume key `matching`: a regular expression a whole header name must match (checked).
    pub matching: Option<String>,
}

const KEYS: &[&str] = &[
    "type",
    "withName",
    "fromList",
    "fromListSeparator",
    "matching",
];

/// Reads a `remove_header` interceptor's settings (the registry's parser).
pub fn parse(p: &mut Props<'_>, _: &ParseContext<'_>) -> Option<Arc<dyn InterceptorSpec>> {
    let with_name = p.get("withName").map(|e| e.value.clone());
    let from_list_separator = p.string("fromListSeparator", DEFAULT_SEPARATOR);
    let separator = super::regex_key(p, "fromListSeparator", &from_list_separator);
    let from_list = match (p.get("fromList"), &separator) {
        (Some(e), Some(sep)) => {
            // As Java's `String.split`: trailing empty names are dropped.
            let mut names: Vec<String> = sep.split(&e.value).map(str::to_string).collect();
            while names.last().is_some_and(String::is_empty) {
                names.pop();
            }
            names
        }
        _ => Vec::new(),
    };
    let matching = p.get("matching").map(|e| e.value.clone());
    if let Some(m) = &matching {
        // Checked as written, so that an error's column points into the user's pattern.
        super::regex_key(p, "matching", m);
    }
    if with_name.is_none() && from_list.is_empty() && matching.is_none() && !p.has_errors() {
        let err = p
            .error(
                "withName",
                None,
                "the remove_header interceptor removes nothing",
            )
            .hint("set `withName`, `fromList` or `matching`")
            .warning();
        p.push(err);
    }
    p.finish("a remove_header interceptor", KEYS);
    Some(Arc::new(RemoveHeaderConfig {
        with_name,
        from_list,
        from_list_separator,
        matching,
    }))
}

impl Component for RemoveHeaderConfig {
    fn type_name(&self) -> &'static str {
        "remove_header"
    }

    fn describe(&self) -> Vec<Setting> {
        let mut v = Vec::new();
        if let Some(n) = &self.with_name {
            v.push(Setting::new("withName", n));
        }
        if !self.from_list.is_empty() {
            v.push(Setting::new("fromList", self.from_list.join(",")));
        }
        v.push(Setting::new("fromListSeparator", &self.from_list_separator));
        if let Some(m) = &self.matching {
            v.push(Setting::new("matching", m));
        }
        v
    }
}

impl InterceptorSpec for RemoveHeaderConfig {
    fn build(&self) -> Result<Arc<dyn Interceptor>, StartError> {
        Ok(Arc::new(RemoveHeader {
            with_name: self.with_name.clone(),
            from_list: self.from_list.iter().cloned().collect(),
            matching: match &self.matching {
                Some(m) => Some(Regex::new(&whole_match(m)).map_err(StartError::new)?),
                None => None,
            },
        }))
    }
}

/// The `remove_header` interceptor.
#[derive(Debug)]
pub struct RemoveHeader {
    with_name: Option<String>,
    from_list: HashSet<String>,
    matching: Option<Regex>,
}

impl Interceptor for RemoveHeader {
    fn intercept(&self, mut batch: Batch) -> Option<Batch> {
        batch.remove_headers(|key| {
            self.with_name.as_deref() == Some(key)
                || self.from_list.contains(key)
                || self.matching.as_ref().is_some_and(|m| m.is_match(key))
        });
        Some(batch)
    }
}

/// `pattern` anchored at both ends: Java's `Matcher.matches()`, which Flume uses here.
fn whole_match(pattern: &str) -> String {
    format!("^(?:{pattern})$")
}
