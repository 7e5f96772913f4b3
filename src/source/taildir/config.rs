//! The TAILDIR source's configuration: Flume's keys and defaults, and spate's extensions.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::component::{Component, ParseContext, Setting, SourceSpec};
use crate::config::{
    parse_int, resolve_relative, shorten, suggest, ConfigError, Entry, Props, JAVA_INT_MAX,
    MAX_MILLIS,
};

/// One TAILDIR file group: the files of one directory whose names match a pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct FileGroup {
    /// The group name, from Flume key `filegroups` (space separated list).
    pub name: String,
    /// The directory part of Flume key `filegroups.<name>`, taken literally. Absolute (Flume
    /// requires it); only [`DEFAULT_CONFIG`](crate::config::DEFAULT_CONFIG) may use a relative path, which
    /// is resolved against the current directory when it is loaded.
    pub dir: PathBuf,
    /// The file-name part of `filegroups.<name>`: a regular expression that must match the
    /// whole file name (anchored). Already validated with the `regex` crate.
    pub pattern: String,
    /// Static headers from Flume keys `headers.<name>.<key> = value`, in file order. No default.
    pub headers: Vec<(String, String)>,
}

/// What to do with a line longer than `maxLineLength` (a spate extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineOverflow {
    /// `lineOverflow = split` (default): emit the line as several events of at most
    /// `maxLineLength` bytes each.
    Split,
    /// `lineOverflow = truncate`: emit the first `maxLineLength` bytes, drop (and count) the rest.
    Truncate,
}

/// How a TAILDIR source notices new data (a spate extension, key `watcher`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchMode {
    /// `watcher = inotify` (default): woken by inotify, falling back to polling where inotify
    /// cannot be set up.
    Inotify,
    /// `watcher = poll`: scan and read every `pollInterval`; for file systems where inotify
    /// reports nothing, such as NFS.
    Poll,
}

/// How many workers share a TAILDIR source's files (a spate extension, key `shards`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shards {
    /// `shards = N` (default 1): the files are split over N workers (at most the worker count).
    Count(usize),
    /// `shards = auto`: one shard per worker.
    Auto,
}

impl Shards {
    /// The number of shards on an agent with `workers` workers: never more than the workers, as
    /// two shards on one worker would only split its work in two.
    pub fn resolve(self, workers: usize) -> usize {
        let workers = workers.max(1);
        match self {
            Shards::Count(n) => n.clamp(1, workers),
            Shards::Auto => workers,
        }
    }
}

/// spate's default `writePosInterval`, in ms; Flume's is 3000. A `kill -9` resends what was
/// delivered since the last write: about this long of the input's rate (measured with
/// `loadgen/cases/kill-loop`: 48 k lines per kill at 200 k lines/s, against 388 k at 3000 ms).
/// A write costs the position writer's own thread about 1.5 ms, mostly waiting for
/// `fdatasync` (`cargo bench --bench position`), and happens only when positions moved, so
/// four a second are cheap; a worker never waits for one.
pub const DEFAULT_WRITE_POS_INTERVAL_MS: u64 = 250;

