//! Resolving one agent from merged properties: which keys belong to it, its component lists,
//! each component's type and settings, and the wiring checks between them. Every problem is
//! collected; nothing stops at the first error.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::error::{shorten, ConfigError, ConfigErrors};
use super::properties::Entry;
use super::props::{suggest, Props};
use super::{AgentConfig, ChannelConfig, SinkConfig, SourceConfig};
use crate::component::{ParseContext, Type};
use crate::registry;

/// The three component kinds, with their names in keys and in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Source,
    Channel,
    Sink,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Source, Kind::Channel, Kind::Sink];

    /// `sources`, `channels`, `sinks`.
    fn plural(self) -> &'static str {
        match self {
            Kind::Source => "sources",
            Kind::Channel => "channels",
            Kind::Sink => "sinks",
        }
    }

    fn singular(self) -> &'static str {
        match self {
            Kind::Source => "source",
            Kind::Channel => "channel",
            Kind::Sink => "sink",
        }
    }

    /// (name, other accepted spellings) of the types spate implements.
    fn types(self) -> Vec<(&'static str, &'static [&'static str])> {
        match self {
            Kind::Source => registry::SOURCES
                .iter()
                .map(|t| (t.name, t.aliases))
                .collect(),
            Kind::Channel => registry::CHANNELS
                .iter()
                .chain(registry::TEST_CHANNELS)
                .map(|t| (t.name, t.aliases))
                .collect(),
            Kind::Sink => registry::SINKS
                .iter()
                .map(|t| (t.name, t.aliases))
                .collect(),
        }
    }

    /// Flume's type aliases that spate does not implement yet (Flume's class names, all under
    /// `org.apache.flume.`, are recognised separately).
    fn flume_types(self) -> &'static [&'static str] {
        match self {
            Kind::Source => registry::FLUME_ONLY_SOURCES,
            Kind::Channel => registry::FLUME_ONLY_CHANNELS,
            Kind::Sink => registry::FLUME_ONLY_SINKS,
        }
    }

    /// Resolves a `type` value to spate's canonical type name.
    fn resolve_type(self, entry: &Entry) -> Result<&'static str, ConfigError> {
        let value = entry.value.as_str();
        let types = self.types();
        if let Some((name, _)) = types.iter().find(|(name, aliases)| {
            name.eq_ignore_ascii_case(value)
                || aliases.iter().any(|a| a.eq_ignore_ascii_case(value))
        }) {
            return Ok(name);
        }
        let supported: Vec<&str> = types.iter().map(|(c, _)| *c).collect();
        let supported_list = format!(
            "spate supports {} types: {}",
            self.singular(),
            supported.join(", ")
        );
        if value.is_empty() {
            return Err(
                ConfigError::at(entry, format!("empty {} type", self.singular()))
                    .hint(supported_list),
            );
        }
        let lower = value.to_ascii_lowercase();
        if self.flume_types().contains(&lower.as_str()) || value.starts_with("org.apache.flume.") {
            return Err(ConfigError::at(
                entry,
                format!(
                    "{} type `{}` is not supported by spate yet",
                    self.singular(),
                    shorten(value)
                ),
            )
            .hint(supported_list));
        }
        let hint = match suggest(value, supported.iter().copied()) {
            Some(s) => format!("did you mean `{s}`? {supported_list}"),
            None => supported_list,
        };
        Err(ConfigError::at(
            entry,
            format!("unknown {} type `{}`", self.singular(), shorten(value)),
        )
        .hint(hint))
    }
}

/// The sink group keys: the list and each group's properties.
#[derive(Debug, Default)]
struct Groups<'a> {
    list: Option<&'a Entry>,
    configured: Vec<(String, Vec<(&'a str, &'a Entry)>)>,
}

/// The keys of one kind: its list entry and the properties of each configured component.
#[derive(Debug, Default)]
struct Declared<'a> {
    list: Option<&'a Entry>,
    /// Listed names, in order, without duplicates.
    names: Vec<String>,
    /// The same, for lookups.
    listed: HashSet<String>,
    /// Configured components in order of first key: name, then (property, entry) pairs.
    configured: Vec<(String, Vec<(&'a str, &'a Entry)>)>,
    /// Where each name is in `configured`.
    index: HashMap<String, usize>,
    /// An unknown agent key that looks like a misspelt list key (`a1.sink` for `a1.sinks`).
    misspelt_list: Option<&'a Entry>,
    /// Configured components that are not listed, each with its warning: reported at the end
    /// unless a reference to it already says it is not listed.
    unlisted: Vec<(String, ConfigError)>,
    /// Names of configured, unlisted components that a listed name is a misspelling of: one
    /// error at the list says so, and references to them say nothing more.
    paired: HashSet<String>,
    /// For a listed component without `type`: the hint naming a configured, unlisted component
    /// of a close name that has one (`a1.channels.cl.type` for `c1`).
    type_hints: HashMap<String, String>,
}

