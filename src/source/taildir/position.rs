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
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tracing::warn;

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
    let mut name = path.as_os_str().to_owned();
    name.push(".spate");
    PathBuf::from(name)
}

/// What a source (or one shard of it) hands to the [`Persister`]: the positions of every file
/// it has open.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub positions: Vec<Position>,
    pub identities: Vec<Identity>,
}

/// How long a failed write waits before it is tried again (unless a newer snapshot comes first).
const RETRY_AFTER: Duration = Duration::from_secs(1);

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
    /// The shard's last snapshot; `done` hears once a file including it was written or failed.
    Final(usize, Snapshot, mpsc::Sender<()>),
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
    /// `shards` shards; returns one handle per shard, in shard order.
    pub fn spawn(
        path: PathBuf,
        source: &str,
        counters: Arc<SourceCounters>,
        shards: usize,
    ) -> io::Result<Vec<Persister>> {
        let shards = shards.max(1);
        let (tx, rx) = mpsc::channel::<Message>();
        std::thread::Builder::new()
            .name(format!("{source}-positions"))
            .spawn(move || write_loop(&path, &rx, shards, &counters))?;
        Ok((0..shards)
            .map(|shard| Persister {
                shard,
                tx: Some(tx.clone()),
            })
            .collect())
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
    /// its write failed).
    pub fn finish(mut self, last: Snapshot) {
        let Some(tx) = self.tx.take() else { return };
        let (done_tx, done_rx) = mpsc::channel();
        if tx.send(Message::Final(self.shard, last, done_tx)).is_ok() {
            drop(tx);
            // An error means the writer is gone, which it only is once nothing can be written.
            let _ = done_rx.recv();
        }
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
    waiting: Vec<mpsc::Sender<()>>,
    /// Whether something changed since the last successful write.
    dirty: bool,
}

impl Merge {
    fn apply(&mut self, m: Message) {
        match m {
            Message::Snapshot(shard, s) => self.state[shard] = ShardState::Known(s),
            Message::Final(shard, s, done) => {
                self.state[shard] = ShardState::Known(s);
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
        }
        Some(all)
    }
}

/// The writer thread: applies messages, writes the union of the shards' newest snapshots when
/// it changed and every shard is known, retries a failed write, and exits when every shard is
/// gone and its last write succeeded (or the last handle is dropped).
fn write_loop(path: &Path, rx: &mpsc::Receiver<Message>, shards: usize, counters: &SourceCounters) {
    let mut merge = Merge {
        state: (0..shards).map(|_| ShardState::Unknown).collect(),
        gone: vec![false; shards],
        waiting: Vec::new(),
        dirty: false,
    };
    // Whether the last write failed, so that the next is a retry after RETRY_AFTER.
    let mut failed = false;
    loop {
        let first = if failed {
            match rx.recv_timeout(RETRY_AFTER) {
                Ok(m) => Some(m),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        } else {
            match rx.recv() {
                Ok(m) => Some(m),
                Err(_) => return,
            }
        };
        if let Some(m) = first {
            merge.apply(m);
        }
        // Only the newest snapshots are worth writing.
        while let Ok(m) = rx.try_recv() {
            merge.apply(m);
        }
        let Some(all) = merge.union().filter(|_| merge.dirty) else {
            continue;
        };
        match save(path, &all.positions, &all.identities) {
            Ok(()) => {
                merge.dirty = false;
                failed = false;
            }
            Err(e) => {
                counters.generic_processing_fail.add(1);
                warn!(file = %path.display(), "cannot write position file: {e}; will retry");
                failed = true;
            }
        }
        // A finishing shard waits for one attempt: a stopping agent cannot wait for a disk.
        for done in merge.waiting.drain(..) {
            let _ = done.send(());
        }
        if merge.gone.iter().all(|&g| g) && !failed {
            return;
        }
    }
}

fn write_atomic(path: &Path, content: &[u8]) -> io::Result<()> {
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    let mut file = fs::File::create(&tmp)?;
    file.write_all(content)?;
    file.sync_data()?;
    drop(file);
    fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        }
    }

    #[test]
    fn the_persister_writes_the_last_snapshot_before_finish_returns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pos.json");
        let counters = Arc::new(SourceCounters::default());
        let p = Persister::spawn(path.clone(), "r1", Arc::clone(&counters), 1)
            .unwrap()
            .remove(0);
        for pos in 0..100 {
            p.submit(snapshot(pos));
        }
        p.finish(snapshot(1000));
        assert_eq!(load(&path).unwrap().positions[&7].pos, 1000);
        assert_eq!(counters.generic_processing_fail.get(), 0);
    }

    fn entry(inode: u64, pos: u64) -> Snapshot {
        Snapshot {
            positions: vec![Position {
                inode,
                pos,
                file: format!("/var/log/{inode}.log"),
            }],
            identities: Vec::new(),
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
        let mut shards = Persister::spawn(path.clone(), "r1", counters, 2).unwrap();
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
        let mut shards = Persister::spawn(path.clone(), "r1", counters, 2).unwrap();
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
        let p = Persister::spawn(path.clone(), "r1", Arc::clone(&counters), 1)
            .unwrap()
            .remove(0);
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
        p.finish(snapshot(6));
        assert_eq!(load(&path).unwrap().positions[&7].pos, 6);
    }
}