/// Settings of the TAILDIR source.
#[derive(Debug, Clone, PartialEq)]
pub struct TaildirConfig {
    /// Flume keys `filegroups` and `filegroups.<g>` (required), plus `headers.<g>.<key>`.
    pub filegroups: Vec<FileGroup>,
    /// Flume key `positionFile`, default `$HOME/.flume/taildir_position.json`. A relative path
    /// is kept as written (relative to the agent's working directory, as in Flume), except in
    /// [`DEFAULT_CONFIG`](crate::config::DEFAULT_CONFIG), where it is resolved when loaded.
    pub position_file: PathBuf,
    /// Flume key `byteOffsetHeader`, default false: add header `byteoffset`.
    pub byte_offset_header: bool,
    /// Flume key `skipToEnd`, default false: start files unknown to the position file at their end.
    pub skip_to_end: bool,
    /// Flume key `idleTimeout` (ms), default 120000: close a file idle this long.
    pub idle_timeout: Duration,
    /// Flume key `writePosInterval` (ms): how often, at most, the position file is written.
    /// spate's default is [`DEFAULT_WRITE_POS_INTERVAL_MS`], not Flume's 3000 (see there).
    pub write_pos_interval: Duration,
    /// Flume key `batchSize`, default 100: events per channel transaction.
    pub batch_size: usize,
    /// Flume key `maxBatchCount`, default unlimited (`None`; Flume's `Long.MAX_VALUE`): batches
    /// read from one file before moving to the next.
    pub max_batch_count: Option<u64>,
    /// Flume key `backoffSleepIncrement` (ms), default 1000.
    pub backoff_sleep_increment: Duration,
    /// Flume key `maxBackoffSleep` (ms), default 5000.
    pub max_backoff_sleep: Duration,
    /// Flume key `cachePatternMatching`, default true.
    pub cache_pattern_matching: bool,
    /// The Flume keys above that were set although they change nothing in spate
    /// ([`INERT_KEYS`]); the agent says so at start.
    pub inert_keys: Vec<&'static str>,
    /// Flume key `fileHeader`, default false: add the file's absolute path as a header.
    pub file_header: bool,
    /// Flume key `fileHeaderKey`, default `file`.
    pub file_header_key: String,
    /// spate extension, key `maxLineLength` (bytes), default 1048576, at most 256 MiB: longer
    /// lines are split or truncated according to [`line_overflow`](Self::line_overflow).
    pub max_line_length: usize,
    /// spate extension, key `lineOverflow` = `split` | `truncate`, default `split`.
    pub line_overflow: LineOverflow,
    /// spate extension, key `readBufferSize` (bytes), default 262144, from 4096 to 64 MiB.
    pub read_buffer_size: usize,
    /// spate extension, key `pollInterval` (ms), default 250: the stat-poll period used when
    /// inotify is unavailable.
    pub poll_interval: Duration,
    /// spate extension, key `watcher` = `inotify` | `poll`, default `inotify`.
    pub watcher: WatchMode,
    /// spate extension, key `shards` = N | `auto`, default 1: spread the files over this many
    /// workers, each file read by one of them (chosen by its device and inode).
    pub shards: Shards,
}

/// Every property a TAILDIR source accepts (for unknown-key hints).
const KEYS: &[&str] = &[
    "type",
    "channels",
    "selector.type",
    "filegroups",
    "filegroups.<group>",
    "headers.<group>.<key>",
    "positionFile",
    "byteOffsetHeader",
    "skipToEnd",
    "idleTimeout",
    "writePosInterval",
    "batchSize",
    "maxBatchCount",
    "backoffSleepIncrement",
    "maxBackoffSleep",
    "cachePatternMatching",
    "fileHeader",
    "fileHeaderKey",
    "maxLineLength",
    "lineOverflow",
    "readBufferSize",
    "pollInterval",
    "watcher",
    "shards",
];

/// Flume keys that spate accepts and ignores: Flume's TAILDIR sleeps and re-matches file names
/// when it finds nothing new, spate is woken by inotify (or its poll interval) instead.
pub const INERT_KEYS: [&str; 3] = [
    "backoffSleepIncrement",
    "maxBackoffSleep",
    "cachePatternMatching",
];

const EXAMPLE_GROUP: &str = "/var/log/app/.*\\\\.log";

/// Reads a TAILDIR source's settings (the registry's parser).
pub fn parse(p: &mut Props<'_>, ctx: &ParseContext<'_>) -> Option<Arc<dyn SourceSpec>> {
    let config = parse_taildir(p, ctx.base);
    p.finish("a TAILDIR source", KEYS);
    Some(Arc::new(config?))
}

