//! Agent configuration, read from Apache Flume 1.11 agent configuration files.
//!
//! A configuration is a Java `.properties` file in which keys starting with
//! `<agent>.` belong to one agent. The agent lists its components, then configures each:
//!
//! ```
//! let text = "\
//! a1.sources = r1
//! a1.channels = c1
//! a1.sinks = k1
//! a1.sources.r1.type = TAILDIR
//! a1.sources.r1.channels = c1
//! a1.sources.r1.positionFile = /var/lib/spate/position.json
//! a1.sources.r1.filegroups = f1
//! a1.sources.r1.filegroups.f1 = /var/log/app/.*\\\\.log
//! a1.channels.c1.type = memory
//! a1.sinks.k1.type = logger
//! a1.sinks.k1.channel = c1
//! ";
//! let agent = spate::config::parse_str(text, None, "a1").unwrap();
//! assert_eq!(agent.sources[0].channels, ["c1"]);
//! ```
//!
//! spate is stricter than Flume: a feature spate does not implement yet, dangling wiring or a
//! value out of range is an error rather than silently ignored, and every error found is
//! reported in one pass ([`ConfigErrors`]), sorted by file and line. What Flume ignores (an
//! unknown key, a component configured but not listed) spate ignores too, with a warning
//! ([`AgentConfig::warnings`], [`Severity::Warning`]).
//!
//! Layout: `properties` reads the `.properties` text (keeping each key's file and line), `agent`
//! picks one agent's keys, finds each component's type in [`crate::registry`], has the type's
//! own module read its keys, and checks the wiring; `props` is the typed getter the component
//! modules share (it reports unknown keys), and `describe` renders the result for `spate check`.
//! What is particular to a component type lives beside its runtime code (for example
//! [`crate::source::taildir::config`]).

mod agent;
mod describe;
mod error;
mod properties;
mod props;

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

pub(crate) use error::shorten;
pub use error::{ConfigError, ConfigErrors, Severity};
pub use properties::Entry;
pub(crate) use props::{parse_int, suggest};
pub use props::{Props, JAVA_INT_MAX, MAX_MILLIS};

use crate::component::{ChannelSpec, SinkSpec, SourceSpec};
use crate::interceptor::InterceptorConfig;
use crate::selector::SelectorConfig;
use crate::sink::group::SinkGroupConfig;
use agent::build;

/// The pipeline `spate agent` runs when no configuration file is given: agent `a1` tails
/// `./logs/*.log` (relative to the current directory when loaded, see [`load_default`]) through a
/// memory channel into a logger sink.
///
/// Flume requires absolute file-group paths; this embedded default is the one exception, so
/// load it with [`load_default`] (which resolves its relative paths); [`parse_str`] rejects them.
pub const DEFAULT_CONFIG: &str = r"# spate's built-in pipeline, used when `spate agent` is started without -f.
# Relative paths are resolved against the current directory (only here: files given with -f
# need absolute paths, as in Flume).
a1.sources = r1
a1.channels = c1
a1.sinks = k1

a1.sources.r1.type = TAILDIR
a1.sources.r1.channels = c1
a1.sources.r1.filegroups = f1
# A .properties backslash must be doubled: the regex is .*\.log
a1.sources.r1.filegroups.f1 = ./logs/.*\\.log
a1.sources.r1.positionFile = ./logs/.spate_position.json
a1.sources.r1.batchSize = 1000

a1.channels.c1.type = memory
a1.channels.c1.capacity = 10000
a1.channels.c1.transactionCapacity = 1000

a1.sinks.k1.type = logger
a1.sinks.k1.channel = c1
# Whole lines, as text (Flume's logger shows 16 bytes in hex: maxBytesToLog = 16, format = flume).
a1.sinks.k1.maxBytesToLog = 4096
a1.sinks.k1.format = text
";

/// One configured source.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    /// The component name, as listed in `<agent>.sources`.
    pub name: String,
    /// Flume key `channels` (required, space separated), in this order.
    pub channels: Vec<String>,
    /// Flume key `type` and the type's own settings.
    pub spec: Arc<dyn SourceSpec>,
    /// Flume keys `interceptors` and `interceptors.<name>.*`, in order.
    pub interceptors: Vec<InterceptorConfig>,
    /// Flume keys `selector.*`: which channels get each event (default: all of them).
    pub selector: SelectorConfig,
}

/// One configured channel.
#[derive(Debug, Clone)]
pub struct ChannelConfig {
    /// The component name, as listed in `<agent>.channels`.
    pub name: String,
    /// Flume key `type` and the type's own settings.
    pub spec: Arc<dyn ChannelSpec>,
}

/// One configured sink.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    /// The component name, as listed in `<agent>.sinks`.
    pub name: String,
    /// Flume key `channel` (required): the one channel this sink reads.
    pub channel: String,
    /// Flume key `type` and the type's own settings.
    pub spec: Arc<dyn SinkSpec>,
}

// By hand: a derived `PartialEq` cannot compare `Arc<dyn Trait>` fields (rust-lang/rust#31740).
impl PartialEq for SourceConfig {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.channels == other.channels
            && *self.spec == *other.spec
            && self.interceptors == other.interceptors
            && self.selector == other.selector
    }
}

impl PartialEq for ChannelConfig {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && *self.spec == *other.spec
    }
}

impl PartialEq for SinkConfig {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.channel == other.channel && *self.spec == *other.spec
    }
}

