//! The file channel's configuration: Flume's keys and defaults.
//!
//! Keys of Flume's design that spate's does not need are accepted and named at start as having
//! no effect ([`INERT_KEYS`], and `backupCheckpointDir` without `useDualCheckpoints`); Flume's
//! encryption keys are refused, as spate does not encrypt the log (an encrypted file system
//! does).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::component::Setting;
use crate::config::{resolve_relative, ConfigError, Props, JAVA_INT_MAX};

/// Settings of a file channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChannelConfig {
    /// Flume key `checkpointDir`, default `~/.flume/file-channel/checkpoint`: where the
    /// checkpoint (the queue as of a position in the log) and the channel's lock are kept.
    pub checkpoint_dir: PathBuf,
    /// Flume keys `useDualCheckpoints` (default false) and `backupCheckpointDir`: a second
    /// directory each checkpoint is also written to, used when the first is damaged.
    pub backup_checkpoint_dir: Option<PathBuf>,
    /// Flume key `checkpointInterval` (milliseconds), default 30,000: how often the
    /// checkpoint is written while the log changes.
    pub checkpoint_interval: Duration,
    /// Flume key `checkpointOnClose`, default true: write a checkpoint when the channel
    /// stops, so that the next start reads no log.
    pub checkpoint_on_close: bool,
    /// Flume key `dataDirs` (comma-separated), default `~/.flume/file-channel/data`: where the
    /// log's segments are written, spread over the directories.
    pub data_dirs: Vec<PathBuf>,
    /// Flume key `capacity`, default 1,000,000: most events held.
    pub capacity: usize,
    /// Flume key `transactionCapacity`, default 10,000: most events per put or take; at most
    /// `capacity`.
    pub transaction_capacity: usize,
    /// Flume key `maxFileSize` (bytes), default 2,146,435,071: a segment's size before the next
    /// one is started.
    pub max_file_size: u64,
    /// Flume key `minimumRequiredSpace` (bytes), default 524,288,000: below this much free
    /// space in a data directory, puts are refused (sources wait) until space returns.
    pub minimum_required_space: u64,
    /// Flume key `keep-alive` (seconds), default 3: how long a put waits for room.
    pub keep_alive: Duration,
    /// Keys set that have no effect in spate ([`INERT_KEYS`]); the agent says so at start.
    pub inert_keys: Vec<&'static str>,
}

/// Every property a file channel accepts.
const KEYS: &[&str] = &[
    "type",
    "checkpointDir",
    "dataDirs",
    "capacity",
    "transactionCapacity",
    "checkpointInterval",
    "maxFileSize",
    "minimumRequiredSpace",
    "checkpointOnClose",
    "keep-alive",
    "useDualCheckpoints",
    "backupCheckpointDir",
    "compressBackupCheckpoint",
    "use-log-replay-v1",
    "use-fast-replay",
    "fsyncPerTransaction",
    "fsyncInterval",
];

/// Flume keys spate accepts without effect: the backup checkpoint is a copy, not compressed,
/// replay has one form, and every commit is synced (group commit makes that cheap, so there is
/// no interval to relax it to).
pub const INERT_KEYS: [&str; 5] = [
    "compressBackupCheckpoint",
    "use-log-replay-v1",
    "use-fast-replay",
    "fsyncPerTransaction",
    "fsyncInterval",
];

/// Flume's default `maxFileSize`.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 2_146_435_071;

/// Smallest `maxFileSize`: below, a segment would hold few batches.
pub const MIN_MAX_FILE_SIZE: u64 = 64 * 1024;