/// Reads a TAILDIR source's settings. `base` is the directory relative paths are resolved
/// against (only for the embedded default); `None` requires absolute paths.
fn parse_taildir(p: &mut Props<'_>, base: Option<&Path>) -> Option<TaildirConfig> {
    let filegroups = parse_filegroups(p, base);
    let position_file = match p.get("positionFile") {
        Some(e) if e.value.is_empty() => {
            p.push(ConfigError::at(e, "empty value").hint("give the path of the position file"));
            None
        }
        Some(e) => Some(match base {
            Some(b) => resolve_relative(b, Path::new(&e.value)),
            None => PathBuf::from(&e.value),
        }),
        None => match std::env::var_os("HOME") {
            Some(home) => Some(Path::new(&home).join(".flume/taildir_position.json")),
            None => {
                let err = p
                    .error(
                        "positionFile",
                        None,
                        "HOME is not set, so the default positionFile cannot be used",
                    )
                    .hint(format!("set `{}`", p.shown("positionFile")));
                p.push(err);
                None
            }
        },
    };
    let line_overflow = p.choice(
        "lineOverflow",
        LineOverflow::Split,
        &[
            ("split", LineOverflow::Split),
            ("truncate", LineOverflow::Truncate),
        ],
    );
    let watcher = p.choice(
        "watcher",
        WatchMode::Inotify,
        &[("inotify", WatchMode::Inotify), ("poll", WatchMode::Poll)],
    );
    let inert_keys = INERT_KEYS
        .into_iter()
        .filter(|&k| p.get(k).is_some())
        .collect();
    let max_batch_count = match p.get("maxBatchCount") {
        None => None,
        Some(_) => p.int("maxBatchCount", 0, 1, i64::MAX as u64, "batches"),
    };
    let config = TaildirConfig {
        filegroups: filegroups.unwrap_or_default(),
        position_file: position_file.unwrap_or_default(),
        byte_offset_header: p.bool("byteOffsetHeader", false),
        skip_to_end: p.bool("skipToEnd", false),
        idle_timeout: p.millis("idleTimeout", 120_000, 1, JAVA_INT_MAX),
        write_pos_interval: p.millis(
            "writePosInterval",
            DEFAULT_WRITE_POS_INTERVAL_MS,
            1,
            JAVA_INT_MAX,
        ),
        batch_size: p.positive("batchSize", 100, "events"),
        max_batch_count,
        backoff_sleep_increment: p.millis("backoffSleepIncrement", 1_000, 1, MAX_MILLIS),
        max_backoff_sleep: p.millis("maxBackoffSleep", 5_000, 1, MAX_MILLIS),
        cache_pattern_matching: p.bool("cachePatternMatching", true),
        inert_keys,
        file_header: p.bool("fileHeader", false),
        file_header_key: p.string("fileHeaderKey", "file"),
        max_line_length: p
            .int("maxLineLength", 1_048_576, 1, MAX_LINE_LENGTH, "bytes")
            .map_or(1_048_576, |n| n as usize),
        line_overflow,
        read_buffer_size: p
            .int("readBufferSize", 262_144, 4096, MAX_READ_BUFFER, "bytes")
            .map_or(262_144, |n| n as usize),
        poll_interval: p.millis("pollInterval", 250, 1, MAX_MILLIS),
        watcher,
        shards: parse_shards(p),
    };
    Some(config)
}

/// Reads `shards`: a positive number of workers, or `auto` for all of them.
fn parse_shards(p: &mut Props<'_>) -> Shards {
    let Some(e) = p.get("shards") else {
        return Shards::Count(1);
    };
    if e.value.eq_ignore_ascii_case("auto") {
        return Shards::Auto;
    }
    match parse_int(&e.value) {
        Some(n) if (1..=MAX_SHARDS).contains(&n) => Shards::Count(n as usize),
        _ => {
            let err = ConfigError::at(
                e,
                format!(
                    "invalid value `{}`: expected a number of workers from 1 to {MAX_SHARDS}, or `auto`",
                    shorten(&e.value)
                ),
            )
            .hint("`auto` spreads the files over every worker; 1 (the default) keeps them on one");
            p.push(err);
            Shards::Count(1)
        }
    }
}

/// Largest `maxLineLength`: a line is held whole up to this length, so it bounds the memory one
/// file may take.
pub(crate) const MAX_LINE_LENGTH: u64 = 256 << 20;

/// Largest `readBufferSize`: one read allocates this much.
pub(crate) const MAX_READ_BUFFER: u64 = 64 << 20;

/// Largest `shards` accepted; more than the worker count is clamped at start anyway.
const MAX_SHARDS: u64 = 1024;