impl<'a> Declared<'a> {
    fn props_of(&self, name: &str) -> Option<&Vec<(&'a str, &'a Entry)>> {
        self.index.get(name).map(|&i| &self.configured[i].1)
    }

    fn is_listed(&self, name: &str) -> bool {
        self.listed.contains(name)
    }
}

/// Replaces each `${env:NAME}` in the entry's value by the variable's value.
fn substitute_env(entry: &Entry) -> Result<String, ConfigError> {
    const OPEN: &str = "${env:";
    let mut out = String::new();
    let mut rest = entry.value.as_str();
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len()..];
        let Some(end) = after.find('}') else {
            return Err(ConfigError::at(entry, "unterminated `${env:` reference")
                .hint("write `${env:NAME}` with a closing `}`"));
        };
        let name = &after[..end];
        if name.is_empty() {
            return Err(ConfigError::at(entry, "empty variable name in `${env:}`")
                .hint("write `${env:NAME}`"));
        }
        // `${env:NAME:-default}` and the shell's other forms: Flume 1.11 does not have them.
        if let Some((var, _)) = name.split_once(':') {
            return Err(ConfigError::at(
                entry,
                format!(
                    "unsupported syntax `${{env:{}}}`: default values are not supported, only `${{env:NAME}}`",
                    shorten(name)
                ),
            )
            .hint(format!(
                "as in Flume, set {} in the agent's environment and write `${{env:{}}}`, or write the value directly",
                shorten(var),
                shorten(var)
            )));
        }
        let shown = shorten(name);
        match std::env::var(name) {
            Ok(v) => out.push_str(&v),
            Err(std::env::VarError::NotPresent) => {
                return Err(ConfigError::at(
                    entry,
                    format!("environment variable `{shown}` is not set"),
                )
                .hint(format!(
                    "set {shown} in the agent's environment, or write the value directly"
                )));
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(ConfigError::at(
                    entry,
                    format!("environment variable `{shown}` is not valid UTF-8"),
                ));
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Resolves agent `agent` from merged entries, collecting every error.
pub(crate) fn build(
    entries: Vec<Entry>,
    mut errors: Vec<ConfigError>,
    agent: &str,
    base: Option<&Path>,
    files: &[PathBuf],
) -> Result<AgentConfig, ConfigErrors> {
    super::props::reset_suggest_budget();
    let prefix = format!("{agent}.");
    // The errors of values that could not be read are the root of whatever else would be said
    // about their keys: they are kept, the rest about those keys is dropped at the end.
    let mut roots = std::mem::take(&mut errors);
    let mut mine: Vec<Entry> = Vec::new();
    for e in entries.iter().filter(|e| e.key.starts_with(&prefix)) {
        if e.broken {
            mine.push(e.clone());
            continue;
        }
        match substitute_env(e) {
            Ok(value) => mine.push(Entry { value, ..e.clone() }),
            Err(err) => {
                roots.push(err);
                mine.push(Entry {
                    value: String::new(),
                    broken: true,
                    ..e.clone()
                });
            }
        }
    }
    if mine.is_empty() {
        roots.push(no_such_agent(&entries, agent, files));
        return Err(ConfigErrors::sorted(roots, files));
    }
    let broken: HashSet<&str> = mine
        .iter()
        .filter(|e| e.broken)
        .map(|e| e.key.as_str())
        .collect();

    let mut groups_d = Groups::default();
    let mut declared = classify(&mine, &prefix, &mut groups_d, &mut errors);
    // An agent without sinks is an error unless its channels deliver by themselves: known once
    // they are parsed.
    let mut no_sinks = Vec::new();
    for (i, kind) in Kind::ALL.into_iter().enumerate() {
        let errors = if kind == Kind::Sink {
            &mut no_sinks
        } else {
            &mut errors
        };
        check_listing(&mut declared[i], kind, &prefix, &mine[0], errors);
    }
    let [sources_d, channels_d, sinks_d] = &declared;

    let ctx = ParseContext { base };
    // Channels first: sources and sinks are checked against their transaction capacity.
    let mut channels = Vec::new();
    for name in &channels_d.names {
        let Some(entries) = channels_d.props_of(name) else {
            continue;
        };
        let mut p = Props::new(format!("{prefix}channels.{name}."), entries.clone());
        if let Some(t) = component_type(&mut p, Kind::Channel, channels_d.type_hints.get(name)) {
            let types = registry::CHANNELS.iter().chain(registry::TEST_CHANNELS);
            let spec = (of_type(types, t).parse)(&mut p, &ctx);
            if let (Some(spec), false) = (spec, p.has_errors()) {
                channels.push(ChannelConfig {
                    name: name.clone(),
                    spec,
                });
            }
        }
        errors.append(&mut p.errors);
    }
    let delivers_itself: HashSet<&str> = channels
        .iter()
        .filter(|ch| ch.spec.delivers_itself())
        .map(|ch| ch.name.as_str())
        .collect();
    let sinkless = !channels_d.names.is_empty()
        && channels_d
            .names
            .iter()
            .all(|c| delivers_itself.contains(c.as_str()));
    if sinks_d.names.is_empty() && sinkless {
        no_sinks.retain(|e| !e.message.contains("lists no sinks"));
    }
    errors.append(&mut no_sinks);
    let capacities: HashMap<&str, usize> = channels
        .iter()
        .map(|ch| (ch.name.as_str(), ch.spec.transaction_capacity()))
        .collect();
    let tx_capacity = |c: &str| capacities.get(c).copied();

    let mut sources = Vec::new();
    for name in &sources_d.names {
        let Some(entries) = sources_d.props_of(name) else {
            continue;
        };
        let mut p = Props::new(format!("{prefix}sources.{name}."), entries.clone());
        let wired = source_channels(&mut p, channels_d, &prefix);
        let interceptors = crate::interceptor::parse_chain(&mut p, &ctx);
        let selector = match &wired {
            Some(channels) => crate::selector::parse(&mut p, channels),
            None => {
                p.take_prefixed("selector.");
                None
            }
        };
        if let Some(t) = component_type(&mut p, Kind::Source, sources_d.type_hints.get(name)) {
            let spec = (of_type(registry::SOURCES, t).parse)(&mut p, &ctx);
            if let Some(spec) = &spec {
                let (keys, batch) = (spec.batch_keys(), spec.batch_size());
                check_batch(&mut p, keys, batch, &wired, &tx_capacity, &prefix);
            }
            if let (Some(spec), Some(channels), Some(interceptors), Some(selector), false) =
                (spec, wired, interceptors, selector, p.has_errors())
            {
                sources.push(SourceConfig {
                    name: name.clone(),
                    channels,
                    spec,
                    interceptors,
                    selector,
                });
            }
        }
        errors.append(&mut p.errors);
    }

    exclusive_use(&sources, sources_d, &prefix, &mut errors);

    let mut sinks = Vec::new();
    for name in &sinks_d.names {
        let Some(entries) = sinks_d.props_of(name) else {
            continue;
        };
        let mut p = Props::new(format!("{prefix}sinks.{name}."), entries.clone());
        let channel = sink_channel(&mut p, channels_d, &prefix);
        if let Some(t) = component_type(&mut p, Kind::Sink, sinks_d.type_hints.get(name)) {
            let spec = (of_type(registry::SINKS, t).parse)(&mut p, &ctx);
            if let (Some(spec), Some(c)) = (&spec, &channel) {
                let (keys, batch) = (spec.batch_keys(), spec.batch_size());
                let wired = Some(vec![c.clone()]);
                check_batch(&mut p, keys, batch, &wired, &tx_capacity, &prefix);
            }
            if let (Some(spec), Some(channel), false) = (spec, channel, p.has_errors()) {
                sinks.push(SinkConfig {
                    name: name.clone(),
                    channel,
                    spec,
                });
            }
        }
        errors.append(&mut p.errors);
    }

    let read: Vec<(String, String)> = sinks
        .iter()
        .map(|s| (s.name.clone(), s.channel.clone()))
        .collect();
    let sinkgroups = crate::sink::group::parse(
        &prefix,
        groups_d.list,
        &groups_d.configured,
        &read,
        &mut errors,
    );

    // Every channel needs a writer and a reader, or nothing flows through it. Only listed
    // components count (the others are not run); no component listed, or one missing its wiring
    // key, turns the check off (its own error says what is wrong).
    let wiring = |d: &Declared<'_>, prop: &str| -> Option<HashSet<String>> {
        if d.names.is_empty() {
            return None; // reported as `lists no ...`
        }
        let mut names = HashSet::new();
        for name in &d.names {
            let props = d.props_of(name)?; // reported as `listed but not configured`
            let (_, e) = props.iter().find(|(p, _)| *p == prop)?;
            if e.broken {
                return None;
            }
            for c in e.value.split_whitespace() {
                if !channels_d.is_listed(c) {
                    return None; // a dangling reference, reported
                }
                names.insert(c.to_string());
            }
        }
        Some(names)
    };
    let written = wiring(sources_d, "channels");
    let read = wiring(sinks_d, "channel");
    for name in &channels_d.names {
        let Some(entries) = channels_d.props_of(name) else {
            continue;
        };
        let anchor = entries
            .iter()
            .find(|(p, _)| *p == "type")
            .unwrap_or(&entries[0])
            .1;
        let at = |msg: String, hint: String| {
            ConfigError::at(anchor, msg)
                .key(format!("{prefix}channels.{name}"))
                .hint(hint)
        };
        let unwritten = written.as_ref().is_some_and(|w| !w.contains(name));
        let unread = read.as_ref().is_some_and(|r| !r.contains(name))
            && !delivers_itself.contains(name.as_str());
        let name = shorten(name);
        if unwritten {
            errors.push(at(
                format!("no source writes to channel `{name}`, so nothing would flow through it"),
                format!("add `{name}` to a source's channels (`{prefix}sources.<source>.channels`), or remove it from `{prefix}channels`"),
            ));
        }
        if unread {
            errors.push(at(
                format!("no sink reads channel `{name}`: events put into it would never leave"),
                format!("add a sink with `{prefix}sinks.<sink>.channel = {name}`, or remove `{name}` from `{prefix}channels` and the sources' channels"),
            ));
        }
    }

    // Configured but not listed: said once, by the reference to it when there is one.
    let referenced = |d: &Declared<'_>, prop: &str| -> HashSet<String> {
        d.names
            .iter()
            .filter_map(|n| d.props_of(n)?.iter().find(|(p, _)| *p == prop))
            .flat_map(|(_, e)| e.value.split_whitespace().map(str::to_string))
            .collect()
    };
    let mut used = referenced(sources_d, "channels");
    used.extend(referenced(sinks_d, "channel"));
    for (d, kind) in declared.iter_mut().zip(Kind::ALL) {
        for (name, warning) in std::mem::take(&mut d.unlisted) {
            if kind != Kind::Channel || !used.contains(&name) {
                errors.push(warning);
            }
        }
    }
    errors.retain(|e| !e.key.as_deref().is_some_and(|k| broken.contains(k)));
    errors.append(&mut roots);
    let found = ConfigErrors::sorted(errors, files);
    if found.errors().next().is_none() {
        Ok(AgentConfig {
            name: agent.to_string(),
            sources,
            channels,
            sinks,
            sinkgroups,
            warnings: found.0,
        })
    } else {
        Err(found)
    }
}