/// Reads a file channel's settings; `base` resolves relative paths (`None`: they stay relative
/// to the working directory, as Flume's are).
pub fn parse_file_channel(p: &mut Props<'_>, base: Option<&Path>) -> Option<FileChannelConfig> {
    let encryption: Vec<String> = p
        .take_prefixed("encryption.")
        .into_iter()
        .map(|(k, _)| k.to_string())
        .collect();
    if let Some(first) = encryption.first() {
        let err = p
            .error(first, None, "spate's file channel does not encrypt its log")
            .hint(
                "remove the `encryption.*` keys and keep the data directories on an encrypted \
                 file system (LUKS, fscrypt) instead",
            );
        p.push(err);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let path = |value: &str| -> PathBuf {
        match base {
            Some(b) => resolve_relative(b, Path::new(value)),
            None => PathBuf::from(value),
        }
    };
    let default_dir = |p: &mut Props<'_>, key: &str, under: &str| -> Option<PathBuf> {
        match &home {
            Some(h) => Some(h.join(".flume/file-channel").join(under)),
            None => {
                let err = p
                    .error(
                        key,
                        None,
                        format!("HOME is not set, so the default {key} cannot be used"),
                    )
                    .hint(format!("set `{}`", p.shown(key)));
                p.push(err);
                None
            }
        }
    };
    let checkpoint_dir = match p.get("checkpointDir") {
        Some(e) if e.value.trim().is_empty() => {
            p.push(ConfigError::at(e, "empty value").hint("give the checkpoint directory"));
            None
        }
        Some(e) => Some(path(e.value.trim())),
        None => default_dir(p, "checkpointDir", "checkpoint"),
    };
    let data_dirs = match p.get("dataDirs") {
        Some(e) => {
            let dirs: Vec<PathBuf> = e
                .value
                .split(',')
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(path)
                .collect();
            let mut seen = std::collections::HashSet::new();
            if dirs.is_empty() {
                p.push(
                    ConfigError::at(e, "no directory given")
                        .hint("give one or more directories, separated by commas"),
                );
                None
            } else if let Some(twice) = dirs.iter().find(|d| !seen.insert(*d)) {
                p.push(
                    ConfigError::at(e, format!("`{}` is listed twice", twice.display()))
                        .hint("list each data directory once"),
                );
                None
            } else {
                Some(dirs)
            }
        }
        None => default_dir(p, "dataDirs", "data").map(|d| vec![d]),
    };
    if let (Some(cp), Some(data)) = (&checkpoint_dir, &data_dirs) {
        if data.contains(cp) {
            let entry = p.get("checkpointDir").or_else(|| p.get("dataDirs"));
            let err = p
                .error(
                    "checkpointDir",
                    entry,
                    format!(
                        "`{}` is both the checkpoint and a data directory",
                        cp.display()
                    ),
                )
                .hint("give the checkpoint a directory of its own");
            p.push(err);
        }
    }
    let (capacity, transaction_capacity) = crate::channel::capacities(p, 1_000_000, 10_000);
    let mut inert_keys: Vec<&'static str> = INERT_KEYS
        .into_iter()
        .filter(|&k| p.get(k).is_some())
        .collect();
    let checkpoint_interval = p.millis("checkpointInterval", 30_000, 1, JAVA_INT_MAX);
    let checkpoint_on_close = p.bool("checkpointOnClose", true);
    let backup_checkpoint_dir = backup_dir(p, &path, checkpoint_dir.as_ref(), data_dirs.as_deref());
    if p.get("backupCheckpointDir").is_some() && !p.bool("useDualCheckpoints", false) {
        inert_keys.push("backupCheckpointDir");
    }
    // Read (and so checked) even though they have no effect.
    p.bool("compressBackupCheckpoint", false);
    p.bool("use-log-replay-v1", false);
    p.bool("use-fast-replay", false);
    p.bool("fsyncPerTransaction", true);
    p.int("fsyncInterval", 5, 1, JAVA_INT_MAX, "seconds");
    let config = FileChannelConfig {
        checkpoint_dir: checkpoint_dir.clone().unwrap_or_default(),
        backup_checkpoint_dir,
        checkpoint_interval,
        checkpoint_on_close,
        data_dirs: data_dirs.clone().unwrap_or_default(),
        capacity,
        transaction_capacity,
        max_file_size: p
            .int(
                "maxFileSize",
                DEFAULT_MAX_FILE_SIZE,
                MIN_MAX_FILE_SIZE,
                1 << 40,
                "bytes",
            )
            .unwrap_or(DEFAULT_MAX_FILE_SIZE),
        minimum_required_space: p
            .int("minimumRequiredSpace", 524_288_000, 0, 1 << 50, "bytes")
            .unwrap_or(524_288_000),
        keep_alive: Duration::from_secs(
            p.int("keep-alive", 3, 0, JAVA_INT_MAX, "seconds")
                .unwrap_or(3),
        ),
        inert_keys,
    };
    p.finish("a file channel", KEYS);
    (checkpoint_dir.is_some() && data_dirs.is_some()).then_some(config)
}

