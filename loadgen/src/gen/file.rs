//! `write`: numbered lines into one or many log files, at a steady rate, with rotation.
//!
//! This is the load an agent's file source (Flume's TAILDIR) sees in production: applications
//! appending to `app-{i}.log`, and logrotate (or the application) moving the files aside. File `i`
//! gets stream id `first_stream + i` and its own sequence numbers from 0, continuous across
//! rotations, so reading back every file and every rotated file must give each number exactly
//! once.
//!
//! Rotation, per file, once its size passes `every_bytes` (right after the line that passes it,
//! even in the middle of a batch) or its age passes `every` (checked after each write to it):
//!
//! * [`RotateMode::Rename`]: `app-3.log` is renamed to `app-3.log.N` (`N` = 1, 2, ..., the first
//!   free number: nothing is ever overwritten or deleted, and rotated names no longer match
//!   `.*\.log$`), and a new `app-3.log` is created.
//! * [`RotateMode::CopyTruncate`]: `app-3.log` is copied to `app-3.log.N` and truncated in place,
//!   as logrotate's `copytruncate` does. Files are opened with `O_APPEND`, so writes after the
//!   truncation land at the new end instead of leaving a hole. (The copy and the truncation happen
//!   between two writes of this writer, so the files lose nothing; an agent that had not read the
//!   end of the file before the truncation can, which is what this mode is there to show.)
//!
//! The files must not exist when the run starts: every stream starts at seq 0, and appending to
//! an earlier run's file would mix two runs' numbers.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::driver::{self, Plan, Target};
use super::pool::LinePool;
use super::{Counters, GenReport, LineSizes, Rate};
use crate::recv::framing::Framing;

/// The default file name pattern.
pub const DEFAULT_NAME: &str = "app-{i}.log";
/// The default pacing tick.
pub const DEFAULT_TICK: Duration = Duration::from_millis(1);

/// How a file is rotated; see the module docs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RotateMode {
    /// Rename to `NAME.N` and create a new file.
    #[default]
    Rename,
    /// Copy to `NAME.N` and truncate in place.
    #[value(name = "copytruncate")]
    CopyTruncate,
}

/// When and how files are rotated; at least one of the limits must be set.
#[derive(Debug, Clone, PartialEq)]
pub struct Rotation {
    /// Rotate once a file holds at least this many bytes.
    pub every_bytes: Option<u64>,
    /// Rotate once a file is this old (since it was created or last truncated).
    pub every: Option<Duration>,
    pub mode: RotateMode,
}

/// A file load: where, how many files, how fast, what lines, for how long.
#[derive(Debug, Clone, PartialEq)]
pub struct FileLoad {
    /// Existing directory the files are created in.
    pub dir: PathBuf,
    /// Number of files.
    pub files: usize,
    /// File name pattern; `{i}` is replaced by the file's index (required when `files > 1`).
    pub name: String,
    /// Stream id of file 0; file `i` gets `first_stream + i`.
    pub first_stream: u16,
    /// Lines per second over all files.
    pub rate: Rate,
    pub sizes: LineSizes,
    /// Stop after exactly this many lines in total.
    pub lines: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Pacing granularity at a fixed rate.
    pub tick: Duration,
    pub rotation: Option<Rotation>,
    /// Seed of the line sizes and bodies.
    pub seed: u64,
}

impl FileLoad {
    /// One file named [`DEFAULT_NAME`] in `dir`, 128-byte lines as fast as possible, no limit,
    /// no rotation.
    pub fn new(dir: impl Into<PathBuf>) -> FileLoad {
        FileLoad {
            dir: dir.into(),
            files: 1,
            name: DEFAULT_NAME.to_string(),
            first_stream: 0,
            rate: Rate::Max,
            sizes: LineSizes::Fixed(128),
            lines: None,
            duration: None,
            tick: DEFAULT_TICK,
            rotation: None,
            seed: 0,
        }
    }