/// Reads `filegroups`, `filegroups.<g>` and `headers.<g>.<key>`.
fn parse_filegroups(p: &mut Props<'_>, base: Option<&Path>) -> Option<Vec<FileGroup>> {
    let paths = p.take_prefixed("filegroups.");
    let headers = p.take_prefixed("headers.");
    let Some(list) = p.get("filegroups") else {
        let hint = format!(
            "list file groups and give each a path, e.g. `{0} = f1` and `{0}.f1 = {EXAMPLE_GROUP}`",
            p.shown("filegroups")
        );
        let err = p.missing("filegroups", "a TAILDIR source needs `filegroups`", hint);
        p.push(err);
        return None;
    };
    if list.broken {
        return None; // its own error says why; the groups cannot be checked against it
    }
    let mut groups: Vec<FileGroup> = Vec::new();
    let names: Vec<&str> = list.value.split_whitespace().collect();
    let listed: HashSet<&str> = names.iter().copied().collect();
    let path_of: HashMap<&str, &Entry> = paths.iter().copied().collect();
    let mut seen: HashSet<&str> = HashSet::new();
    // Unlisted groups that a listed group without a path is probably a misspelling of: one
    // error says so, and nothing more is said about them.
    let mut paired: HashSet<&str> = HashSet::new();
    if names.is_empty() {
        p.push(
            ConfigError::at(list, "empty list of file groups")
                .hint("name at least one group, e.g. `f1`"),
        );
    }
    for name in &names {
        if !seen.insert(name) {
            p.push(
                ConfigError::at(
                    list,
                    format!(
                        "file group `{}` is listed twice, once is enough",
                        shorten(name)
                    ),
                )
                .warning(),
            );
            continue;
        }
        let Some(entry) = path_of.get(name) else {
            let unlisted = paths
                .iter()
                .map(|(g, _)| *g)
                .filter(|g| !listed.contains(g) && !paired.contains(g));
            let pair = suggest(name, unlisted);
            let name = shorten(name);
            let hint = match pair {
                Some(g) => {
                    paired.insert(g);
                    format!(
                        "did you mean `{}`? line {} sets `{}`",
                        shorten(g),
                        path_of[g].line,
                        p.shown(&format!("filegroups.{g}"))
                    )
                }
                None => format!("add `{}{name} = {EXAMPLE_GROUP}`", p.shown("filegroups.")),
            };
            let err = ConfigError::at(list, format!("file group `{name}` has no path")).hint(hint);
            p.push(err);
            continue;
        };
        match split_group_path(&entry.value, base) {
            Ok((dir, pattern)) => groups.push(FileGroup {
                name: name.to_string(),
                dir,
                pattern,
                headers: Vec::new(),
            }),
            Err((message, hint)) => p.push(ConfigError::at(entry, message).hint(hint)),
        }
    }
    let index: HashMap<String, usize> = groups
        .iter()
        .enumerate()
        .map(|(i, fg)| (fg.name.clone(), i))
        .collect();
    for (g, entry) in &paths {
        if !listed.contains(g) && !paired.contains(g) {
            p.push(unlisted_group(p, entry, g, &names));
        }
    }
    for (rest, entry) in &headers {
        let Some((g, key)) = rest
            .split_once('.')
            .filter(|(g, k)| !g.is_empty() && !k.is_empty())
        else {
            let err = ConfigError::at(entry, "expected `headers.<group>.<header name>`")
                .hint(format!("e.g. `{}`", p.shown("headers.f1.topic = app")));
            p.push(err);
            continue;
        };
        if !listed.contains(g) {
            if !paired.contains(g) {
                p.push(unlisted_group(p, entry, g, &names));
            }
        } else if let Some(&i) = index.get(g) {
            groups[i]
                .headers
                .push((key.to_string(), entry.value.clone()));
        }
    }
    Some(groups)
}

/// The warning for a path or headers of a group that is not listed: Flume ignores them.
fn unlisted_group(p: &Props<'_>, entry: &Entry, g: &str, names: &[&str]) -> ConfigError {
    let suggestion = suggest(g, names.iter().copied());
    let g = shorten(g);
    let list = p.shown("filegroups");
    let hint = match suggestion {
        Some(s) => format!("did you mean `{s}`? otherwise add `{g}` to `{list}`"),
        None => format!("add `{g}` to `{list}`"),
    };
    ConfigError::at(
        entry,
        format!("file group `{g}` is not listed in `{list}`, ignored"),
    )
    .hint(hint)
    .warning()
}

