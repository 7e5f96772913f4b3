//! Channel selectors: which of a source's channels get each event (Flume's
//! `<source>.selector.*`).
//!
//! * `replicating` (the default): every event into every channel; the channels named in
//!   `selector.optional` are optional.
//! * `multiplexing`: the value of header `selector.header` (default `flume.selector.header`)
//!   picks the channels, `selector.mapping.<value>`, and `selector.optional.<value>` the
//!   optional ones; an event without the header, with an empty value or a value not mapped
//!   goes to `selector.default`, and without a default into no channel (counted as
//!   `EventUnroutedCount`).
//!
//! A put into a required channel waits for room, as the source's transaction does in Flume;
//! its events are acknowledged when a sink of that channel commits them. An optional channel
//! gets a copy without an acknowledgement (the source's position does not wait for it) and only
//! if it has room at once: spate does not hold the required channels back for an optional one,
//! where Flume waits up to its keep-alive, then drops. A batch is split by header value only
//! when its events go to different channels; bodies are copied only then.

use std::collections::HashMap;

use crate::config::{shorten, suggest, ConfigError, Entry, Props};
use crate::event::Batch;

/// Flume's default `selector.header`.
pub const DEFAULT_HEADER: &str = "flume.selector.header";

/// A source's channel selector, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectorConfig {
    /// `selector.type = replicating` (or none).
    Replicating {
        /// `selector.optional`.
        optional: Vec<String>,
    },
    /// `selector.type = multiplexing`.
    Multiplexing {
        /// `selector.header`.
        header: String,
        /// `selector.mapping.<value>`, in file order.
        mapping: Vec<(String, Vec<String>)>,
        /// `selector.optional.<value>`, in file order, without the channels that are
        /// required for that value.
        optional: Vec<(String, Vec<String>)>,
        /// `selector.default`.
        default: Vec<String>,
    },
}

impl Default for SelectorConfig {
    fn default() -> Self {
        SelectorConfig::Replicating {
            optional: Vec::new(),
        }
    }
}

impl SelectorConfig {
    /// `spate check`'s lines for it: `(key, value)`, the key under `selector.`.
    pub fn describe(&self) -> Vec<(String, String)> {
        match self {
            SelectorConfig::Replicating { optional } => {
                let mut v = vec![("selector.type".into(), "replicating".into())];
                if !optional.is_empty() {
                    v.push(("selector.optional".into(), optional.join(" ")));
                }
                v
            }
            SelectorConfig::Multiplexing {
                header,
                mapping,
                optional,
                default,
            } => {
                let mut v = vec![
                    ("selector.type".into(), "multiplexing".into()),
                    ("selector.header".into(), header.clone()),
                ];
                for (value, channels) in mapping {
                    v.push((format!("selector.mapping.{value}"), channels.join(" ")));
                }
                for (value, channels) in optional {
                    v.push((format!("selector.optional.{value}"), channels.join(" ")));
                }
                v.push(("selector.default".into(), default.join(" ")));
                v
            }
        }
    }
}