/// Sorts the agent's entries into component lists and component properties; reports keys that
/// are neither.
fn classify<'a>(
    mine: &'a [Entry],
    prefix: &str,
    groups: &mut Groups<'a>,
    errors: &mut Vec<ConfigError>,
) -> [Declared<'a>; 3] {
    let mut declared: [Declared<'a>; 3] = Default::default();
    for e in mine {
        let rest = &e.key[prefix.len()..];
        let (head, tail) = match rest.split_once('.') {
            Some((h, t)) => (h, Some(t)),
            None => (rest, None),
        };
        if head == "sinkgroups" {
            match tail.map(|t| t.split_once('.')) {
                None => groups.list = Some(e),
                Some(Some((name, prop))) if !name.is_empty() && !prop.is_empty() => {
                    match groups.configured.iter_mut().find(|(n, _)| n == name) {
                        Some((_, props)) => props.push((prop, e)),
                        None => groups.configured.push((name.to_string(), vec![(prop, e)])),
                    }
                }
                Some(_) => errors.push(
                    ConfigError::at(e, "expected a sink group property, ignored")
                        .hint(format!(
                            "write `{prefix}sinkgroups.<group>.<property> = value`"
                        ))
                        .warning(),
                ),
            }
            continue;
        }
        if let Some(kind) = Kind::ALL.iter().position(|k| k.plural() == head) {
            let d = &mut declared[kind];
            match tail.map(|t| t.split_once('.')) {
                None => d.list = Some(e),
                Some(Some((name, prop))) if !name.is_empty() && !prop.is_empty() => {
                    match d.index.get(name) {
                        Some(&i) => d.configured[i].1.push((prop, e)),
                        None => {
                            d.index.insert(name.to_string(), d.configured.len());
                            d.configured.push((name.to_string(), vec![(prop, e)]));
                        }
                    }
                }
                Some(_) => {
                    let hint = format!("write `{prefix}{head}.<name>.<property> = value`");
                    errors.push(
                        ConfigError::at(e, "expected a component property, ignored")
                            .hint(hint)
                            .warning(),
                    );
                }
            }
            continue;
        }
        let error = match head {
            "configfilters" => ConfigError::at(e, "config filters are not supported by spate yet")
                .hint("remove the configfilters keys; `${env:NAME}` substitution is supported"),
            _ => {
                let suggestion = suggest(head, Kind::ALL.map(Kind::plural));
                if let (None, Some(s)) = (tail, suggestion) {
                    // Perhaps the list: decided below, once it is known whether it is there.
                    let kind = Kind::ALL.iter().position(|k| k.plural() == s).unwrap_or(0);
                    if declared[kind].misspelt_list.is_none() {
                        declared[kind].misspelt_list = Some(e);
                        continue;
                    }
                }
                unknown_agent_key(e, prefix, suggestion)
            }
        };
        errors.push(error);
    }
    for (d, kind) in declared.iter_mut().zip(Kind::ALL) {
        if d.list.is_some() {
            if let Some(e) = d.misspelt_list.take() {
                errors.push(unknown_agent_key(e, prefix, Some(kind.plural())));
            }
        }
    }
    declared
}

/// The warning for an agent key that is none of the known ones: Flume ignores it.
fn unknown_agent_key(e: &Entry, prefix: &str, suggestion: Option<&str>) -> ConfigError {
    let rest = &e.key[prefix.len()..];
    let hint = match suggestion {
        Some(s) => format!("did you mean `{prefix}{s}`?"),
        None => format!(
            "agent keys are `{prefix}sources`, `{prefix}channels`, `{prefix}sinks` and their \
             components"
        ),
    };
    ConfigError::at(e, format!("unknown agent key `{}`, ignored", shorten(rest)))
        .hint(hint)
        .warning()
}

/// The error for an agent that has no keys, naming the agents that do.
fn no_such_agent(entries: &[Entry], agent: &str, files: &[PathBuf]) -> ConfigError {
    let mut agents: Vec<&str> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for e in entries {
        if let Some((a, _)) = e.key.split_once('.') {
            if seen.insert(a) {
                agents.push(a);
            }
        }
    }
    let file = (files.len() == 1).then(|| files[0].as_path());
    let err = ConfigError::new(format!("no configuration for agent `{agent}`")).located(file, None);
    if agents.is_empty() {
        err.hint(format!(
            "keys of agent `{agent}` start with `{agent}.`, e.g. `{agent}.sources = r1`"
        ))
    } else {
        let mut hint = format!(
            "agents defined: {}; pick one with -n/--name",
            some_of(&agents)
        );
        if let Some(s) = suggest(agent, agents.iter().copied()) {
            hint = format!("did you mean `{s}`? {hint}");
        }
        err.hint(hint)
    }
}

/// Up to 10 of `names`, shortened, then how many more.
fn some_of(names: &[&str]) -> String {
    let mut shown: Vec<_> = names.iter().take(10).map(|n| shorten(n)).collect();
    if names.len() > 10 {
        shown.push(format!("and {} more", names.len() - 10).into());
    }
    shown.join(", ")
}

/// Reads the `<agent>.<kind>` list and checks it against the configured components.
///
/// One mistake, one report: a misspelt list key (`a1.sink`) is the one error and stands for the
/// list; a listed name that is not configured but close to a configured, unlisted one is one
/// error naming both; a configured, unlisted component of a close name that has the `type` a
/// listed one lacks becomes the hint of that missing `type`.
///
/// `first` is the agent's first key, where an error about a missing list points when nothing
/// of its kind is configured.
fn check_listing(
    d: &mut Declared<'_>,
    kind: Kind,
    prefix: &str,
    first: &Entry,
    errors: &mut Vec<ConfigError>,
) {
    let agent = &prefix[..prefix.len() - 1];
    let list_key = format!("{prefix}{}", kind.plural());
    if d.list.is_none() {
        if let Some(m) = d.misspelt_list {
            let rest = &m.key[prefix.len()..];
            errors.push(
                ConfigError::at(
                    m,
                    format!(
                        "unknown agent key `{}`, so agent `{agent}` lists no {}",
                        shorten(rest),
                        kind.plural()
                    ),
                )
                .hint(format!("did you mean `{list_key}`?")),
            );
            d.list = Some(m);
        }
    }
    let Some(list) = d.list else {
        // Flume would run the agent without any; spate needs all three kinds.
        let configured: Vec<&str> = d.configured.iter().map(|(n, _)| n.as_str()).collect();
        let hint = if configured.is_empty() {
            format!(
                "add `{list_key} = ...` and configure each {}",
                kind.singular()
            )
        } else {
            let add = match configured.as_slice() {
                [one] => shorten(one).into_owned(),
                _ => "...".to_string(),
            };
            format!(
                "{} configured: add `{list_key} = {add}`",
                some_of(&configured)
            )
        };
        let anchor = d.configured.first().map_or(first, |(_, props)| props[0].1);
        let err = ConfigError::new(format!("agent `{agent}` lists no {}", kind.plural()))
            .located(anchor.file.as_deref(), Some(anchor.line));
        errors.push(err.key(list_key.clone()).hint(hint));
        return;
    };
    if list.broken {
        // Its value could not be read (its own error says why): take every configured component
        // as listed, so that they are checked and nothing is said about the list.
        for (name, _) in &d.configured {
            d.names.push(name.clone());
            d.listed.insert(name.clone());
        }
        return;
    }
    for name in list.value.split_whitespace() {
        if d.is_listed(name) {
            errors.push(
                ConfigError::at(
                    list,
                    format!(
                        "{} `{}` is listed twice, once is enough",
                        kind.singular(),
                        shorten(name)
                    ),
                )
                .warning(),
            );
        } else {
            d.names.push(name.to_string());
            d.listed.insert(name.to_string());
        }
    }
    if d.names.is_empty() && d.misspelt_list.is_none() {
        errors.push(
            ConfigError::at(list, format!("agent `{agent}` lists no {}", kind.plural())).hint(
                format!(
                    "name at least one {}, e.g. `{list_key} = {}1`",
                    kind.singular(),
                    &kind.plural()[..1]
                ),
            ),
        );
    }
    let unlisted: Vec<&str> = d
        .configured
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| !d.is_listed(n))
        .collect();
    for name in &d.names {
        if d.props_of(name).is_some() {
            continue;
        }
        let free = unlisted.iter().copied().filter(|u| !d.paired.contains(*u));
        let pair = suggest(name, free).map(str::to_string);
        let shown = shorten(name);
        let hint = match &pair {
            Some(other) => {
                let line = d.props_of(other).map_or(0, |props| props[0].1.line);
                format!(
                    "did you mean `{}`? `{list_key}.{}` is configured (line {line}) but not listed",
                    shorten(other),
                    shorten(other)
                )
            }
            None => {
                format!("add `{list_key}.{shown}.type = ...` or remove `{shown}` from the list")
            }
        };
        if let Some(other) = pair {
            d.paired.insert(other);
        }
        errors.push(
            ConfigError::at(
                list,
                format!("{} `{shown}` is listed but not configured", kind.singular()),
            )
            .hint(hint),
        );
    }
    let listed: Vec<&str> = d.names.iter().map(String::as_str).collect();
    let mut type_hints = HashMap::new();
    let mut warnings = Vec::new();
    for name in unlisted {
        if d.paired.contains(name) {
            continue;
        }
        let Some(props) = d.props_of(name) else {
            continue;
        };
        let suggestion = suggest(name, listed.iter().copied());
        let typed = props.iter().find(|(p, _)| *p == "type");
        let lacks_type = |x: &str| {
            d.props_of(x)
                .is_some_and(|props| !props.iter().any(|(p, _)| *p == "type"))
        };
        if let (Some(x), Some((_, t))) = (suggestion, typed) {
            if lacks_type(x) && !type_hints.contains_key(x) {
                type_hints.insert(
                    x.to_string(),
                    format!(
                        "line {} sets `{}`: did you mean `{}`?",
                        t.line,
                        shorten(&t.key),
                        shorten(&format!("{list_key}.{x}.type"))
                    ),
                );
                continue;
            }
        }
        let shown = shorten(name);
        let listed_value = shorten(&list.value);
        let add = format!("add `{shown}` to `{list_key} = {listed_value}`");
        let hint = match suggestion {
            Some(s) => format!("did you mean `{s}`? otherwise {add}"),
            None => add,
        };
        let warning = ConfigError::at(
            props[0].1,
            format!(
                "{} `{shown}` is configured but not listed in `{list_key}`, ignored",
                kind.singular()
            ),
        )
        .hint(hint)
        .warning();
        warnings.push((name.to_string(), warning));
    }
    d.type_hints = type_hints;
    d.unlisted = warnings;
}