/// `backupCheckpointDir` when `useDualCheckpoints` is on: required, and a directory of its own.
fn backup_dir(
    p: &mut Props<'_>,
    path: &dyn Fn(&str) -> PathBuf,
    checkpoint_dir: Option<&PathBuf>,
    data_dirs: Option<&[PathBuf]>,
) -> Option<PathBuf> {
    if !p.bool("useDualCheckpoints", false) || p.failed("useDualCheckpoints") {
        return None;
    }
    let Some(e) = p
        .get("backupCheckpointDir")
        .filter(|e| !e.value.trim().is_empty())
    else {
        let entry = p.get("useDualCheckpoints");
        let err = p
            .error(
                "backupCheckpointDir",
                entry,
                "useDualCheckpoints is true but no backupCheckpointDir is given",
            )
            .hint(format!(
                "set `{}` to a directory of its own",
                p.shown("backupCheckpointDir")
            ));
        p.push(err);
        return None;
    };
    let dir = path(e.value.trim());
    let clash = if checkpoint_dir == Some(&dir) {
        Some("the checkpoint directory")
    } else if data_dirs.is_some_and(|d| d.contains(&dir)) {
        Some("a data directory")
    } else {
        None
    };
    if let Some(what) = clash {
        p.push(
            ConfigError::at(e, format!("`{}` is also {what}", dir.display()))
                .hint("give the backup checkpoint a directory of its own"),
        );
        return None;
    }
    Some(dir)
}