/// Reads a source's `selector.*` keys; `channels` are the source's. Reports into `p`; `None`
/// when invalid.
pub(crate) fn parse(p: &mut Props<'_>, channels: &[String]) -> Option<SelectorConfig> {
    let keys = p.take_prefixed("selector.");
    let find = |k: &str| keys.iter().find(|(rest, _)| *rest == k).map(|(_, e)| *e);
    let kind = find("type").map(|e| (e, e.value.trim().to_ascii_lowercase()));
    let mut ok = true;
    let mut list = |p: &mut Props<'_>, e: &Entry| -> Vec<String> {
        let (names, known) = channel_list(p, e, channels);
        ok &= known;
        names
    };
    let config = match kind.as_ref().map(|(e, k)| (*e, k.as_str())) {
        None
        | Some((_, "" | "replicating" | "org.apache.flume.channel.replicatingchannelselector")) => {
            let optional = find("optional").map_or(Vec::new(), |e| list(p, e));
            for (rest, e) in &keys {
                if !matches!(*rest, "type" | "optional") {
                    p.push(unknown_key(e, rest, &["type", "optional"]));
                }
            }
            SelectorConfig::Replicating { optional }
        }
        Some((_, "multiplexing" | "org.apache.flume.channel.multiplexingchannelselector")) => {
            let header = find("header").map_or(DEFAULT_HEADER.to_string(), |e| e.value.clone());
            let mut mapping = Vec::new();
            let mut optional = Vec::new();
            let mut default = Vec::new();
            for (rest, e) in &keys {
                if let Some(value) = rest.strip_prefix("mapping.") {
                    let chans = list(p, e);
                    if chans.is_empty() {
                        p.push(
                            ConfigError::at(
                                e,
                                format!("no channel for header value `{}`", shorten(value)),
                            )
                            .hint("name the channel(s) events with this value go to"),
                        );
                    }
                    mapping.push((value.to_string(), chans));
                } else if let Some(value) = rest.strip_prefix("optional.") {
                    optional.push((value.to_string(), list(p, e)));
                } else if *rest == "default" {
                    default = list(p, e);
                } else if !matches!(*rest, "type" | "header") {
                    p.push(unknown_key(
                        e,
                        rest,
                        &[
                            "type",
                            "header",
                            "mapping.<value>",
                            "optional.<value>",
                            "default",
                        ],
                    ));
                }
            }
            // As Flume: a channel required for a value is not also optional for it.
            for (value, chans) in &mut optional {
                let required = mapping
                    .iter()
                    .find(|(v, _)| v == value)
                    .map_or(&default, |(_, c)| c);
                chans.retain(|c| !required.contains(c));
            }
            ok &= mapping.iter().all(|(_, c)| !c.is_empty());
            if mapping.is_empty() {
                let entry = kind.as_ref().map(|(e, _)| *e).expect("multiplexing is set");
                p.push(
                    ConfigError::at(entry, "the multiplexing selector maps no header value")
                        .hint(format!(
                            "add `{} = <channels>` for each value of header `{header}`",
                            p.key("selector.mapping.<value>")
                        ))
                        .warning(),
                );
            }
            SelectorConfig::Multiplexing {
                header,
                mapping,
                optional,
                default,
            }
        }
        Some((e, "load_balancing")) => {
            p.push(
                ConfigError::at(
                    e,
                    "channel selector `load_balancing` is not supported by spate yet",
                )
                .hint("use `replicating` or `multiplexing`"),
            );
            return None;
        }
        Some((e, _)) => {
            let hint = match suggest(&e.value, ["replicating", "multiplexing"]) {
                Some(s) => {
                    format!("did you mean `{s}`? spate supports replicating and multiplexing")
                }
                None => "spate supports the selectors replicating and multiplexing".into(),
            };
            p.push(
                ConfigError::at(
                    e,
                    format!("unknown channel selector `{}`", shorten(&e.value)),
                )
                .hint(hint),
            );
            return None;
        }
    };
    ok.then_some(config)
}

/// The channel names of `e`, and whether all are the source's (those that are not are
/// reported).
fn channel_list(p: &mut Props<'_>, e: &Entry, channels: &[String]) -> (Vec<String>, bool) {
    let mut names: Vec<String> = Vec::new();
    let mut known = true;
    for name in e.value.split_whitespace() {
        if names.iter().any(|n| n == name) {
            p.push(
                ConfigError::at(e, format!("channel `{}` is named twice", shorten(name)))
                    .hint("name each channel once (Flume would put each event into it twice)"),
            );
            known = false;
            continue;
        }
        names.push(name.to_string());
    }
    for name in &names {
        if !channels.contains(name) {
            let hint = match suggest(name, channels.iter().map(String::as_str)) {
                Some(s) => format!(
                    "did you mean `{s}`? the source writes to: {}",
                    channels.join(" ")
                ),
                None => format!("the source writes to: {}", channels.join(" ")),
            };
            p.push(
                ConfigError::at(
                    e,
                    format!(
                        "channel `{}` is not one of the source's channels",
                        shorten(name)
                    ),
                )
                .hint(hint),
            );
            known = false;
        }
    }
    (names, known)
}