/// Reads `type` and resolves it; records an error and returns `None` when it is missing or not
/// implemented. The component's other keys are then not checked (their meaning depends on it).
/// `near` is the hint naming a configured, unlisted component that looks like this one.
fn component_type(p: &mut Props<'_>, kind: Kind, near: Option<&String>) -> Option<&'static str> {
    let Some(entry) = p.get("type") else {
        let message = format!("the {} has no `type`", kind.singular());
        let err = match near {
            Some(hint) => p.error("type", None, message).hint(hint.clone()),
            None => {
                let supported: Vec<&str> = kind.types().iter().map(|(c, _)| *c).collect();
                let hint = format!(
                    "add `{} = {}` (spate supports: {})",
                    p.shown("type"),
                    supported[0],
                    supported.join(", ")
                );
                p.missing("type", message, hint)
            }
        };
        p.push(err);
        return None;
    };
    match kind.resolve_type(entry) {
        Ok(t) => Some(t),
        Err(e) => {
            p.push(e);
            None
        }
    }
}

/// Reads a source's `channels`; each must be listed in `<agent>.channels`.
fn source_channels(
    p: &mut Props<'_>,
    channels: &Declared<'_>,
    prefix: &str,
) -> Option<Vec<String>> {
    let Some(entry) = p.get("channels") else {
        let hint = format!(
            "add `{} = c1` naming the channel(s) it writes to",
            p.shown("channels")
        );
        let err = p.missing("channels", "the source has no `channels`", hint);
        p.push(err);
        return None;
    };
    let mut out: Vec<String> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    let mut ok = true;
    for c in entry.value.split_whitespace() {
        if !seen.insert(c) {
            p.push(
                ConfigError::at(
                    entry,
                    format!("channel `{}` is listed twice, once is enough", shorten(c)),
                )
                .warning(),
            );
            continue;
        } else if !check_channel_listed(p, entry, c, channels, prefix) {
            ok = false;
        }
        out.push(c.to_string());
    }
    if out.is_empty() {
        p.push(
            ConfigError::at(entry, "empty list of channels")
                .hint("name the channel(s) the source writes to"),
        );
        return None;
    }
    ok.then_some(out)
}

/// Reads a sink's `channel`: exactly one, listed in `<agent>.channels`.
fn sink_channel(p: &mut Props<'_>, channels: &Declared<'_>, prefix: &str) -> Option<String> {
    let Some(entry) = p.get("channel") else {
        let message = "the sink has no `channel`";
        let err = match p.get("channels") {
            Some(e) => ConfigError::at(e, message).hint(format!(
                "a sink reads one channel: write `{}` (singular)",
                p.shown("channel")
            )),
            None => {
                let hint = format!(
                    "add `{} = c1` naming the channel it reads",
                    p.shown("channel")
                );
                p.missing("channel", message, hint)
            }
        };
        p.push(err);
        return None;
    };
    let names: Vec<&str> = entry.value.split_whitespace().collect();
    match names.as_slice() {
        [] => {
            p.push(ConfigError::at(entry, "empty channel").hint("name the channel the sink reads"));
            None
        }
        [one] => check_channel_listed(p, entry, one, channels, prefix).then(|| one.to_string()),
        _ => {
            p.push(
                ConfigError::at(
                    entry,
                    format!("a sink reads exactly one channel, got {}", names.len()),
                )
                .hint("configure one sink per channel"),
            );
            None
        }
    }
}

fn check_channel_listed(
    p: &mut Props<'_>,
    entry: &Entry,
    c: &str,
    channels: &Declared<'_>,
    prefix: &str,
) -> bool {
    if channels.is_listed(c) {
        return true;
    }
    if channels.paired.contains(c) {
        return false; // the list's error says that `c` is probably what it meant
    }
    if let Some(props) = channels.props_of(c) {
        let line = props[0].1.line;
        let c = shorten(c);
        p.push(
            ConfigError::at(
                entry,
                format!("channel `{c}` is not listed in `{prefix}channels`"),
            )
            .hint(format!(
                "`{prefix}channels.{c}` is configured (line {line}): add `{c}` to `{prefix}channels`"
            )),
        );
        return false;
    }
    let suggestion = suggest(c, channels.names.iter().map(String::as_str));
    let c = shorten(c);
    let add = format!("add `{c}` to `{prefix}channels` and configure it");
    let hint = match suggestion {
        Some(s) => format!("did you mean `{s}`? otherwise {add}"),
        None => add,
    };
    p.push(
        ConfigError::at(
            entry,
            format!("channel `{c}` is not listed in `{prefix}channels`"),
        )
        .hint(hint),
    );
    false
}

/// Two sources naming one resource only one may use (a position file): an error at the second.
fn exclusive_use(
    sources: &[SourceConfig],
    declared: &Declared<'_>,
    prefix: &str,
    errors: &mut Vec<ConfigError>,
) {
    let mut claimed: HashMap<std::path::PathBuf, &str> = HashMap::new();
    for source in sources {
        for (key, path) in source.spec.exclusive() {
            let Some(first) = claimed.get(&path).copied() else {
                claimed.insert(path, &source.name);
                continue;
            };
            let Some(props) = declared.props_of(&source.name) else {
                continue;
            };
            let entry = props
                .iter()
                .find(|(p, _)| *p == key)
                .or_else(|| props.iter().find(|(p, _)| *p == "type"))
                .unwrap_or(&props[0])
                .1;
            errors.push(
                ConfigError::at(
                    entry,
                    format!(
                        "source `{}` uses the same {key} as source `{}`: {}",
                        shorten(&source.name),
                        shorten(first),
                        shorten(&path.display().to_string())
                    ),
                )
                .key(format!("{prefix}sources.{}.{key}", source.name))
                .hint(format!(
                    "give each source its own `{key}`: two sources would overwrite each other's"
                )),
            );
        }
    }
}

/// The registry entry of type `name` (resolved from that registry).
fn of_type<T: ?Sized + 'static>(
    types: impl IntoIterator<Item = &'static Type<T>>,
    name: &str,
) -> &'static Type<T> {
    types
        .into_iter()
        .find(|t| t.name == name)
        .expect("type names are resolved from the registry")
}

