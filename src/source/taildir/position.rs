//! The position file: where reading resumes after a restart.
//!
//! The file keeps Flume's format, a JSON array of `{"inode":N,"pos":N,"file":"/abs/path"}`, so a
//! host can move from Flume to spate and back without re-sending or losing data. Flume's reader
//! rejects any other key in those objects, so what spate knows beyond that (the device and a
//! fingerprint of each file's first bytes, which detect inode reuse) lives in a sidecar,
//! `<positionFile>.spate`; without it (a position file written by Flume) inodes are trusted, as
//! Flume trusts them.
//!
//! Both files are written atomically: a temporary file in the same directory, `fdatasync`, then
//! `rename`. A crash leaves either the old or the new content, never a torn one.
//!
//! The writing happens on a thread of its own ([`Persister`]): the two `fdatasync`s take about
//! 2 ms on the development VM's disk and far longer on a busy or network disk, and done on the
//! source's worker they stalled every line arriving meanwhile, every `writePosInterval`. Only the
//! newest snapshot matters, so a slow disk makes the writer skip snapshots, never queue them.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::lock::{ExclusiveLock, LockError};
use crate::metrics::SourceCounters;

/// One entry of Flume's position file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Inode of the file.
    pub inode: u64,
    /// Offset up to which every line was delivered.
    pub pos: u64,
    /// Path of the file when the entry was written.
    pub file: String,
}

/// What the sidecar records about a file, beyond Flume's entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Inode, the key shared with the position entry.
    pub inode: u64,
    /// Device holding the file.
    pub dev: u64,
    /// Fingerprint of the file's first bytes.
    #[serde(flatten)]
    pub fingerprint: Fingerprint,
}

/// A hash of a file's first `len` bytes (at most [`Fingerprint::MAX_LEN`]). Two files with the
/// same inode but different fingerprints are different files: the inode was reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// Number of bytes hashed.
    #[serde(rename = "fp_len")]
    pub len: u32,
    /// FNV-1a 64 of those bytes.
    #[serde(rename = "fp")]
    pub hash: u64,
}

impl Fingerprint {
    /// Bytes hashed at most.
    pub const MAX_LEN: usize = 256;

