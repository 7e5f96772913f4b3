//! Flume's `regex_filter` interceptor: keeps (or with `excludeEvents`, drops) the events whose
//! body contains a match of a regular expression (Java's `Matcher.find()`).
//!
//! Dropped events are counted by the source (`EventFilteredCount`); their source's position
//! still moves past them, so a filtered line is never read again after a restart.

use std::sync::Arc;

use regex::bytes::Regex;

use crate::component::{
    Component, Interceptor, InterceptorSpec, ParseContext, Setting, StartError,
};
use crate::config::Props;
use crate::event::Batch;

/// Settings of the `regex_filter` interceptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegexFilterConfig {
    /// Flume key `regex`, default `.*` (checked).
    pub regex: String,
    /// Flume key `excludeEvents`, default false: drop the matching events instead of keeping
    /// them.
    pub exclude_events: bool,
}

const KEYS: &[&str] = &["type", "regex", "excludeEvents"];

/// Reads a `regex_filter` interceptor's settings (the registry's parser).
pub fn parse(p: &mut Props<'_>, _: &ParseContext<'_>) -> Option<Arc<dyn InterceptorSpec>> {
    let regex = p.string("regex", ".*");
    super::regex_key(p, "regex", &regex);
    let exclude_events = p.bool("excludeEvents", false);
    p.finish("a regex_filter interceptor", KEYS);
    Some(Arc::new(RegexFilterConfig {
        regex,
        exclude_events,
    }))
}

impl Component for RegexFilterConfig {
    fn type_name(&self) -> &'static str {
        "regex_filter"
    }

    fn describe(&self) -> Vec<Setting> {
        vec![
            Setting::new("regex", &self.regex),
            Setting::new("excludeEvents", self.exclude_events),
        ]
    }
}

impl InterceptorSpec for RegexFilterConfig {
    fn build(&self) -> Result<Arc<dyn Interceptor>, StartError> {
        Ok(Arc::new(RegexFilter {
            regex: Regex::new(&self.regex).map_err(StartError::new)?,
            exclude: self.exclude_events,
        }))
    }
}

/// The `regex_filter` interceptor.
#[derive(Debug)]
pub struct RegexFilter {
    regex: Regex,
    exclude: bool,
}

impl Interceptor for RegexFilter {
    fn intercept(&self, batch: Batch) -> Option<Batch> {
        let keep: Vec<bool> = batch
            .bodies()
            .map(|body| self.regex.is_match(body) != self.exclude)
            .collect();
        batch.select(|i| keep[i])
    }
}
