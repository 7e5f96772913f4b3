//! Interceptors: Flume's per-source chain that changes or drops events before the channel
//! selector sees them (`<source>.interceptors = i1 i2`, run in that order).
//!
//! Each type is one module (its keys, defaults and the [`Interceptor`] it builds) and one line
//! in [`crate::registry::INTERCEPTORS`]. They work on whole batches (see [`Interceptor`]).

pub mod host;
pub mod regex_extractor;
pub mod regex_filter;
pub mod remove_header;
pub mod search_replace;
pub mod static_header;
pub mod timestamp;
pub mod uuid;

use std::collections::HashMap;
use std::sync::Arc;

use crate::component::{Interceptor, InterceptorSpec, ParseContext, StartError};
use crate::config::{shorten, suggest, ConfigError, Entry, Props};
use crate::event::Batch;
use crate::registry;

/// One interceptor of a source's chain.
#[derive(Debug, Clone)]
pub struct InterceptorConfig {
    /// Its name in `<source>.interceptors`.
    pub name: String,
    /// Its type and settings.
    pub spec: Arc<dyn InterceptorSpec>,
}

impl PartialEq for InterceptorConfig {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && *self.spec == *other.spec
    }
}

/// A source's interceptors, built, in order.
#[derive(Debug, Clone, Default)]
pub struct Chain(Vec<Arc<dyn Interceptor>>);

impl Chain {
    /// Builds the interceptors of `configs`.
    pub fn build(configs: &[InterceptorConfig]) -> Result<Chain, StartError> {
        configs
            .iter()
            .map(|c| c.spec.build())
            .collect::<Result<_, _>>()
            .map(Chain)
    }

    /// Whether there is no interceptor.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Runs `batch` through every interceptor; `None` once one drops every event.
    pub fn apply(&self, batch: Batch) -> Option<Batch> {
        self.0.iter().try_fold(batch, |b, i| i.intercept(b))
    }
}

/// Reads a source's `interceptors` list and each listed interceptor's keys
/// (`interceptors.<name>.type` and its settings), reporting into `p`. `None` when one is
/// invalid.
pub(crate) fn parse_chain(
    p: &mut Props<'_>,
    ctx: &ParseContext<'_>,
) -> Option<Vec<InterceptorConfig>> {
    let list = p.get("interceptors");
    let mut configured: Vec<(&str, Vec<(&str, &Entry)>)> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (rest, e) in p.take_prefixed("interceptors.") {
        let Some((name, prop)) = rest
            .split_once('.')
            .filter(|(n, p)| !n.is_empty() && !p.is_empty())
        else {
            p.push(
                ConfigError::at(e, "expected an interceptor property, ignored")
                    .hint(format!(
                        "write `{}<name>.<property> = value`",
                        p.key("interceptors.")
                    ))
                    .warning(),
            );
            continue;
        };
        match index.get(name) {
            Some(&i) => configured[i].1.push((prop, e)),
            None => {
                index.insert(name, configured.len());
                configured.push((name, vec![(prop, e)]));
            }
        }
    }
    let names: Vec<&str> = list.map_or(Vec::new(), |l| l.value.split_whitespace().collect());
    let mut chain = Vec::new();
    let mut ok = true;
    for (i, name) in names.iter().enumerate() {
        let list = list.expect("names come from the list");
        if names[..i].contains(name) {
            p.push(
                ConfigError::at(
                    list,
                    format!("interceptor `{}` is listed twice", shorten(name)),
                )
                .hint("list each interceptor once; to run one twice, configure it under two names"),
            );
            ok = false;
            continue;
        }
        let Some(&at) = index.get(name) else {
            let unlisted = configured
                .iter()
                .map(|(n, _)| *n)
                .filter(|n| !names.contains(n));
            let hint = match suggest(name, unlisted) {
                Some(s) => format!(
                    "did you mean `{s}`? `{}` is configured",
                    p.key(&format!("interceptors.{s}"))
                ),
                None => format!(
                    "add `{} = ...`",
                    p.key(&format!("interceptors.{name}.type"))
                ),
            };
            p.push(
                ConfigError::at(
                    list,
                    format!(
                        "interceptor `{}` is listed but not configured",
                        shorten(name)
                    ),
                )
                .hint(hint),
            );
            ok = false;
            continue;
        };
        let (_, entries) = &configured[at];
        let mut ip = Props::new(p.key(&format!("interceptors.{name}.")), entries.clone());
        let spec = interceptor_type(&mut ip).and_then(|parse| parse(&mut ip, ctx));
        let failed = ip.has_errors();
        for e in ip.errors.drain(..) {
            p.push(e);
        }
        match spec {
            Some(spec) if !failed => chain.push(InterceptorConfig {
                name: name.to_string(),
                spec,
            }),
            _ => ok = false,
        }
    }
    for (name, entries) in &configured {
        if !names.contains(name) {
            p.push(
                ConfigError::at(
                    entries[0].1,
                    format!(
                        "interceptor `{}` is configured but not listed, ignored",
                        shorten(name)
                    ),
                )
                .hint(format!("add `{name}` to `{}`", p.key("interceptors")))
                .warning(),
            );
        }
    }
    ok.then_some(chain)
}

/// The parser of the interceptor type named by `type`, or `None` after reporting why not.
fn interceptor_type(p: &mut Props<'_>) -> Option<crate::component::Parse<dyn InterceptorSpec>> {
    let names: Vec<&str> = registry::INTERCEPTORS.iter().map(|t| t.name).collect();
    let Some(entry) = p.get("type") else {
        let hint = format!(
            "add `{} = ...` (spate supports: {})",
            p.key("type"),
            names.join(", ")
        );
        let err = p.missing("type", "the interceptor has no `type`", hint);
        p.push(err);
        return None;
    };
    if let Some(t) = registry::INTERCEPTORS.iter().find(|t| t.is(&entry.value)) {
        return Some(t.parse);
    }
    let value = shorten(&entry.value);
    let supported = format!("spate supports interceptor types: {}", names.join(", "));
    let err = if entry.value.starts_with("org.apache.flume.") {
        ConfigError::at(
            entry,
            format!("interceptor type `{value}` is not supported by spate yet"),
        )
        .hint(supported)
    } else {
        let hint = match suggest(&entry.value, names.iter().copied()) {
            Some(s) => format!("did you mean `{s}`? {supported}"),
            None => supported,
        };
        ConfigError::at(entry, format!("unknown interceptor type `{value}`")).hint(hint)
    };
    p.push(err);
    None
}

/// Compiles `pattern`, the value of `prop` (or its default), reporting an invalid one at its
/// line with the regex crate's message, which points at the column.
pub(crate) fn regex_key(p: &mut Props<'_>, prop: &str, pattern: &str) -> Option<regex::Regex> {
    match regex::Regex::new(pattern) {
        Ok(r) => Some(r),
        Err(e) => {
            let entry = p.get(prop);
            let err = p
                .error(prop, entry, "invalid regular expression")
                .hint(format!("{e}").replace('\n', "\n        "));
            p.push(err);
            None
        }
    }
}

#[cfg(test)]
mod tests;