    /// The fingerprint of `prefix` (the file's first bytes, at most [`Self::MAX_LEN`]).
    pub fn of(prefix: &[u8]) -> Self {
        let prefix = &prefix[..prefix.len().min(Self::MAX_LEN)];
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in prefix {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        Fingerprint {
            len: prefix.len() as u32,
            hash,
        }
    }

    /// Whether a file whose first bytes are `prefix` (at least as many as were hashed) is the
    /// file this fingerprint was taken of.
    pub fn matches(self, prefix: &[u8]) -> bool {
        prefix
            .get(..self.len as usize)
            .is_some_and(|p| Fingerprint::of(p) == self)
    }
}

/// The position file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PositionError {
    /// Reading failed.
    #[error("cannot read position file {path}: {source}")]
    Io {
        /// The position file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The content is not a position file.
    #[error(
        "position file {path} is not valid: {source}. Fix it, or move it away to start over \
         (files are then read from the start, or from the end with skipToEnd = true)"
    )]
    Invalid {
        /// The position file.
        path: PathBuf,
        /// The parse error, with line and column.
        source: serde_json::Error,
    },
    /// Another process holds the position file's lock.
    #[error(
        "position file {path} is in use by another spate agent (pid {pid}, lock {lock}); stop \
         that agent first, or give this source its own positionFile"
    )]
    Locked {
        /// The position file.
        path: PathBuf,
        /// Its lock file.
        lock: PathBuf,
        /// The holder's pid, as it wrote it in the lock file.
        pid: String,
    },
    /// The lock file could not be created or locked.
    #[error(
        "cannot lock position file {path} (lock file {lock}): {source}; spate writes its \
         positions beside it, so the directory must be writable"
    )]
    Lock {
        /// The position file.
        path: PathBuf,
        /// Its lock file.
        lock: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

/// An exclusive claim on a position file, held for as long as a source may write it: two
/// agents recording positions in one file would each overwrite the other's, and each would
/// resend or skip the other's lines after a restart.
///
/// It is an `flock` on `<positionFile>.lock` (the position file itself is replaced at every
/// write, so it cannot carry a lock), which the kernel releases when the process dies, whatever
/// the way. The holder's pid is written in the file, for the message a second agent gets.
#[derive(Debug)]
pub struct PositionLock {
    _lock: ExclusiveLock,
}

impl PositionLock {
    /// Takes the lock of the position file `path`, creating its directory if needed. Stale
    /// temporary files of earlier writes (a process killed while writing) are removed once the
    /// lock is held.
    pub fn acquire(path: &Path) -> Result<PositionLock, PositionError> {
        let lock = lock_path(path);
        let held = ExclusiveLock::acquire(&lock).map_err(|e| match e {
            LockError::Held { pid } => PositionError::Locked {
                path: path.to_owned(),
                lock: lock.clone(),
                pid,
            },
            LockError::Io(source) => PositionError::Lock {
                path: path.to_owned(),
                lock: lock.clone(),
                source,
            },
        })?;
        remove_stale_temps(path);
        Ok(PositionLock { _lock: held })
    }
}

/// The lock file of the position file `path`: `<positionFile>.lock`.
pub fn lock_path(path: &Path) -> PathBuf {
    with_suffix(path, ".lock")
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Removes the temporary files an earlier process left while writing `path` or its sidecar.
fn remove_stale_temps(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let prefixes = [format!("{name}.tmp"), format!("{name}.spate.tmp")];
    for entry in entries.flatten() {
        let stale = entry
            .file_name()
            .to_str()
            .is_some_and(|n| prefixes.iter().any(|p| n.starts_with(p.as_str())));
        if stale {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Positions loaded at start, keyed by inode, with the sidecar's identities where present.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Flume's entries by inode.
    pub positions: HashMap<u64, Position>,
    /// spate's identities by inode.
    pub identities: HashMap<u64, Identity>,
}

/// Reads the position file and its sidecar. A missing file means no positions yet.
pub fn load(path: &Path) -> Result<Loaded, PositionError> {
    let positions: Vec<Position> = read_json(path)?.unwrap_or_default();
    let identities: Vec<Identity> = read_json(&sidecar_path(path))?.unwrap_or_default();
    Ok(Loaded {
        positions: positions.into_iter().map(|p| (p.inode, p)).collect(),
        identities: identities.into_iter().map(|i| (i.inode, i)).collect(),
    })
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, PositionError> {
    match fs::read(path) {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(None),
        Ok(bytes) => {
            serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| PositionError::Invalid {
                    path: path.to_owned(),
                    source,
                })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(PositionError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Writes the position file and its sidecar atomically, creating the directory if needed.
pub fn save(path: &Path, positions: &[Position], identities: &[Identity]) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    // Sidecar first: an identity without a position is harmless, a position whose identity is
    // stale would not be.
    write_atomic(&sidecar_path(path), &serde_json::to_vec(identities)?)?;
    write_atomic(path, &serde_json::to_vec(positions)?)
}

/// The sidecar's path: `<positionFile>.spate`.
pub fn sidecar_path(path: &Path) -> PathBuf {
    with_suffix(path, ".spate")
}

/// What a source (or one shard of it) hands to the [`Persister`]: the positions of every file
/// it has open.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub positions: Vec<Position>,
    pub identities: Vec<Identity>,
    /// Events delivered by this shard since it started, up to these positions: what a restart
    /// would send again if this snapshot never reached the disk.
    pub delivered_events: u64,
}

/// How long a failed write waits before it is tried again (unless a newer snapshot comes first).
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// While writes keep failing, the warning is repeated at most this often (with a count).
const WARN_EVERY: Duration = Duration::from_secs(60);

/// The final positions of a source did not reach the disk: the next start resends what was
/// delivered since the last successful write.
#[derive(Debug, thiserror::Error)]
#[error(
    "final positions NOT written to {path}: {reason}; up to {events} delivered lines will be \
     sent again at the next start"
)]
pub struct FinalWriteError {
    /// The position file.
    pub path: PathBuf,
    /// Why the last write failed.
    pub reason: String,
    /// Events delivered since the last position file that reached the disk.
    pub events: u64,
}

/// The writer thread of one position file, owning its lock. [`PositionWriter::join`] waits until
/// the thread has made its last write, and releases the lock.
#[derive(Debug)]
pub struct PositionWriter {
    path: PathBuf,
    thread: JoinHandle<Result<(), FinalWriteError>>,
}

impl PositionWriter {
    /// Waits for the writer to end (every shard has finished or gone), and says whether the
    /// final positions are on disk.
    pub fn join(self) -> Result<(), FinalWriteError> {
        self.thread.join().unwrap_or_else(|_| {
            Err(FinalWriteError {
                path: self.path,
                reason: "the position writer thread panicked".into(),
                events: 0,
            })
        })
    }
}

/// Writes a source's position file on a dedicated thread; see the module docs.
///
/// A source spread over several workers has one handle per shard, each covering the files that
/// shard reads; the thread writes their union. It writes nothing until every shard has spoken
/// (submitted, finished, or dropped its handle), since a file without another shard's entries
/// would make a crash forget where that shard's files were.
///
/// [`Persister::submit`] never blocks. [`Persister::finish`] waits until a file holding its
/// final snapshot is on disk (or its write failed, which is logged). A failed write is counted
/// in `generic_processing_fail`, logged, and retried every [`RETRY_AFTER`] until it succeeds or
/// newer snapshots replace it.
#[derive(Debug)]
pub struct Persister {
    shard: usize,
    /// `None` once [`Persister::finish`] took it.
    tx: Option<mpsc::Sender<Message>>,
}

#[derive(Debug)]
enum Message {
    Snapshot(usize, Snapshot),
    /// The shard's last snapshot; `done` hears once a file including it was written (true) or
    /// failed (false).
    Final(usize, Snapshot, mpsc::Sender<bool>),
    /// The shard's handle was dropped without `finish` (its worker failed): keep what it said.
    Gone(usize),
}

/// What the writer knows of one shard.
#[derive(Debug)]
enum ShardState {
    /// Nothing yet: the file is not written until every shard is known.
    Unknown,
    Known(Snapshot),
}

impl Persister {
    /// Starts the writer thread for the position file `path` of source `source`, read by
    /// `shards` shards; returns one handle per shard, in shard order, and the thread, which
    /// holds `lock` until it ends.
    pub fn spawn(
        path: PathBuf,
        source: &str,
        counters: Arc<SourceCounters>,
        shards: usize,
        lock: PositionLock,
    ) -> io::Result<(Vec<Persister>, PositionWriter)> {
        let shards = shards.max(1);
        let (tx, rx) = mpsc::channel::<Message>();
        let thread_path = path.clone();
        let thread = std::thread::Builder::new()
            .name(format!("{source}-positions"))
            .spawn(move || {
                let outcome = write_loop(&thread_path, &rx, shards, &counters);
                drop(lock);
                outcome
            })?;
        let handles = (0..shards)
            .map(|shard| Persister {
                shard,
                tx: Some(tx.clone()),
            })
            .collect();
        Ok((handles, PositionWriter { path, thread }))
    }

    /// Hands over the newest positions of this shard; they are written soon, on the writer
    /// thread.
    pub fn submit(&self, snapshot: Snapshot) {
        if let Some(tx) = &self.tx {
            // The writer only exits once every handle is gone, so this cannot fail while `self`
            // lives; if it ever did, the positions would be written at the next submit.
            let _ = tx.send(Message::Snapshot(self.shard, snapshot));
        }
    }

    /// Submits this shard's final snapshot and waits until a file including it was written (or
    /// its write failed); returns whether it was written.
    pub fn finish(mut self, last: Snapshot) -> bool {
        let Some(tx) = self.tx.take() else {
            return false;
        };
        let (done_tx, done_rx) = mpsc::channel();
        if tx.send(Message::Final(self.shard, last, done_tx)).is_err() {
            return false;
        }
        drop(tx);
        // An error means the writer is gone, which it only is once nothing can be written.
        done_rx.recv().unwrap_or(false)
    }
}

impl Drop for Persister {
    fn drop(&mut self) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Message::Gone(self.shard));
        }
    }
}

/// What the writer thread knows: the newest snapshot of each shard, and who waits for a write.
#[derive(Debug)]
struct Merge {
    state: Vec<ShardState>,
    /// Shards that finished or left; they send nothing more.
    gone: Vec<bool>,
    /// Final snapshots waiting for a write that includes them.
    waiting: Vec<mpsc::Sender<bool>>,
    /// Whether something changed since the last successful write.
    dirty: bool,
    /// Whether any shard has sent a snapshot: shards that all went unheard (the agent failed to
    /// start) have nothing to say, and must not overwrite the file with an empty one.
    heard: bool,
}

impl Merge {
    fn apply(&mut self, m: Message) {
        match m {
            Message::Snapshot(shard, s) => {
                self.state[shard] = ShardState::Known(s);
                self.heard = true;
            }
            Message::Final(shard, s, done) => {
                self.state[shard] = ShardState::Known(s);
                self.heard = true;
                self.gone[shard] = true;
                self.waiting.push(done);
            }
            Message::Gone(shard) => {
                if matches!(self.state[shard], ShardState::Unknown) {
                    self.state[shard] = ShardState::Known(Snapshot::default());
                }
                self.gone[shard] = true;
            }
        }
        self.dirty = true;
    }

    /// The union of every shard's snapshot, once every shard is known.
    fn union(&self) -> Option<Snapshot> {
        let mut all = Snapshot::default();
        for s in &self.state {
            let ShardState::Known(s) = s else { return None };
            all.positions.extend_from_slice(&s.positions);
            all.identities.extend_from_slice(&s.identities);
            all.delivered_events += s.delivered_events;
        }
        Some(all)
    }
}

/// The writer thread: applies messages, writes the union of the shards' newest snapshots when
/// it changed and every shard is known, retries a failed write, and ends when every shard is
/// gone, after one last attempt: a stopping agent cannot wait for a disk. Returns whether that
/// last state reached the disk.
fn write_loop(
    path: &Path,
    rx: &mpsc::Receiver<Message>,
    shards: usize,
    counters: &SourceCounters,
) -> Result<(), FinalWriteError> {
    let mut merge = Merge {
        state: (0..shards).map(|_| ShardState::Unknown).collect(),
        gone: vec![false; shards],
        waiting: Vec::new(),
        dirty: false,
        heard: false,
    };
    let mut failures = Failures::default();
    // Events delivered up to the positions last written.
    let mut written_events = 0;
    loop {
        let first = if failures.last.is_some() {
            match rx.recv_timeout(RETRY_AFTER) {
                Ok(m) => Some(m),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            }
        } else {
            match rx.recv() {
                Ok(m) => Some(m),
                Err(_) => break,
            }
        };
        if let Some(m) = first {
            merge.apply(m);
        }
        // Only the newest snapshots are worth writing.
        while let Ok(m) = rx.try_recv() {
            merge.apply(m);
        }
        if let Some(all) = merge.union().filter(|_| merge.dirty && merge.heard) {
            match save(path, &all.positions, &all.identities) {
                Ok(()) => {
                    merge.dirty = false;
                    written_events = all.delivered_events;
                    failures.recovered(path);
                }
                Err(e) => {
                    counters.generic_processing_fail.add(1);
                    counters.position_write_fail.add(1);
                    let behind = all.delivered_events.saturating_sub(written_events);
                    failures.failed(path, &e, behind);
                }
            }
        }
        let written = failures.last.is_none();
        for done in merge.waiting.drain(..) {
            let _ = done.send(written);
        }
        if merge.gone.iter().all(|&g| g) {
            break;
        }
    }
    match failures.last {
        None => Ok(()),
        Some(reason) => Err(FinalWriteError {
            path: path.to_owned(),
            reason,
            events: merge
                .union()
                .map_or(0, |all| all.delivered_events.saturating_sub(written_events)),
        }),
    }
}

/// Failed writes in a row, and when they were last reported: a disk that stays full must not
/// fill the log too.
#[derive(Debug, Default)]
struct Failures {
    /// Why the last write failed; `None` once a write succeeds.
    last: Option<String>,
    /// Failures since the first of this run of failures.
    count: u64,
    /// Failures since the last warning.
    unreported: u64,
    warned_at: Option<Instant>,
}

impl Failures {
    fn failed(&mut self, path: &Path, e: &io::Error, behind: u64) {
        self.last = Some(e.to_string());
        self.count += 1;
        self.unreported += 1;
        if self.warned_at.is_some_and(|t| t.elapsed() < WARN_EVERY) {
            return;
        }
        warn!(
            file = %path.display(),
            failures = self.unreported,
            "cannot write position file: {e}; retrying every second (warned again at most once a \
             minute). Until it is written, a restart resends up to {behind} delivered lines"
        );
        self.unreported = 0;
        self.warned_at = Some(Instant::now());
    }

    fn recovered(&mut self, path: &Path) {
        if self.last.take().is_some() {
            info!(
                file = %path.display(),
                failures = self.count,
                "position file written again"
            );
        }
        *self = Failures::default();
    }
}

/// Writes `content` to a temporary file beside `path` (named for this process, so that no two
/// processes ever write one temporary file), syncs it and renames it over `path`. A failure
/// leaves no temporary file behind: a full disk must not be left fuller, nor a directory
/// littered with empty files.
fn write_atomic(path: &Path, content: &[u8]) -> io::Result<()> {
    let tmp = with_suffix(path, &format!(".tmp.{}", std::process::id()));
    let write = || {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(content)?;
        file.sync_data()?;
        drop(file);
        fs::rename(&tmp, path)
    };
    let result = write();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer for `path` holding the lock of `lock_at` (the position file itself by default).
    fn spawn_at(
        path: &Path,
        lock_at: &Path,
        counters: &Arc<SourceCounters>,
        shards: usize,
    ) -> (Vec<Persister>, PositionWriter) {
        let lock = PositionLock::acquire(lock_at).unwrap();
        Persister::spawn(path.to_owned(), "r1", Arc::clone(counters), shards, lock).unwrap()
    }

    fn spawn(
        path: &Path,
        counters: &Arc<SourceCounters>,
        shards: usize,
    ) -> (Vec<Persister>, PositionWriter) {
        spawn_at(path, path, counters, shards)
    }

    #[test]
    fn reads_a_position_file_written_by_flume() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("taildir_position.json");
        fs::write(
            &path,
            r#"[{"inode":2496001,"pos":1234,"file":"/var/log/test1/example.log"},{"inode":2496002,"pos":0,"file":"/var/log/test2/a.log"}]"#,
        )
        .unwrap();
        let loaded = load(&path).unwrap();
        assert_eq!(loaded.positions[&2496001].pos, 1234);
        assert_eq!(
            loaded.positions[&2496002].file,
            "/var/log/test2/a.log".to_string()
        );
        assert!(loaded.identities.is_empty(), "no sidecar: inodes trusted");
    }

    #[test]
    fn writes_exactly_flumes_keys_and_round_trips_with_the_sidecar() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/pos.json");
        let positions = vec![Position {
            inode: 7,
            pos: 99,
            file: "/logs/a.log".into(),
        }];
        let identities = vec![Identity {
            inode: 7,
            dev: 64769,
            fingerprint: Fingerprint::of(b"first line\n"),
        }];
        save(&path, &positions, &identities).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text, r#"[{"inode":7,"pos":99,"file":"/logs/a.log"}]"#);
        let loaded = load(&path).unwrap();
        assert_eq!(loaded.positions[&7], positions[0]);
        assert_eq!(loaded.identities[&7], identities[0]);
        assert!(!sidecar_path(&path).with_extension("spate.tmp").exists());
    }

    #[test]
    fn a_corrupt_position_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pos.json");
        fs::write(&path, "[{\"inode\":1,").unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(
            err.contains("pos.json") && err.contains("not valid"),
            "{err}"
        );
        assert!(err.contains("line 1"), "{err}");
    }

    #[test]
    fn fingerprint_covers_only_the_prefix() {
        let long = vec![b'a'; 1000];
        assert_eq!(Fingerprint::of(&long), Fingerprint::of(&long[..256]));
        assert_ne!(Fingerprint::of(b"abc"), Fingerprint::of(b"abd"));
        assert_eq!(Fingerprint::of(&long).len, 256);
    }

    fn snapshot(pos: u64) -> Snapshot {
        Snapshot {
            positions: vec![Position {
                inode: 7,
                pos,
                file: "/var/log/a.log".into(),
            }],
            identities: Vec::new(),
            delivered_events: pos,
        }
    }

    #[test]
    fn the_persister_writes_the_last_snapshot_before_finish_returns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pos.json");
        let counters = Arc::new(SourceCounters::default());
        let (mut shards, writer) = spawn(&path, &counters, 1);
        let p = shards.remove(0);
        for pos in 0..100 {
            p.submit(snapshot(pos));
        }
        assert!(p.finish(snapshot(1000)));
        assert_eq!(load(&path).unwrap().positions[&7].pos, 1000);
        assert_eq!(counters.generic_processing_fail.get(), 0);
        writer.join().unwrap();
    }

    fn entry(inode: u64, pos: u64) -> Snapshot {
        Snapshot {
            positions: vec![Position {
                inode,
                pos,
                file: format!("/var/log/{inode}.log"),
            }],
            identities: Vec::new(),
            delivered_events: pos,
        }
    }

    fn recorded(path: &Path) -> Vec<(u64, u64)> {
        let mut v: Vec<(u64, u64)> = load(path)
            .unwrap()
            .positions
            .values()
            .map(|p| (p.inode, p.pos))
            .collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn shards_are_written_together_and_only_once_all_have_spoken() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pos.json");
        let counters = Arc::new(SourceCounters::default());
        let (mut shards, _writer) = spawn(&path, &counters, 2);
        let one = shards.pop().unwrap();
        let zero = shards.pop().unwrap();
        zero.submit(entry(1, 10));
        // Written now, the file would forget shard 1's files until its first snapshot.
        std::thread::sleep(Duration::from_millis(200));
        assert!(!path.exists(), "written before every shard was known");
        one.submit(entry(2, 20));
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !path.exists() || recorded(&path) != [(1, 10), (2, 20)] {
            assert!(std::time::Instant::now() < deadline, "the union is written");
            std::thread::sleep(Duration::from_millis(5));
        }
        // Each shard's final snapshot is on disk, with the other's newest, when finish returns.
        zero.finish(entry(1, 11));
        assert_eq!(recorded(&path), [(1, 11), (2, 20)]);
        one.finish(entry(2, 22));
        assert_eq!(recorded(&path), [(1, 11), (2, 22)]);
    }

    #[test]
    fn a_shard_that_is_dropped_unheard_does_not_hold_the_others_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pos.json");
        let counters = Arc::new(SourceCounters::default());
        let (mut shards, _writer) = spawn(&path, &counters, 2);
        drop(shards.pop()); // its worker failed before it said anything
        shards.pop().unwrap().finish(entry(1, 10));
        assert_eq!(recorded(&path), [(1, 10)]);
    }

    #[test]
    fn a_failing_write_is_counted_and_retried_until_it_succeeds() {
        let dir = tempfile::tempdir().unwrap();
        // The position file's directory is a regular file for now: every write fails.
        let blocker = dir.path().join("state");
        fs::write(&blocker, b"not a directory").unwrap();
        let path = blocker.join("pos.json");
        let counters = Arc::new(SourceCounters::default());
        let (mut shards, writer) = spawn_at(&path, &dir.path().join("lock"), &counters, 1);
        let p = shards.remove(0);
        p.submit(snapshot(5));
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while counters.generic_processing_fail.get() == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the failure is counted"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        // The disk recovers: the pending snapshot gets written by a retry, with no new submit.
        fs::remove_file(&blocker).unwrap();
        while load(&path)
            .map(|l| l.positions.get(&7).map(|p| p.pos))
            .ok()
            .flatten()
            != Some(5)
        {
            assert!(std::time::Instant::now() < deadline, "the retry writes it");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(p.finish(snapshot(6)));
        assert_eq!(load(&path).unwrap().positions[&7].pos, 6);
        writer.join().unwrap();
    }

    #[test]
    fn a_second_lock_is_refused_with_the_holders_pid_and_freed_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/pos.json");
        let held = PositionLock::acquire(&path).unwrap();
        let err = PositionLock::acquire(&path).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, PositionError::Locked { .. }), "{text}");
        assert!(
            text.contains(&format!("pid {}", std::process::id())) && text.contains("pos.json"),
            "{text}"
        );
        drop(held);
        PositionLock::acquire(&path).expect("free once the holder is gone");
    }

    #[test]
    fn a_lock_removes_temporary_files_left_by_a_killed_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pos.json");
        for stale in [
            "pos.json.tmp",
            "pos.json.tmp.4242",
            "pos.json.spate.tmp.4242",
        ] {
            fs::write(dir.path().join(stale), b"").unwrap();
        }
        fs::write(dir.path().join("pos.json.other"), b"kept").unwrap();
        let _lock = PositionLock::acquire(&path).unwrap();
        let mut names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["pos.json.lock", "pos.json.other"]);
    }

    #[test]
    fn a_failed_final_write_says_how_many_lines_will_be_sent_again_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        fs::create_dir(&state).unwrap();
        let path = state.join("pos.json");
        let counters = Arc::new(SourceCounters::default());
        let (mut shards, writer) = spawn_at(&path, &dir.path().join("lock"), &counters, 1);
        let p = shards.remove(0);
        p.submit(snapshot(40));
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while load(&path)
            .ok()
            .and_then(|l| l.positions.get(&7).map(|p| p.pos))
            != Some(40)
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the snapshot is written"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        // The directory turns into a file: every write fails from now on.
        fs::remove_dir_all(&state).unwrap();
        fs::write(&state, b"not a directory").unwrap();
        assert!(!p.finish(snapshot(100)));
        let err = writer.join().unwrap_err();
        assert_eq!(err.events, 60, "delivered since the last written file");
        let text = err.to_string();
        assert!(
            text.contains("NOT written") && text.contains("up to 60 delivered lines"),
            "{text}"
        );
        assert!(counters.position_write_fail.get() >= 1);
        let left: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 2, "only the lock and the blocker: {left:?}");
    }
}