    /// Path of file `i`.
    pub fn path(&self, i: usize) -> PathBuf {
        self.dir.join(self.name.replace("{i}", &i.to_string()))
    }

    fn plan(&self) -> Plan {
        Plan {
            rate: self.rate,
            tick: self.tick,
            lines: self.lines,
            duration: self.duration,
            first_stream: self.first_stream,
            seed: self.seed,
        }
    }

    /// Checks the config; errors name the field at fault.
    pub fn check(&self) -> Result<()> {
        self.plan().check(self.files, "files")?;
        self.sizes.check()?;
        if !self.dir.is_dir() {
            bail!(
                "dir: {} does not exist or is not a directory",
                self.dir.display()
            );
        }
        if self.name.is_empty() || self.name.contains('/') {
            bail!("name: {:?} must be a plain file name", self.name);
        }
        if self.files > 1 && !self.name.contains("{i}") {
            bail!(
                "name: {:?} must contain {{i}} when files > 1, so that each file has its own name",
                self.name
            );
        }
        if let Some(r) = &self.rotation {
            if r.every_bytes.is_none() && r.every.is_none() {
                bail!("rotation: give every_bytes, every, or both");
            }
            if r.every_bytes == Some(0) {
                bail!("rotation.every_bytes: must be more than 0");
            }
            if r.every.is_some_and(|d| d.is_zero()) {
                bail!("rotation.every: must be more than 0");
            }
        }
        Ok(())
    }
}

/// Writes the load (see the module docs) until `cfg.lines` are written, `cfg.duration` has
/// passed, or `stop` is set; `counters` follow it live.
pub fn write_files(cfg: &FileLoad, counters: &Counters, stop: &AtomicBool) -> Result<GenReport> {
    cfg.check()?;
    let mut files = (0..cfg.files)
        .map(|i| LogFile::create(cfg.path(i), cfg.rotation.as_ref()))
        .collect::<Result<Vec<_>>>()?;
    let mut pool = LinePool::new(&cfg.sizes, Framing::Newline, cfg.seed);
    driver::drive(&mut files, &mut pool, &cfg.plan(), counters, stop)
}

/// One log file being written.
struct LogFile<'a> {
    path: PathBuf,
    file: File,
    /// Bytes in the file now.
    size: u64,
    /// When the file was created or last truncated.
    born: Instant,
    /// The suffix the next rotation tries first.
    next_suffix: u64,
    rotation: Option<&'a Rotation>,
}

impl<'a> LogFile<'a> {
    fn create(path: PathBuf, rotation: Option<&'a Rotation>) -> Result<LogFile<'a>> {
        let file = create_new(&path)?;
        Ok(LogFile {
            path,
            file,
            size: 0,
            born: Instant::now(),
            next_suffix: 1,
            rotation,
        })
    }

    fn rotate(&mut self, mode: RotateMode) -> Result<()> {
        let to = self.free_rotated_name();
        match mode {
            RotateMode::Rename => {
                fs::rename(&self.path, &to).with_context(|| {
                    format!("renaming {} to {}", self.path.display(), to.display())
                })?;
                self.file = create_new(&self.path)?;
            }
            RotateMode::CopyTruncate => {
                fs::copy(&self.path, &to).with_context(|| {
                    format!("copying {} to {}", self.path.display(), to.display())
                })?;
                self.file
                    .set_len(0)
                    .with_context(|| format!("truncating {}", self.path.display()))?;
            }
        }
        self.size = 0;
        self.born = Instant::now();
        Ok(())
    }

    /// `NAME.N` for the first `N` from `next_suffix` on that names no file.
    fn free_rotated_name(&mut self) -> PathBuf {
        loop {
            let mut name = self.path.clone().into_os_string();
            name.push(format!(".{}", self.next_suffix));
            self.next_suffix += 1;
            let candidate = PathBuf::from(name);
            if !candidate.exists() {
                return candidate;
            }
        }
    }
}

impl LogFile<'_> {
    fn write(&mut self, frames: &[u8]) -> Result<()> {
        self.file
            .write_all(frames)
            .with_context(|| format!("writing {}", self.path.display()))?;
        self.size += frames.len() as u64;
        Ok(())
    }
}