impl FileChannelConfig {
    /// Every effective setting, for `spate check`.
    pub fn settings(&self) -> Vec<Setting> {
        let dirs: Vec<String> = self
            .data_dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect();
        let mut s = vec![
            Setting::new("checkpointDir", self.checkpoint_dir.display()),
            Setting::new("dataDirs", dirs.join(",")),
            Setting::new("checkpointInterval", self.checkpoint_interval.as_millis()),
            Setting::new("checkpointOnClose", self.checkpoint_on_close),
            Setting::new("useDualCheckpoints", self.backup_checkpoint_dir.is_some()),
            Setting::new("capacity", self.capacity),
            Setting::new("transactionCapacity", self.transaction_capacity),
            Setting::new("maxFileSize", self.max_file_size),
            Setting::new("minimumRequiredSpace", self.minimum_required_space),
            Setting::new("keep-alive", self.keep_alive.as_secs()),
        ];
        if let Some(backup) = &self.backup_checkpoint_dir {
            s.push(Setting::new("backupCheckpointDir", backup.display()));
        }
        for k in &self.inert_keys {
            s.push(Setting::new(*k, "(set)").note("no effect in spate"));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Entry;

    fn parse(lines: &[(&str, &str)]) -> (Option<FileChannelConfig>, Vec<String>) {
        let entries: Vec<Entry> = lines
            .iter()
            .enumerate()
            .map(|(i, (k, v))| Entry {
                key: format!("a1.channels.c1.{k}"),
                value: v.to_string(),
                file: None,
                line: i + 1,
                broken: false,
            })
            .collect();
        let props: Vec<(&str, &Entry)> = entries
            .iter()
            .map(|e| (&e.key["a1.channels.c1.".len()..], e))
            .collect();
        let mut p = Props::new("a1.channels.c1.".into(), props);
        p.get("type"); // read by the agent's resolution before the type's parser runs
        let config = parse_file_channel(&mut p, None);
        let errors = p.errors.iter().map(|e| e.to_string()).collect();
        (config, errors)
    }

    #[test]
    fn flume_defaults() {
        let (c, errors) = parse(&[("type", "file")]);
        assert!(errors.is_empty(), "{errors:?}");
        let c = c.unwrap();
        let home = PathBuf::from(std::env::var_os("HOME").unwrap());
        assert_eq!(
            c.checkpoint_dir,
            home.join(".flume/file-channel/checkpoint")
        );
        assert_eq!(c.data_dirs, [home.join(".flume/file-channel/data")]);
        assert_eq!((c.capacity, c.transaction_capacity), (1_000_000, 10_000));
        assert_eq!(c.max_file_size, 2_146_435_071);
        assert_eq!(c.minimum_required_space, 524_288_000);
        assert_eq!(c.keep_alive, Duration::from_secs(3));
        assert_eq!(c.checkpoint_interval, Duration::from_secs(30));
        assert!(c.checkpoint_on_close);
        assert_eq!(c.backup_checkpoint_dir, None);
    }

    #[test]
    fn dual_checkpoints() {
        let (c, errors) = parse(&[
            ("type", "file"),
            ("checkpointDir", "/var/lib/spate/cp"),
            ("useDualCheckpoints", "true"),
            ("backupCheckpointDir", "/backup/cp"),
            ("checkpointInterval", "5000"),
            ("checkpointOnClose", "false"),
        ]);
        assert!(errors.is_empty(), "{errors:?}");
        let c = c.unwrap();
        assert_eq!(c.backup_checkpoint_dir, Some(PathBuf::from("/backup/cp")));
        assert_eq!(c.checkpoint_interval, Duration::from_secs(5));
        assert!(!c.checkpoint_on_close);
        assert!(c.inert_keys.is_empty(), "{:?}", c.inert_keys);
        // Without useDualCheckpoints, a backup directory is named as without effect.
        let (c, _) = parse(&[("type", "file"), ("backupCheckpointDir", "/backup/cp")]);
        let c = c.unwrap();
        assert_eq!(c.backup_checkpoint_dir, None);
        assert_eq!(c.inert_keys, ["backupCheckpointDir"]);
    }

    #[test]
    fn directories_and_inert_keys() {
        let (c, errors) = parse(&[
            ("type", "file"),
            ("checkpointDir", "/var/lib/spate/cp"),
            ("dataDirs", "/data1/fc, /data2/fc"),
            ("use-fast-replay", "true"),
            ("fsyncPerTransaction", "false"),
        ]);
        assert!(errors.is_empty(), "{errors:?}");
        let c = c.unwrap();
        assert_eq!(
            c.data_dirs,
            [PathBuf::from("/data1/fc"), PathBuf::from("/data2/fc")]
        );
        assert_eq!(c.inert_keys, ["use-fast-replay", "fsyncPerTransaction"]);
    }

    #[test]
    fn mistakes_are_errors() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("dataDirs", "/d, /d")], "listed twice"),
            (
                &[("checkpointDir", "/d"), ("dataDirs", "/d")],
                "both the checkpoint and a data directory",
            ),
            (
                &[("capacity", "100"), ("transactionCapacity", "1000")],
                "larger than capacity",
            ),
            (&[("encryption.activeKey", "key-0")], "does not encrypt"),
            (&[("maxFileSize", "100")], "maxFileSize"),
            (&[("checkpointIntervall", "100")], "checkpointInterval"),
            (&[("checkpointInterval", "0")], "checkpointInterval"),
            (
                &[("useDualCheckpoints", "true")],
                "useDualCheckpoints is true but no backupCheckpointDir",
            ),
            (
                &[
                    ("checkpointDir", "/cp"),
                    ("useDualCheckpoints", "true"),
                    ("backupCheckpointDir", "/cp"),
                ],
                "is also the checkpoint directory",
            ),
            (
                &[
                    ("dataDirs", "/d"),
                    ("useDualCheckpoints", "true"),
                    ("backupCheckpointDir", "/d"),
                ],
                "is also a data directory",
            ),
        ];
        for (props, needle) in cases {
            let mut props = props.to_vec();
            props.insert(0, ("type", "file"));
            let (_, errors) = parse(&props);
            assert!(
                errors.iter().any(|e| e.contains(needle)),
                "{props:?}: `{needle}` not in {errors:?}"
            );
        }
    }
}