fn unknown_key(e: &Entry, rest: &str, known: &[&str]) -> ConfigError {
    let hint = match suggest(rest, known.iter().copied().filter(|k| !k.contains('<'))) {
        Some(s) => format!("did you mean `selector.{s}`?"),
        None => format!(
            "this selector's keys: {}",
            known
                .iter()
                .map(|k| format!("selector.{k}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    ConfigError::at(
        e,
        format!("unknown selector key `selector.{}`, ignored", shorten(rest)),
    )
    .hint(hint)
    .warning()
}

/// Where a group of events goes: indices into the source's channels.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Route {
    /// Channels that must take the events.
    pub required: Vec<usize>,
    /// Channels that get a copy if they have room.
    pub optional: Vec<usize>,
}

/// A source's channel selector, ready to route batches.
#[derive(Debug, Clone)]
pub enum Selector {
    /// Every event to `Route`.
    Replicating(Route),
    /// By the value of `header`.
    Multiplexing {
        /// The header.
        header: String,
        /// Routes by value.
        routes: HashMap<String, Route>,
        /// For a missing, empty or unmapped value.
        default: Route,
    },
}

impl Selector {
    /// The selector of `config` over the source's `channels` (names, in order).
    pub fn new(config: &SelectorConfig, channels: &[String]) -> Selector {
        let index = |names: &[String]| -> Vec<usize> {
            names
                .iter()
                .filter_map(|n| channels.iter().position(|c| c == n))
                .collect()
        };
        match config {
            SelectorConfig::Replicating { optional } => {
                let optional = index(optional);
                let required = (0..channels.len())
                    .filter(|i| !optional.contains(i))
                    .collect();
                Selector::Replicating(Route { required, optional })
            }
            SelectorConfig::Multiplexing {
                header,
                mapping,
                optional,
                default,
            } => {
                let mut routes: HashMap<String, Route> = mapping
                    .iter()
                    .map(|(v, c)| {
                        (
                            v.clone(),
                            Route {
                                required: index(c),
                                optional: Vec::new(),
                            },
                        )
                    })
                    .collect();
                let default = Route {
                    required: index(default),
                    optional: Vec::new(),
                };
                for (v, c) in optional {
                    routes
                        .entry(v.clone())
                        .or_insert_with(|| default.clone())
                        .optional = index(c);
                }
                Selector::Multiplexing {
                    header: header.clone(),
                    routes,
                    default,
                }
            }
        }
    }

    /// Splits `batch` by route: one `(batch, route)` per group of events going to the same
    /// channels, in order of first event. Unsplit (no copy, no allocation) when all go the same
    /// way.
    pub fn route(&self, batch: Batch) -> Routes<'_> {
        let (header, routes, default) = match self {
            Selector::Replicating(route) => return Routes::One(Some((batch, route))),
            Selector::Multiplexing {
                header,
                routes,
                default,
            } => (header, routes, default),
        };
        let route_of = |value: Option<&str>| -> &Route {
            value
                .filter(|v| !v.trim().is_empty())
                .and_then(|v| routes.get(v))
                .unwrap_or(default)
        };
        // The common case: the value is a shared header (a file group's) no event overrides;
        // then nothing is looked at per event.
        let own = batch
            .event_headers()
            .is_some_and(|hs| hs.iter().any(|h| h.get(header).is_some()));
        if !own {
            let route = route_of(batch.headers().and_then(|h| h.get(header)));
            return Routes::One(Some((batch, route)));
        }
        // Events have values of their own: split only if they differ.
        let first = route_of(batch.header(0, header));
        let same = (1..batch.len()).all(|i| std::ptr::eq(route_of(batch.header(i, header)), first));
        if same {
            return Routes::One(Some((batch, first)));
        }
        let of: Vec<&Route> = (0..batch.len())
            .map(|i| route_of(batch.header(i, header)))
            .collect();
        let mut order: Vec<&Route> = Vec::new();
        for r in &of {
            if !order.iter().any(|o| std::ptr::eq(*o, *r)) {
                order.push(r);
            }
        }
        let parts: Vec<(Batch, &Route)> = order
            .into_iter()
            .filter_map(|r| {
                batch
                    .clone()
                    .select(|i| std::ptr::eq(of[i], r))
                    .map(|b| (b, r))
            })
            .collect();
        Routes::Many(parts.into_iter())
    }
}

/// The parts of a batch and their routes ([`Selector::route`]).
#[derive(Debug)]
pub enum Routes<'a> {
    /// The whole batch, one way.
    One(Option<(Batch, &'a Route)>),
    /// Split.
    Many(std::vec::IntoIter<(Batch, &'a Route)>),
}

impl<'a> Iterator for Routes<'a> {
    type Item = (Batch, &'a Route);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Routes::One(one) => one.take(),
            Routes::Many(many) => many.next(),
        }
    }
}