impl Target for LogFile<'_> {
    /// Writes the batch; with a size limit, a batch that passes it is cut after the line that
    /// does, so that rotated files hold `every_bytes` plus less than a line whatever the batch.
    fn put(&mut self, mut frames: &[u8], counters: &Counters) -> Result<()> {
        let Some(r) = self.rotation else {
            return self.write(frames);
        };
        if let Some(limit) = r.every_bytes {
            // The line holding byte `limit - 1` of the file ends the file's last generation.
            while let Some(last) = limit.checked_sub(self.size + 1) {
                let Some(end) = usize::try_from(last)
                    .ok()
                    .and_then(|at| memchr::memchr(b'\n', frames.get(at..)?).map(|i| at + i + 1))
                else {
                    break;
                };
                self.write(&frames[..end])?;
                self.rotate(r.mode)?;
                counters.rotations.fetch_add(1, Relaxed);
                frames = &frames[end..];
            }
        }
        if !frames.is_empty() {
            self.write(frames)?;
        }
        if r.every.is_some_and(|d| self.born.elapsed() >= d) && self.size > 0 {
            self.rotate(r.mode)?;
            counters.rotations.fetch_add(1, Relaxed);
        }
        Ok(())
    }
}

/// Creates `path` for appending; it must not exist.
fn create_new(path: &Path) -> Result<File> {
    match OpenOptions::new().append(true).create_new(true).open(path) {
        Ok(f) => Ok(f),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => bail!(
            "{} already exists: every stream starts at seq 0, so write into an empty directory \
             (or remove the earlier run's files)",
            path.display()
        ),
        Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_rotated_names() {
        let mut cfg = FileLoad::new("/logs");
        assert_eq!(cfg.path(3), Path::new("/logs/app-3.log"));
        cfg.name = "svc.{i}.{i}.txt".into();
        assert_eq!(cfg.path(12), Path::new("/logs/svc.12.12.txt"));

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        let mut f = LogFile::create(path.clone(), None).unwrap();
        fs::write(dir.path().join("a.log.1"), "").unwrap();
        assert_eq!(f.free_rotated_name(), dir.path().join("a.log.2"));
        assert_eq!(f.free_rotated_name(), dir.path().join("a.log.3"));
        let err = LogFile::create(path, None).err().unwrap().to_string();
        assert!(err.contains("already exists"), "{err}");
    }

    #[test]
    fn checks_name_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let ok = FileLoad::new(dir.path());
        assert!(ok.check().is_ok());
        let err = |f: &dyn Fn(&mut FileLoad)| {
            let mut c = ok.clone();
            f(&mut c);
            c.check().unwrap_err().to_string()
        };
        assert!(err(&|c| c.files = 0).starts_with("files: "));
        assert!(err(&|c| c.first_stream = 10_000).starts_with("first_stream, files: "));
        assert!(err(&|c| c.sizes = LineSizes::Fixed(20)).starts_with("size: "));
        assert!(err(&|c| c.dir = dir.path().join("missing")).starts_with("dir: "));
        assert!(err(&|c| c.name = "a/b.log".into()).starts_with("name: "));
        assert!(err(&|c| c.name = String::new()).starts_with("name: "));
        assert!(err(&|c| {
            c.files = 2;
            c.name = "one.log".into();
        })
        .contains("must contain {i}"));
        let rotation = |every_bytes, every| Rotation {
            every_bytes,
            every,
            mode: RotateMode::Rename,
        };
        assert!(err(&|c| c.rotation = Some(rotation(None, None))).starts_with("rotation: "));
        assert!(err(&|c| c.rotation = Some(rotation(Some(0), None)))
            .starts_with("rotation.every_bytes: "));
        assert!(
            err(&|c| c.rotation = Some(rotation(None, Some(Duration::ZERO))))
                .starts_with("rotation.every: ")
        );
    }
}