/// Splits a `filegroups.<g>` value into its literal directory and file-name regex, as Flume
/// does (`File.getParentFile()` / `File.getName()`), and validates both.
fn split_group_path(
    value: &str,
    base: Option<&Path>,
) -> Result<(PathBuf, String), (String, String)> {
    let shown = shorten(value);
    let Some((dir, name)) = value.rsplit_once('/') else {
        return Err((
            format!("`{shown}` is not an absolute path"),
            format!("Flume requires an absolute path: a directory, then a file-name regex, e.g. `{EXAMPLE_GROUP}`"),
        ));
    };
    if name.is_empty() {
        return Err((
            format!("`{shown}` ends with `/`: the file-name part is missing"),
            format!("add a regular expression for the file names after the directory, e.g. `{EXAMPLE_GROUP}`"),
        ));
    }
    let dir = if dir.is_empty() {
        Path::new("/")
    } else {
        Path::new(dir)
    };
    let dir = if dir.is_absolute() {
        dir.to_path_buf()
    } else if let Some(base) = base {
        resolve_relative(base, dir)
    } else {
        return Err((
            format!("`{shown}` is not an absolute path"),
            "Flume requires absolute paths for file groups: start it with `/`".to_string(),
        ));
    };
    if let Err(e) = regex::Regex::new(&format!("^(?:{name})$")) {
        // The regex crate shows the whole pattern; a long one only by its last line (the cause).
        let e = e.to_string();
        let cause = match shorten(name) {
            std::borrow::Cow::Borrowed(_) => e.as_str(),
            std::borrow::Cow::Owned(_) => e.lines().last().unwrap_or_default(),
        };
        return Err((
            format!(
                "invalid regular expression `{}` in the file-name part: {}",
                shorten(name),
                shorten(cause)
            ),
            "the directory part is literal and the file name is a regular expression; in a .properties \
             file a backslash must be doubled (`\\\\.` for a literal dot)"
                .to_string(),
        ));
    }
    Ok((dir, name.to_string()))
}

impl Component for TaildirConfig {
    fn type_name(&self) -> &'static str {
        "TAILDIR"
    }

    fn describe(&self) -> Vec<Setting> {
        let names: Vec<&str> = self.filegroups.iter().map(|g| g.name.as_str()).collect();
        let mut v = vec![Setting::new("filegroups", names.join(" "))];
        for g in &self.filegroups {
            let path = g.dir.join(&g.pattern).display().to_string();
            v.push(Setting::new(format!("filegroups.{}", g.name), path));
            for (k, value) in &g.headers {
                v.push(Setting::new(format!("headers.{}.{k}", g.name), value));
            }
        }
        let overflow = match self.line_overflow {
            LineOverflow::Split => "split",
            LineOverflow::Truncate => "truncate",
        };
        let max_batch_count = self
            .max_batch_count
            .map_or("unlimited".to_string(), |n| n.to_string());
        let watcher = match self.watcher {
            WatchMode::Inotify => "inotify",
            WatchMode::Poll => "poll",
        };
        let shards = match self.shards {
            Shards::Count(n) => n.to_string(),
            Shards::Auto => "auto".into(),
        };
        v.extend([
            Setting::new("positionFile", self.position_file.display()),
            Setting::new("byteOffsetHeader", self.byte_offset_header),
            Setting::new("skipToEnd", self.skip_to_end),
            Setting::millis("idleTimeout", self.idle_timeout),
            Setting::millis("writePosInterval", self.write_pos_interval),
            Setting::new("batchSize", self.batch_size),
            Setting::new("maxBatchCount", max_batch_count),
            Setting::millis("backoffSleepIncrement", self.backoff_sleep_increment),
            Setting::millis("maxBackoffSleep", self.max_backoff_sleep),
            Setting::new("cachePatternMatching", self.cache_pattern_matching),
            Setting::new("fileHeader", self.file_header),
            Setting::new("fileHeaderKey", &self.file_header_key),
            Setting::new("maxLineLength", self.max_line_length).extension(),
            Setting::new("lineOverflow", overflow).extension(),
            Setting::new("readBufferSize", self.read_buffer_size).extension(),
            Setting::millis("pollInterval", self.poll_interval).extension(),
            Setting::new("watcher", watcher).extension(),
            Setting::new("shards", shards).extension(),
        ]);
        v
    }
}