/// The resolved configuration of one agent.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentConfig {
    /// The agent name (`-n`/`--name`), the first part of its keys.
    pub name: String,
    /// Sources, in the order of `<agent>.sources`.
    pub sources: Vec<SourceConfig>,
    /// Channels, in the order of `<agent>.channels`.
    pub channels: Vec<ChannelConfig>,
    /// Sinks, in the order of `<agent>.sinks`.
    pub sinks: Vec<SinkConfig>,
    /// Sink groups, in the order of `<agent>.sinkgroups`: their sinks run together.
    pub sinkgroups: Vec<SinkGroupConfig>,
    /// What Flume ignores and so does spate, sorted by file and line: unknown keys, components
    /// configured but not listed, keys set twice in a file. The agent logs them at start;
    /// [`AgentConfig::strict`] refuses them.
    pub warnings: Vec<ConfigError>,
}

impl AgentConfig {
    /// For `--strict`: a configuration with warnings is refused, its warnings being the reasons.
    pub fn strict(self) -> Result<AgentConfig, ConfigErrors> {
        if self.warnings.is_empty() {
            Ok(self)
        } else {
            Err(ConfigErrors(self.warnings))
        }
    }
}

/// Reads `files` (merged in order, a later key replacing an earlier one, as Flume 1.10+ does)
/// and resolves agent `agent`.
pub fn load(files: &[PathBuf], agent: &str) -> Result<AgentConfig, ConfigErrors> {
    if files.is_empty() {
        return Err(ConfigErrors(vec![ConfigError::new(
            "no configuration file given",
        )
        .hint(
            "pass one with -f FILE, or start without -f to use the built-in pipeline",
        )]));
    }
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    for file in files {
        match read_file(file) {
            Ok(text) => {
                let (e, errs) = properties::parse(&text, Some(file));
                entries.extend(e);
                errors.extend(errs);
            }
            Err(e) => errors.push(e),
        }
    }
    // A file that cannot be read: checking the rest would only report what it would have set.
    let unreadable: Vec<ConfigError> = errors
        .iter()
        .filter(|e| e.line.is_none())
        .cloned()
        .collect();
    if !unreadable.is_empty() {
        return Err(ConfigErrors::sorted(unreadable, files));
    }
    build(
        merge(entries, agent, &mut errors),
        errors,
        agent,
        None,
        files,
    )
}

/// The largest configuration file spate reads. An agent configuration is a few kilobytes; a
/// larger file is most likely not one (a log file given with -f by mistake), and reading it
/// whole would only use memory.
pub const MAX_FILE_SIZE: u64 = 16 << 20;

/// Reads one configuration file, at most [`MAX_FILE_SIZE`] bytes of it.
fn read_file(file: &Path) -> Result<Vec<u8>, ConfigError> {
    use std::io::Read;
    let too_large = |size: Option<u64>| {
        let size = size.map(|n| format!(" ({n} bytes)")).unwrap_or_default();
        ConfigError::new(format!(
            "the configuration file is larger than {} MiB{size}, the most spate reads",
            MAX_FILE_SIZE >> 20
        ))
        .located(Some(file), None)
        .hint("an agent configuration is a few kilobytes: check the path given with -f")
    };
    let cannot_read = |e: std::io::Error| {
        ConfigError::new(format!("cannot read the configuration file: {e}"))
            .located(Some(file), None)
            .hint("check the path given with -f")
    };
    let f = std::fs::File::open(file).map_err(cannot_read)?;
    // The size is known for a regular file; a pipe or a device is read up to the limit.
    if let Ok(meta) = f.metadata() {
        if meta.is_file() && meta.len() > MAX_FILE_SIZE {
            return Err(too_large(Some(meta.len())));
        }
    }
    let mut bytes = Vec::new();
    f.take(MAX_FILE_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot_read)?;
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(too_large(None));
    }
    Ok(bytes)
}

/// Parses configuration text; `origin` names its file in errors.
pub fn parse_str(
    text: &str,
    origin: Option<&Path>,
    agent: &str,
) -> Result<AgentConfig, ConfigErrors> {
    let (entries, mut errors) = properties::parse(text.as_bytes(), origin);
    let files: Vec<PathBuf> = origin.map(Path::to_path_buf).into_iter().collect();
    build(
        merge(entries, agent, &mut errors),
        errors,
        agent,
        None,
        &files,
    )
}

/// Loads [`DEFAULT_CONFIG`] (agent `a1`), resolving its relative paths against the current
/// directory.
pub fn load_default() -> Result<AgentConfig, ConfigErrors> {
    let cwd = std::env::current_dir().map_err(|e| {
        ConfigErrors(vec![ConfigError::new(format!(
            "cannot determine the current directory: {e}"
        ))])
    })?;
    parse_with_base(DEFAULT_CONFIG, "a1", &cwd)
}

/// Parses `text`, allowing relative paths resolved against `base`.
fn parse_with_base(text: &str, agent: &str, base: &Path) -> Result<AgentConfig, ConfigErrors> {
    let (entries, mut errors) = properties::parse(text.as_bytes(), None);
    build(
        merge(entries, agent, &mut errors),
        errors,
        agent,
        Some(base),
        &[],
    )
}

/// [`properties::merge`], its warnings about agent `agent`'s keys added to `errors`.
fn merge(
    entries: Vec<properties::Entry>,
    agent: &str,
    errors: &mut Vec<ConfigError>,
) -> Vec<properties::Entry> {
    let (merged, warnings) = properties::merge(entries, &format!("{agent}."));
    errors.extend(warnings);
    merged
}

/// `base.join(path)` without `.` components.
pub(crate) fn resolve_relative(base: &Path, path: &Path) -> PathBuf {
    base.join(path)
        .components()
        .filter(|c| *c != Component::CurDir)
        .collect()
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