/// Checks a batch size, read from the first of `keys` that is set (else the first: its
/// default), against the transaction capacity of the channels it is used with. Without keys the
/// batch size is not configurable, and not checked.
fn check_batch(
    p: &mut Props<'_>,
    keys: &[&str],
    batch: usize,
    wired: &Option<Vec<String>>,
    tx_capacity: &dyn Fn(&str) -> Option<usize>,
    prefix: &str,
) {
    let Some(wired) = wired else { return };
    let Some(&first) = keys.first() else { return };
    let prop = keys
        .iter()
        .copied()
        .find(|k| p.get(k).is_some())
        .unwrap_or(first);
    if p.failed(prop) {
        return; // its value is invalid, and said so
    }
    let entry = p.get(prop);
    let default = if entry.is_none() {
        " (the default)"
    } else {
        ""
    };
    for c in wired {
        let Some(tx) = tx_capacity(c) else { continue };
        let c = shorten(c);
        if batch > tx {
            let err = p
                .error(
                    prop,
                    entry,
                    format!("{prop} {batch}{default} is larger than the transactionCapacity {tx} of channel `{c}`"),
                )
                .hint(format!(
                    "set `{}` to at most {tx}, or raise `{prefix}channels.{c}.transactionCapacity` to at least {batch}",
                    p.shown(prop)
                ));
            p.push(err);
        }
    }
}
