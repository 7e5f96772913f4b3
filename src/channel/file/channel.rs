//! The file channel at run time: puts go to the log writer and are acknowledged to their
//! sources once durable; takes read durable records back from the segments; commits log the
//! sequence numbers taken, so that a replay does not queue them again; segments whose records
//! were all taken are deleted, oldest first.
//!
//! Replay (at start) reads every segment in order: a put record queues its batch, a take record
//! removes the puts it names. What is left is queued again, in log order. Damaged records are
//! skipped and counted, torn tails truncated, and both said in the log.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::Notify;
use tracing::{debug, info, warn};

use super::checkpoint::{self, Checkpoint, CheckpointError, Entry, Position};
use super::codec;
use super::config::FileChannelConfig;
use super::record::{self, RecordKind, HEADER_LEN};
use super::segment::{self, SegmentError};
use super::writer::{Health, Placement, Submission, Writer, WriterConfig};
use crate::ack::{Ack, AckQueue};
use crate::component::Channel;
use crate::event::Batch;
use crate::lock::{ExclusiveLock, LockError};
use crate::metrics::ChannelCounters;
use crate::runtime::Backend;
use crate::throttle::Throttle;

/// Payload bytes the writer may hold before puts are refused (sources wait): what the channel
/// keeps in memory while the disk is slow or failing.
pub const MAX_PENDING_BYTES: usize = 16 << 20;

/// Bytes of durable batches the channel also keeps in memory until a sink takes them: a sink
/// that keeps up takes each batch as it was put, without reading it back, decoding it and
/// checking its checksum again. Beyond this, batches are read back from the segments.
pub const CACHED_BYTES: usize = 16 << 20;

/// The lock file in the checkpoint directory.
const LOCK_FILE: &str = "spate-file-channel.lock";

/// Why a file channel cannot start.
#[derive(Debug, thiserror::Error)]
pub enum FileChannelError {
    /// A directory holds Flume's own files.
    #[error(transparent)]
    Flume(#[from] segment::FlumeFiles),
    /// Another agent uses the channel.
    #[error(
        "{dir} is in use by another spate agent (pid {pid}); stop it first, or give this \
         channel its own checkpointDir and dataDirs"
    )]
    Locked {
        /// The checkpoint directory.
        dir: PathBuf,
        /// The holder's pid.
        pid: String,
    },
    /// A segment cannot be read.
    #[error(transparent)]
    Segment(#[from] SegmentError),
    /// Segments of two different logs were found.
    #[error(
        "{a} and {b} belong to two different file channels; each channel needs data directories \
         of its own"
    )]
    Mixed {
        /// A segment of one.
        a: PathBuf,
        /// A segment of the other.
        b: PathBuf,
    },
    /// The checkpoint does not fit the log (the whole log is read instead).
    #[error("the checkpoint does not fit the log: {0}")]
    Checkpoint(String),
    /// Two segments have one index.
    #[error("{a} and {b} have the same segment number; remove the one that does not belong")]
    Twice {
        /// One.
        a: PathBuf,
        /// The other.
        b: PathBuf,
    },
    /// A directory could not be created, listed or locked, or a segment truncated.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> FileChannelError + '_ {
    move |source| FileChannelError::Io {
        path: path.to_owned(),
        source,
    }
}

/// A durable put record waiting to be taken: where it lies, and the batch itself while the
/// channel keeps it in memory ([`CACHED_BYTES`]). Boxed, so that a backlog's index costs 40
/// bytes a batch rather than 160.
#[derive(Debug)]
struct Ready {
    entry: Entry,
    batch: Option<Box<Batch>>,
}

impl From<Entry> for Ready {
    fn from(entry: Entry) -> Self {
        Ready { entry, batch: None }
    }
}

/// A segment the channel knows.
#[derive(Debug)]
struct Segment {
    path: PathBuf,
    /// A map of its first bytes (all that were durable when it was made), for takes.
    map: Option<Arc<memmap2::Mmap>>,
    /// Its put records not yet committed as taken.
    live: usize,
}

/// What the writer hands back.
#[derive(Debug)]
enum Token {
    Put {
        ack: Option<Ack>,
        events: u32,
        /// The batch, kept for a take from memory.
        batch: Option<Box<Batch>>,
    },
    /// The sequence numbers taken.
    Take(Vec<u64>),
}

/// The queue as the log on disk holds it: updated as the writer makes records durable, and
/// written out as the checkpoint.
#[derive(Debug)]
struct Durable {
    /// Put records durable and not taken by a durable take record.
    live: BTreeMap<u64, Entry>,
    /// Where the log ends: every record before it is accounted for in `live`.
    end: Position,
    next_seq: u64,
    /// Whether `live` or `end` changed since the last checkpoint.
    changed: bool,
    /// When the last checkpoint was written (or the channel opened).
    written: Instant,
}

#[derive(Debug)]
struct Inner {
    name: String,
    log_id: u32,
    /// Where segment `i` lies: `data_dirs[i % len]`.
    data_dirs: Vec<PathBuf>,
    ready: Mutex<VecDeque<Ready>>,
    /// Bytes of the batches kept in `ready` (at most [`CACHED_BYTES`]).
    cached: AtomicUsize,
    taken: Mutex<HashMap<u64, Entry>>,
    segments: Mutex<BTreeMap<u64, Segment>>,
    events: AtomicUsize,
    arrivals: Notify,
    room: Notify,
    counters: Arc<ChannelCounters>,
    /// Where taken batches' acks go at commit: their sequence numbers.
    commits: Arc<AckQueue>,
    durable: Mutex<Durable>,
    /// Where checkpoints are written: `checkpointDir`, then `backupCheckpointDir`.
    checkpoint_dirs: Vec<PathBuf>,
    checkpoint_interval: Duration,
    /// Gates the warning about a checkpoint that cannot be written.
    checkpoint_warning: Throttle,
    /// Hands checkpoints to the thread that writes them, off the writer's thread (a 10 MB
    /// checkpoint took 25–50 ms to write and sync, which group commits would have waited
    /// for). `None` once the channel closes: then they are written on the caller's thread.
    checkpoint_tx: Mutex<Option<SyncSender<Vec<u8>>>>,
}

/// Where segment `index` lies.
fn segment_path(data_dirs: &[PathBuf], index: u64) -> PathBuf {
    data_dirs[(index as usize) % data_dirs.len()].join(segment::file_name(index))
}

/// Bytes of a mapped segment, owned by the `Bytes` made of them.
struct MapSlice {
    map: Arc<memmap2::Mmap>,
    range: std::ops::Range<usize>,
}

impl AsRef<[u8]> for MapSlice {
    fn as_ref(&self) -> &[u8] {
        &self.map[self.range.clone()]
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves its data whole; a panic elsewhere does not poison it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Inner {
    /// Records that the writer made durable (on the writer's thread).
    fn synced(&self, done: Vec<(Token, Placement)>) {
        let writing = done.iter().map(|(_, p)| p.segment).max().unwrap_or(0);
        self.account(&done);
        let mut puts = Vec::new();
        {
            let mut segments = lock(&self.segments);
            for (token, p) in done {
                let segment = segments.entry(p.segment).or_insert_with(|| Segment {
                    path: PathBuf::new(),
                    map: None,
                    live: 0,
                });
                if let Token::Put { ack, events, batch } = token {
                    segment.live += 1;
                    let entry = Entry {
                        seq: p.seq,
                        segment: p.segment,
                        offset: p.offset,
                        len: p.len,
                        events,
                    };
                    puts.push(Ready { entry, batch });
                    if let Some(ack) = ack {
                        ack.deliver();
                    }
                }
            }
        }
        if !puts.is_empty() {
            lock(&self.ready).extend(puts);
            self.arrivals.notify_one();
        }
        // Puts refused while the writer was behind (or failing) may go in now. Without this,
        // a source whose sinks do not take would wait out its keep-alive after every refusal.
        self.room.notify_waiters();
        // Take records just made durable may finish older segments.
        self.delete_taken_segments(writing);
        let due = lock(&self.durable).written.elapsed() >= self.checkpoint_interval;
        if due {
            self.checkpoint();
        }
    }

    /// Applies records just made durable to the queue the checkpoint describes.
    fn account(&self, done: &[(Token, Placement)]) {
        let mut d = lock(&self.durable);
        for (token, p) in done {
            match token {
                Token::Put { events, .. } => {
                    d.live.insert(
                        p.seq,
                        Entry {
                            seq: p.seq,
                            segment: p.segment,
                            offset: p.offset,
                            len: p.len,
                            events: *events,
                        },
                    );
                }
                Token::Take(seqs) => {
                    for seq in seqs {
                        d.live.remove(seq);
                    }
                }
            }
            d.end = Position {
                segment: p.segment,
                offset: p.offset + (HEADER_LEN as u64) + u64::from(p.len),
            };
            d.next_seq = d.next_seq.max(p.seq + 1);
        }
        d.changed |= !done.is_empty();
    }

    /// Writes the checkpoint, if the log changed since the last one. A checkpoint that cannot
    /// be written loses nothing (the log holds everything it would say): the next start reads
    /// more of the log, and the next interval tries again.
    fn checkpoint(&self) {
        let image = {
            let mut d = lock(&self.durable);
            d.written = Instant::now();
            if !std::mem::take(&mut d.changed) {
                return;
            }
            checkpoint::encode(self.log_id, d.end, d.next_seq, d.live.values())
        };
        let Some(tx) = lock(&self.checkpoint_tx).clone() else {
            return self.write_checkpoint(&image);
        };
        match tx.try_send(image) {
            Ok(()) => {}
            // The previous one is still being written: this one waits for the next interval.
            Err(TrySendError::Full(_)) => lock(&self.durable).changed = true,
            Err(TrySendError::Disconnected(image)) => self.write_checkpoint(&image),
        }
    }

    /// Writes a checkpoint image into every checkpoint directory, atomically.
    fn write_checkpoint(&self, image: &[u8]) {
        for dir in &self.checkpoint_dirs {
            let started = Instant::now();
            let written = checkpoint::write(dir, image);
            debug!(
                channel = %self.name,
                dir = %dir.display(),
                bytes = image.len(),
                micros = started.elapsed().as_micros() as u64,
                ok = written.is_ok(),
                "checkpoint written"
            );
            if let Err(e) = written {
                lock(&self.durable).changed = true;
                if !self.checkpoint_warning.ready() {
                    continue;
                }
                warn!(
                    channel = %self.name,
                    dir = %dir.display(),
                    "cannot write the checkpoint: {e}; nothing is lost, but the next start \
                     reads the log back to the previous one (said at most once a minute)"
                );
            }
        }
    }

    /// Deletes the oldest segments while every put in them was taken (never the one being
    /// written). Oldest first: a segment's take records may name puts of older ones, which a
    /// replay must not find again.
    fn delete_taken_segments(&self, writing: u64) {
        let mut segments = lock(&self.segments);
        while let Some((&index, s)) = segments.first_key_value() {
            if s.live > 0 || index >= writing {
                break;
            }
            let path = if s.path.as_os_str().is_empty() {
                segment_path(&self.data_dirs, index)
            } else {
                s.path.clone()
            };
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    warn!(channel = %self.name, segment = %path.display(), "cannot delete a taken segment: {e}");
                    break;
                }
            }
            segments.pop_first();
        }
    }
}

/// A file channel.
#[derive(Debug)]
pub struct FileChannel {
    inner: Arc<Inner>,
    writer: Writer<Token>,
    capacity: usize,
    keep_alive: Duration,
    /// [`CACHED_BYTES`] (tests lower it to make takes read back).
    cache_limit: usize,
    checkpoint_on_close: bool,
    checkpoint_thread: Option<std::thread::JoinHandle<()>>,
    _lock: ExclusiveLock,
}

impl Drop for FileChannel {
    fn drop(&mut self) {
        // Everything submitted is written first, so that the checkpoint covers the whole log,
        // and the checkpoint thread finishes, so that no older checkpoint lands after it.
        self.writer.finish();
        lock(&self.inner.checkpoint_tx).take();
        if let Some(t) = self.checkpoint_thread.take() {
            let _ = t.join();
        }
        if self.checkpoint_on_close {
            self.inner.checkpoint();
        }
    }
}

/// What a replay found.
#[derive(Debug, Default)]
struct Replayed {
    ready: VecDeque<Ready>,
    segments: BTreeMap<u64, Segment>,
    log_id: Option<u32>,
    next_seq: u64,
    next_segment: u64,
    /// Where the log ends.
    end: Position,
    /// Damaged records skipped.
    skipped: u64,
}

impl FileChannel {
    /// Opens the channel `name`: refuses Flume's directories, takes the lock, replays the log
    /// and starts the writer.
    pub fn open(
        name: &str,
        config: &FileChannelConfig,
        counters: Arc<ChannelCounters>,
        backend: Backend,
    ) -> Result<FileChannel, FileChannelError> {
        let cp = &config.checkpoint_dir;
        segment::refuse_flume_files(cp)?;
        for d in &config.data_dirs {
            segment::refuse_flume_files(d)?;
        }
        std::fs::create_dir_all(cp).map_err(io_at(cp))?;
        for d in &config.data_dirs {
            std::fs::create_dir_all(d).map_err(io_at(d))?;
        }
        let lock_path = cp.join(LOCK_FILE);
        let held = ExclusiveLock::acquire(&lock_path).map_err(|e| match e {
            LockError::Held { pid } => FileChannelError::Locked {
                dir: cp.clone(),
                pid,
            },
            LockError::Io(source) => FileChannelError::Io {
                path: lock_path.clone(),
                source,
            },
        })?;
        let mut checkpoint_dirs = vec![cp.clone()];
        if let Some(backup) = &config.backup_checkpoint_dir {
            std::fs::create_dir_all(backup).map_err(io_at(backup))?;
            checkpoint_dirs.push(backup.clone());
        }
        let replayed = replay(name, &config.data_dirs, &checkpoint_dirs)?;
        counters.record_skipped.add(replayed.skipped);
        let log_id = replayed.log_id.unwrap_or_else(|| {
            // A new log: an identity that damage-recovery will not mistake for another's.
            (uuid::Uuid::new_v4().as_u128() as u32).max(1)
        });
        let events: usize = replayed.ready.iter().map(|r| r.entry.events as usize).sum();
        let durable = Durable {
            live: replayed
                .ready
                .iter()
                .map(|r| (r.entry.seq, r.entry))
                .collect(),
            end: replayed.end,
            next_seq: replayed.next_seq,
            // A start that repaired or replayed anything writes a checkpoint soon.
            changed: true,
            written: Instant::now(),
        };
        if events > 0 {
            info!(
                channel = name,
                events,
                batches = replayed.ready.len(),
                "file channel: replayed what was put and not taken"
            );
        }
        let inner = Arc::new(Inner {
            name: name.to_string(),
            log_id,
            data_dirs: config.data_dirs.clone(),
            ready: Mutex::new(replayed.ready),
            cached: AtomicUsize::new(0),
            taken: Mutex::new(HashMap::new()),
            segments: Mutex::new(replayed.segments),
            events: AtomicUsize::new(events),
            arrivals: Notify::new(),
            room: Notify::new(),
            counters,
            commits: AckQueue::new(),
            durable: Mutex::new(durable),
            checkpoint_dirs,
            checkpoint_interval: config.checkpoint_interval,
            checkpoint_warning: Throttle::per_minute(),
            checkpoint_tx: Mutex::new(None),
        });
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(1);
        let checkpointer = Arc::clone(&inner);
        let checkpoint_thread = std::thread::Builder::new()
            .name(format!("spate-fc-cp-{name}"))
            .spawn(move || {
                for image in rx {
                    checkpointer.write_checkpoint(&image);
                }
            })
            .map_err(io_at(cp))?;
        *lock(&inner.checkpoint_tx) = Some(tx);
        let synced = Arc::clone(&inner);
        let writer = Writer::start(
            WriterConfig {
                name: name.to_string(),
                data_dirs: config.data_dirs.clone(),
                log_id,
                next_segment: replayed.next_segment,
                next_seq: replayed.next_seq,
                max_file_size: config.max_file_size,
                min_free: config.minimum_required_space,
                backend,
            },
            Box::new(move |done| synced.synced(done)),
        )
        .map_err(io_at(&config.data_dirs[0]))?;
        let channel = FileChannel {
            inner,
            writer,
            capacity: config.capacity,
            keep_alive: config.keep_alive,
            cache_limit: CACHED_BYTES,
            checkpoint_on_close: config.checkpoint_on_close,
            checkpoint_thread: Some(checkpoint_thread),
            _lock: held,
        };
        Ok(channel)
    }

    /// Reads the durable record `e` back as a batch.
    ///
    /// The record is read from a map of its segment (made again when the segment has grown
    /// past it), without a copy: the batch's bodies are a slice of the map, which lives as long
    /// as they do.
    fn read(&self, e: &Entry) -> io::Result<Batch> {
        let end = e.offset as usize + HEADER_LEN + e.len as usize;
        let map = {
            let mut segments = lock(&self.inner.segments);
            let s = segments
                .get_mut(&e.segment)
                .ok_or_else(|| io::Error::other("segment already deleted"))?;
            match &s.map {
                Some(m) if m.len() >= end => Arc::clone(m),
                _ => {
                    if s.path.as_os_str().is_empty() {
                        s.path = segment_path(&self.inner.data_dirs, e.segment);
                    }
                    let file = File::open(&s.path)?;
                    // SAFETY: the segment belongs to this channel, whose lock keeps other
                    // spate processes out; the channel only appends to it (never truncates
                    // it while running), and the map covers bytes already durable, which never
                    // change. Unlinking it (once every record was taken) leaves the map valid.
                    let m = Arc::new(unsafe { memmap2::Mmap::map(&file)? });
                    if m.len() < end {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the segment is shorter than a durable record in it",
                        ));
                    }
                    s.map = Some(Arc::clone(&m));
                    m
                }
            }
        };
        let bytes = Bytes::from_owner(MapSlice {
            map,
            range: e.offset as usize..end,
        });
        let scan = record::scan(&bytes, self.inner.log_id);
        let Some(r) = scan.records().next().filter(|r| r.seq == e.seq) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the record read back fails its checksum",
            ));
        };
        codec::decode(bytes.slice(r.payload.clone()))
            .map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err))
    }

    /// Logs that `seqs` were taken and committed, and releases what they held.
    fn committed(&self, seqs: Vec<u64>) {
        if seqs.is_empty() {
            return;
        }
        let mut events = 0usize;
        {
            let mut taken = lock(&self.inner.taken);
            let mut segments = lock(&self.inner.segments);
            for seq in &seqs {
                if let Some(e) = taken.remove(seq) {
                    events += e.events as usize;
                    if let Some(s) = segments.get_mut(&e.segment) {
                        s.live = s.live.saturating_sub(1);
                    }
                }
            }
        }
        let payload: Vec<u8> = seqs.iter().flat_map(|s| s.to_le_bytes()).collect();
        self.writer.submit(Submission::new(
            RecordKind::Take,
            vec![payload.into()],
            Token::Take(seqs),
        ));
        self.inner.events.fetch_sub(events, Ordering::Relaxed);
        self.inner.counters.take_success.add(events as u64);
        self.inner.room.notify_one();
        self.inner
            .delete_taken_segments(self.writer.writing_segment());
    }
}

impl Channel for FileChannel {
    fn name(&self) -> &str {
        &self.inner.name
    }

    fn try_put(&self, mut batch: Batch) -> Result<(), Batch> {
        let n = batch.len();
        if self.writer.health() != Health::Ok || self.writer.pending_bytes() > MAX_PENDING_BYTES {
            return Err(batch);
        }
        let reserved = self
            .inner
            .events
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |e| {
                (e + n <= self.capacity || e == 0).then_some(e + n)
            });
        if reserved.is_err() {
            return Err(batch);
        }
        let parts = codec::encode_parts(&batch);
        let ack = batch.take_ack();
        // Kept for a take from memory while the budget allows (a race past it by one batch
        // per putting thread is harmless).
        let size = batch.data().len();
        let keep = self.inner.cached.load(Ordering::Relaxed) + size <= self.cache_limit;
        if keep {
            self.inner.cached.fetch_add(size, Ordering::Relaxed);
        }
        self.writer.submit(Submission::new(
            RecordKind::Put,
            parts.into(),
            Token::Put {
                ack,
                events: n as u32,
                batch: keep.then(|| Box::new(batch)),
            },
        ));
        self.inner.counters.put_success.add(n as u64);
        Ok(())
    }

    fn take(&self, max_events: usize, into: &mut Vec<Batch>) -> usize {
        self.inner.counters.take_attempt.add(max_events as u64);
        let entries: Vec<Ready> = {
            let mut ready = lock(&self.inner.ready);
            let mut out = Vec::new();
            let mut events = 0usize;
            while let Some(r) = ready.front() {
                if !out.is_empty() && events + r.entry.events as usize > max_events {
                    break;
                }
                events += r.entry.events as usize;
                out.extend(ready.pop_front());
            }
            out
        };
        // Taken until committed or rolled back, whether they read back or not.
        lock(&self.inner.taken).extend(entries.iter().map(|r| (r.entry.seq, r.entry)));
        let mut taken_events = 0;
        let mut unreadable = Vec::new();
        for Ready { entry: e, batch } in entries {
            let read = match batch {
                Some(batch) => {
                    self.inner
                        .cached
                        .fetch_sub(batch.data().len(), Ordering::Relaxed);
                    Ok(*batch)
                }
                None => self.read(&e),
            };
            match read {
                Ok(batch) => {
                    into.push(batch.with_ack(Ack::new(Arc::clone(&self.inner.commits), e.seq)));
                    taken_events += e.events as usize;
                }
                Err(err) => {
                    // Durable bytes that no longer read back: counted, said, and dropped (a
                    // take record keeps a replay from trying again).
                    warn!(
                        channel = %self.inner.name,
                        segment = e.segment,
                        offset = e.offset,
                        events = e.events,
                        "a record could not be read back and is skipped: {err}"
                    );
                    unreadable.push(e.seq);
                }
            }
        }
        self.inner
            .counters
            .record_skipped
            .add(unreadable.len() as u64);
        self.committed(unreadable);
        taken_events
    }

    fn commit(&self, taken: &mut Vec<Batch>) {
        let seqs: Vec<u64> = taken
            .drain(..)
            .filter_map(|mut b| b.take_ack().map(|a| a.token()))
            .collect();
        self.committed(seqs);
    }

    fn rollback(&self, taken: &mut Vec<Batch>) {
        let seqs: Vec<u64> = taken
            .drain(..)
            .filter_map(|mut b| b.take_ack().map(|a| a.token()))
            .collect();
        let entries: Vec<Entry> = {
            let mut t = lock(&self.inner.taken);
            seqs.iter().filter_map(|s| t.remove(s)).collect()
        };
        // Read back from the segments at the next take.
        let mut ready = lock(&self.inner.ready);
        for e in entries.into_iter().rev() {
            ready.push_front(e.into());
        }
        drop(ready);
        self.inner.arrivals.notify_one();
    }

    /// Nothing durable waits to be taken. Puts still being written are not takeable yet; their
    /// arrival is signalled when they are, and a sink that stops before then leaves them on
    /// disk for the next start.
    fn is_drained(&self) -> bool {
        lock(&self.inner.ready).is_empty()
    }

    fn size(&self) -> usize {
        self.inner.events.load(Ordering::Relaxed)
    }

    fn keep_alive(&self) -> Duration {
        self.keep_alive
    }

    fn room(&self) -> &Notify {
        &self.inner.room
    }

    fn arrivals(&self) -> &Notify {
        &self.inner.arrivals
    }

    fn counters(&self) -> &ChannelCounters {
        &self.inner.counters
    }
}

/// What one segment holds, as a survey found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentReport {
    /// Its path.
    pub path: PathBuf,
    /// Its index.
    pub index: u64,
    /// Its size in bytes.
    pub bytes: u64,
    /// Sound put records.
    pub puts: u64,
    /// Sound take records.
    pub takes: u64,
    /// Damaged records or stretches stepped over, and their bytes.
    pub damaged: (u64, u64),
    /// Bytes of a torn write at its end, which a start truncates.
    pub torn: u64,
    /// Where its sound part ends (a start truncates the file there).
    pub end: u64,
    /// Cut short before its header: a start removes it.
    pub headerless: bool,
    /// Where reading began: after the header, or where a checkpoint left off (the size, for
    /// a segment the checkpoint covers whole).
    pub read_from: u64,
}

/// What a channel's data directories hold, read without changing anything.
#[derive(Debug, Default)]
pub struct Survey {
    /// Every segment, in order.
    pub segments: Vec<SegmentReport>,
    /// The log's identity, if any segment has one.
    pub log_id: Option<u32>,
    /// Put records not taken, in log order: what a start queues.
    live: Vec<Entry>,
    /// The next sequence number.
    next_seq: u64,
    /// Where the log ends: the last segment's sound end.
    end: Position,
}

impl Survey {
    /// Events a start would queue.
    pub fn queued_events(&self) -> u64 {
        self.live.iter().map(|e| u64::from(e.events)).sum()
    }

    /// Batches a start would queue.
    pub fn queued_batches(&self) -> usize {
        self.live.len()
    }

    /// Log bytes read (those a checkpoint covers are not).
    pub fn bytes_read(&self) -> u64 {
        self.segments
            .iter()
            .map(|s| s.bytes.saturating_sub(s.read_from))
            .sum()
    }

    /// Put records a start would queue (sequence number, events), in order.
    pub fn queue(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.live.iter().map(|e| (e.seq, e.events))
    }

    /// Whether nothing is damaged, torn or headerless.
    pub fn is_clean(&self) -> bool {
        self.segments
            .iter()
            .all(|s| s.damaged.0 == 0 && s.torn == 0 && !s.headerless)
    }
}

/// Reads every segment of `data_dirs` in order, without changing anything: what is queued
/// (puts minus takes), what is damaged, what is torn.
pub fn survey(data_dirs: &[PathBuf]) -> Result<Survey, FileChannelError> {
    survey_from(data_dirs, None)
}

/// Like [`survey`], but starts from `checkpoint`: its queue, then the log after its position.
///
/// Queued records whose segment is gone were taken: segments are deleted once every put in
/// them was taken, before the take records reach a checkpoint. A checkpoint that does not fit
/// the log (another log's, or past a segment's end) is an error; the caller then surveys the
/// whole log.
pub fn survey_from(
    data_dirs: &[PathBuf],
    checkpoint: Option<&Checkpoint>,
) -> Result<Survey, FileChannelError> {
    let mut paths: BTreeMap<u64, PathBuf> = BTreeMap::new();
    for dir in data_dirs {
        segment::refuse_flume_files(dir)?;
        let listed = match segment::list(dir) {
            Ok(l) => l,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io_at(dir)(e)),
        };
        for (index, path) in listed {
            if let Some(other) = paths.insert(index, path.clone()) {
                return Err(FileChannelError::Twice { a: other, b: path });
            }
        }
    }
    let mut out = Survey {
        next_seq: 1,
        ..Survey::default()
    };
    let mut live: BTreeMap<u64, Entry> = BTreeMap::new();
    let start = checkpoint.map(|c| c.position);
    if let Some(c) = checkpoint {
        out.next_seq = c.next_seq;
        live.extend(
            c.live
                .iter()
                .filter(|e| paths.contains_key(&e.segment))
                .map(|e| (e.seq, *e)),
        );
        if let Some(path) = paths.get(&c.position.segment) {
            let size = std::fs::metadata(path).map_err(io_at(path))?.len();
            if size < c.position.offset {
                return Err(FileChannelError::Checkpoint(format!(
                    "it ends at byte {} of {}, which holds {size}",
                    c.position.offset,
                    path.display()
                )));
            }
        }
    }
    let mut first_path: Option<PathBuf> = None;
    for (&index, path) in &paths {
        let size = std::fs::metadata(path).map_err(io_at(path))?.len();
        let from = match start {
            Some(p) if index < p.segment => size,
            Some(p) if index == p.segment => p.offset.max(segment::HEADER_LEN as u64),
            _ => segment::HEADER_LEN as u64,
        };
        let mapped = match segment::map_from(path, from as usize) {
            Ok(m) => m,
            // A segment whose header never reached the disk (a crash while rolling) holds
            // nothing.
            Err(SegmentError::NotASegment { .. }) if size < segment::HEADER_LEN as u64 => {
                out.segments.push(SegmentReport {
                    path: path.clone(),
                    index,
                    bytes: size,
                    puts: 0,
                    takes: 0,
                    damaged: (0, 0),
                    torn: size,
                    end: 0,
                    headerless: true,
                    read_from: 0,
                });
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        match (out.log_id, &first_path) {
            (Some(id), Some(first)) if id != mapped.log_id => {
                return Err(FileChannelError::Mixed {
                    a: first.clone(),
                    b: path.clone(),
                })
            }
            _ => {
                out.log_id = Some(mapped.log_id);
                first_path.get_or_insert_with(|| path.clone());
            }
        }
        let bytes = mapped.bytes();
        let mut report = SegmentReport {
            path: path.clone(),
            index,
            bytes: size,
            puts: 0,
            takes: 0,
            damaged: (0, 0),
            torn: mapped.torn_tail() as u64,
            end: mapped.scan.end as u64,
            headerless: false,
            read_from: from,
        };
        for s in mapped.scan.skipped() {
            report.damaged.0 += 1;
            report.damaged.1 += s.len as u64;
        }
        for r in mapped.scan.records() {
            out.next_seq = out.next_seq.max(r.seq + 1);
            let payload = &bytes[r.payload.clone()];
            match r.kind {
                RecordKind::Put => {
                    let Some(count) = payload.get(..4) else {
                        report.damaged.0 += 1;
                        continue;
                    };
                    report.puts += 1;
                    let events = u32::from_le_bytes(count.try_into().expect("4 bytes"));
                    live.insert(
                        r.seq,
                        Entry {
                            seq: r.seq,
                            segment: index,
                            offset: r.offset as u64,
                            len: (r.payload.end - r.payload.start) as u32,
                            events,
                        },
                    );
                }
                RecordKind::Take => {
                    report.takes += 1;
                    for seq in payload.chunks_exact(8) {
                        live.remove(&u64::from_le_bytes(seq.try_into().expect("8 bytes")));
                    }
                }
            }
        }
        out.end = Position {
            segment: index,
            offset: report.end,
        };
        out.segments.push(report);
    }
    if let (Some(c), Some(id)) = (checkpoint, out.log_id) {
        if c.log_id != id {
            return Err(FileChannelError::Checkpoint(format!(
                "it belongs to log {:08x}, the segments to log {id:08x}",
                c.log_id
            )));
        }
    }
    if out.segments.is_empty() {
        out.end = start.unwrap_or_default();
    }
    out.live = live.into_values().collect();
    Ok(out)
}

/// Reads the checkpoint of the first of `dirs` that holds a sound one. Damage is said in the
/// log; with no sound checkpoint, `None`.
fn read_checkpoint(name: &str, dirs: &[PathBuf]) -> Option<Checkpoint> {
    for dir in dirs {
        match Checkpoint::read(dir) {
            Ok(Some(c)) => return Some(c),
            Ok(None) => {}
            Err(e @ (CheckpointError::Damaged { .. } | CheckpointError::Io { .. })) => {
                warn!(channel = name, "checkpoint not used: {e}");
            }
        }
    }
    None
}

/// Finds the queue (from the checkpoint and the log after it, or from the whole log when
/// there is no sound checkpoint that fits), then repairs what a start must: removes headerless
/// segments and truncates torn tails (each said in the log, as are damaged records).
fn replay(
    name: &str,
    data_dirs: &[PathBuf],
    checkpoint_dirs: &[PathBuf],
) -> Result<Replayed, FileChannelError> {
    let started = Instant::now();
    let checkpoint = read_checkpoint(name, checkpoint_dirs);
    let survey = match checkpoint.as_ref().map(|c| survey_from(data_dirs, Some(c))) {
        Some(Ok(survey)) => survey,
        Some(Err(FileChannelError::Checkpoint(why))) => {
            warn!(
                channel = name,
                "checkpoint not used ({why}): reading the whole log"
            );
            survey(data_dirs)?
        }
        Some(Err(e)) => return Err(e),
        None => survey(data_dirs)?,
    };
    info!(
        channel = name,
        from_checkpoint = checkpoint.is_some(),
        log_bytes_read = survey.bytes_read(),
        millis = started.elapsed().as_millis() as u64,
        "file channel: log replayed"
    );
    let mut out = Replayed {
        log_id: survey.log_id.or(checkpoint.map(|c| c.log_id)),
        next_seq: survey.next_seq,
        next_segment: survey
            .segments
            .last()
            .map_or(survey.end.segment + 1, |s| s.index + 1),
        end: survey.end,
        ..Replayed::default()
    };
    for s in &survey.segments {
        let path = &s.path;
        if s.headerless {
            warn!(channel = name, segment = %path.display(), "removing a segment cut short before its header");
            std::fs::remove_file(path).map_err(io_at(path))?;
            continue;
        }
        out.skipped += s.damaged.0;
        if s.damaged.0 > 0 {
            warn!(
                channel = name,
                segment = %path.display(),
                records = s.damaged.0,
                bytes = s.damaged.1,
                "replay skipped damaged records (their events are lost; the rest is kept)"
            );
        }
        if s.torn > 0 {
            warn!(
                channel = name,
                segment = %path.display(),
                bytes = s.torn,
                "truncating a torn write at the end of a segment (never acknowledged)"
            );
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(io_at(path))?;
            f.set_len(s.end).map_err(io_at(path))?;
            f.sync_all().map_err(io_at(path))?;
        }
        out.segments.insert(
            s.index,
            Segment {
                path: path.clone(),
                map: None,
                live: 0,
            },
        );
    }
    for e in &survey.live {
        if let Some(s) = out.segments.get_mut(&e.segment) {
            s.live += 1;
        }
    }
    out.ready = survey.live.into_iter().map(Ready::from).collect();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::test_backends as backends;

    fn config(root: &Path, max_file_size: u64) -> FileChannelConfig {
        FileChannelConfig {
            checkpoint_dir: root.join("cp"),
            backup_checkpoint_dir: None,
            checkpoint_interval: Duration::from_secs(30),
            checkpoint_on_close: true,
            data_dirs: vec![root.join("d1"), root.join("d2")],
            capacity: 100_000,
            transaction_capacity: 1_000,
            max_file_size,
            minimum_required_space: 0,
            keep_alive: Duration::from_secs(3),
            inert_keys: Vec::new(),
        }
    }

    fn lines(from: u64, n: u64) -> Batch {
        let text: String = (from..from + n).map(|i| format!("line {i}\n")).collect();
        Batch::from_lines(Bytes::from(text), n as u32)
    }

    fn bodies(batches: &[Batch]) -> Vec<String> {
        batches
            .iter()
            .flat_map(Batch::bodies)
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect()
    }

    /// Waits until `n` events are ready to take.
    fn wait_ready(ch: &FileChannel, n: usize) {
        let start = std::time::Instant::now();
        while lock(&ch.inner.ready)
            .iter()
            .map(|r| r.entry.events as usize)
            .sum::<usize>()
            < n
        {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "puts never became durable"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    #[test]
    fn puts_are_acknowledged_when_durable_and_taken_in_order() {
        // Taken from memory, and read back from the segments.
        for (backend, cache_limit) in backends()
            .into_iter()
            .flat_map(|b| [(b, CACHED_BYTES), (b, 0)])
        {
            let root = tempfile::tempdir().unwrap();
            let mut ch =
                FileChannel::open("c1", &config(root.path(), 1 << 20), Arc::default(), backend)
                    .unwrap();
            ch.cache_limit = cache_limit;
            let acks = AckQueue::new();
            for i in 0..10 {
                let b = lines(i * 10, 10).with_ack(Ack::new(Arc::clone(&acks), i));
                ch.try_put(b).unwrap();
            }
            wait_ready(&ch, 100);
            let mut tokens = Vec::new();
            acks.drain(|t| tokens.push(t));
            assert_eq!(tokens, (0..10).collect::<Vec<_>>(), "{backend}");
            let mut taken = Vec::new();
            assert_eq!(ch.take(25, &mut taken), 20, "{backend}: whole batches");
            assert_eq!(bodies(&taken)[0], "line 0");
            ch.commit(&mut taken);
            assert_eq!(ch.size(), 80);
        }
    }

    #[test]
    fn a_put_refused_while_the_writer_is_behind_goes_in_once_it_catches_up() {
        // No sink takes: only the writer's progress makes room. A put that waited out its
        // keep-alive here was the source stalling for 3 s after every refusal (a backlog
        // built at 13 MB/s instead of 400).
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        for backend in backends() {
            let root = tempfile::tempdir().unwrap();
            let ch =
                FileChannel::open("c1", &config(root.path(), 1 << 20), Arc::default(), backend)
                    .unwrap();
            // The first write fails: puts are refused until the retry, 500 ms later, succeeds.
            ch.writer.fail_writes(1);
            ch.try_put(lines(0, 10)).unwrap();
            let start = std::time::Instant::now();
            while ch.writer.health() == Health::Ok {
                assert!(
                    start.elapsed() < Duration::from_secs(10),
                    "{backend}: never failed"
                );
                std::thread::sleep(Duration::from_millis(1));
            }
            let refused = ch.try_put(lines(10, 10)).unwrap_err();
            let put = rt.block_on(crate::channel::put(&ch, refused));
            assert!(put.is_ok(), "{backend}: the put waited out its keep-alive");
            assert!(start.elapsed() < ch.keep_alive(), "{backend}");
            wait_ready(&ch, 20);
        }
    }

    #[test]
    fn a_restart_queues_what_was_not_taken_and_nothing_taken() {
        for backend in backends() {
            let root = tempfile::tempdir().unwrap();
            let cfg = config(root.path(), 64 * 1024);
            {
                let ch = FileChannel::open("c1", &cfg, Arc::default(), backend).unwrap();
                for i in 0..200 {
                    ch.try_put(lines(i * 50, 50)).unwrap();
                }
                wait_ready(&ch, 10_000);
                let mut taken = Vec::new();
                ch.take(3_000, &mut taken);
                ch.commit(&mut taken);
                // Taken but never committed: comes back.
                ch.take(1_000, &mut taken);
                assert_eq!(bodies(&taken)[0], "line 3000");
                // Dropped without a stop: as a crash after the last sync.
                drop(ch);
            }
            let ch = FileChannel::open("c1", &cfg, Arc::default(), backend).unwrap();
            assert_eq!(ch.size(), 7_000, "{backend}");
            let mut taken = Vec::new();
            let mut all = Vec::new();
            while ch.take(1_000, &mut taken) > 0 {
                all.extend(bodies(&taken));
                ch.commit(&mut taken);
            }
            let want: Vec<String> = (3_000..10_000).map(|i| format!("line {i}")).collect();
            assert_eq!(all, want, "{backend}");
            // Everything taken: only the segment being written is left.
            let wait = std::time::Instant::now();
            loop {
                let left: usize = cfg
                    .data_dirs
                    .iter()
                    .map(|d| segment::list(d).unwrap().len())
                    .sum();
                if left <= 2 || wait.elapsed() > Duration::from_secs(5) {
                    let known: Vec<(u64, usize)> = lock(&ch.inner.segments)
                        .iter()
                        .map(|(i, s)| (*i, s.live))
                        .collect();
                    assert!(
                        left <= 2,
                        "{backend}: {left} segments left; known {known:?}, writing {}",
                        ch.writer.writing_segment()
                    );
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }

    /// A power loss, simulated: each segment keeps what was synced when the last put was
    /// acknowledged, followed by what a disk may hold of writes that were not synced (the start
    /// of a record, cut anywhere). Every acknowledged put comes back, nothing else does.
    #[test]
    fn a_power_loss_keeps_every_acknowledged_put() {
        for round in 0..20usize {
            let root = tempfile::tempdir().unwrap();
            let cfg = config(root.path(), 32 * 1024);
            let acks = AckQueue::new();
            let (log_id, durable) = {
                let ch = FileChannel::open("c1", &cfg, Arc::default(), Backend::Epoll).unwrap();
                for i in 0..100 {
                    ch.try_put(lines(i * 10, 10).with_ack(Ack::new(Arc::clone(&acks), i)))
                        .unwrap();
                }
                wait_ready(&ch, 1_000);
                // Where each segment's durable records end.
                let mut durable: BTreeMap<u64, u64> = BTreeMap::new();
                for e in lock(&ch.inner.ready).iter().map(|r| r.entry) {
                    let end = e.offset + (HEADER_LEN as u64) + u64::from(e.len);
                    let d = durable.entry(e.segment).or_default();
                    *d = (*d).max(end);
                }
                (ch.inner.log_id, durable)
            };
            let mut acked = 0;
            acks.drain(|_| acked += 1);
            assert_eq!(acked, 100);
            for (&index, &end) in &durable {
                let path = segment_path(&cfg.data_dirs, index);
                let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
                f.set_len(end).unwrap();
            }
            // The newest segment gets the start of an unsynced record, cut short.
            let (&last, &end) = durable.last_key_value().unwrap();
            let mut torn = Vec::new();
            record::encode(&mut torn, log_id, RecordKind::Put, 10_000, &vec![b'x'; 300]);
            // Cut somewhere in the header or the payload, differently each round.
            torn.truncate(1 + (round * 7919 + 13) % (torn.len() - 1));
            let path = segment_path(&cfg.data_dirs, last);
            let mut bytes = std::fs::read(&path).unwrap();
            assert_eq!(bytes.len() as u64, end);
            bytes.extend_from_slice(&torn);
            std::fs::write(&path, &bytes).unwrap();

            let ch = FileChannel::open("c1", &cfg, Arc::default(), Backend::Epoll).unwrap();
            assert_eq!(ch.size(), 1_000, "round {round}");
            // The torn bytes were cut off before the new segment was started.
            assert_eq!(
                std::fs::metadata(&path).unwrap().len(),
                end,
                "round {round}"
            );
            let mut taken = Vec::new();
            let mut all = Vec::new();
            while ch.take(100, &mut taken) > 0 {
                all.extend(bodies(&taken));
                ch.commit(&mut taken);
            }
            let want: Vec<String> = (0..1_000).map(|i| format!("line {i}")).collect();
            assert_eq!(all, want, "round {round}");
        }
    }

    #[test]
    fn a_damaged_record_is_skipped_and_counted_at_the_next_start() {
        let root = tempfile::tempdir().unwrap();
        let mut cfg = config(root.path(), 1 << 20);
        // No checkpoint: the start reads the whole log. (With one, the damage is found when
        // the record is taken: the next test.)
        cfg.checkpoint_on_close = false;
        let middle = {
            let ch = FileChannel::open("c1", &cfg, Arc::default(), Backend::Epoll).unwrap();
            for i in 0..3 {
                ch.try_put(lines(i * 10, 10)).unwrap();
            }
            wait_ready(&ch, 30);
            let e = lock(&ch.inner.ready)[1].entry;
            e
        };
        let path = segment_path(&cfg.data_dirs, middle.segment);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[(middle.offset as usize) + HEADER_LEN + 5] ^= 0x20;
        std::fs::write(&path, bytes).unwrap();
        let counters: Arc<ChannelCounters> = Arc::default();
        let ch = FileChannel::open("c1", &cfg, Arc::clone(&counters), Backend::Epoll).unwrap();
        assert_eq!(counters.record_skipped.get(), 1);
        assert_eq!(ch.size(), 20);
        let mut taken = Vec::new();
        ch.take(100, &mut taken);
        let got = bodies(&taken);
        assert_eq!(got.first().map(String::as_str), Some("line 0"));
        assert_eq!(got.last().map(String::as_str), Some("line 29"));
    }

    /// Queued put records: sequence number, events.
    type Queue = Vec<(u64, u32)>;

    /// What a start queues from the whole log, and what it queues from the checkpoint and
    /// the log after it (they must be the same), and the log bytes the second read.
    fn queues(cfg: &FileChannelConfig) -> (Queue, Queue, u64) {
        let whole = survey(&cfg.data_dirs).unwrap();
        let cp = Checkpoint::read(&cfg.checkpoint_dir)
            .unwrap()
            .expect("a checkpoint");
        let part = survey_from(&cfg.data_dirs, Some(&cp)).unwrap();
        (
            whole.queue().collect(),
            part.queue().collect(),
            part.bytes_read(),
        )
    }

    #[test]
    fn a_start_after_a_stop_reads_no_log_and_queues_the_same() {
        let root = tempfile::tempdir().unwrap();
        let cfg = config(root.path(), 64 << 10);
        {
            let ch = FileChannel::open("c1", &cfg, Arc::default(), Backend::Epoll).unwrap();
            for i in 0..400 {
                ch.try_put(lines(i * 10, 10)).unwrap();
            }
            wait_ready(&ch, 4_000);
            let mut taken = Vec::new();
            ch.take(1_500, &mut taken);
            ch.commit(&mut taken);
            ch.take(500, &mut taken); // taken, not committed: queued again
        }
        let (whole, part, read) = queues(&cfg);
        assert_eq!(whole, part);
        assert_eq!(whole.iter().map(|q| q.1 as u64).sum::<u64>(), 2_500);
        assert_eq!(read, 0, "the checkpoint covers the whole log");
        let ch = FileChannel::open("c1", &cfg, Arc::default(), Backend::Epoll).unwrap();
        assert_eq!(ch.size(), 2_500);
        let mut taken = Vec::new();
        ch.take(10, &mut taken);
        assert_eq!(bodies(&taken)[0], "line 1500");
    }

    #[test]
    fn a_checkpoint_and_the_log_after_it_queue_what_the_whole_log_does() {
        // Random puts, commits and rollbacks with checkpoints between them, then a stop that
        // writes none (as a crash would): whatever the checkpoint missed is in the log after
        // it. Small segments, so that some are deleted while the checkpoint names them.
        for seed in 1..=12u64 {
            let root = tempfile::tempdir().unwrap();
            let mut cfg = config(root.path(), 8 << 10);
            cfg.checkpoint_on_close = false;
            let mut state = seed;
            let mut rand = |n: u64| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state % n
            };
            let mut put = 0;
            {
                let ch = FileChannel::open("c1", &cfg, Arc::default(), Backend::Epoll).unwrap();
                let mut checkpoints = 0;
                for _ in 0..200 {
                    match rand(6) {
                        0..=2 => {
                            let n = 1 + rand(50);
                            ch.try_put(lines(put, n)).unwrap();
                            put += n;
                        }
                        3 => {
                            let mut taken = Vec::new();
                            ch.take(1 + rand(200) as usize, &mut taken);
                            if rand(4) == 0 {
                                ch.rollback(&mut taken);
                            } else {
                                ch.commit(&mut taken);
                            }
                        }
                        4 => std::thread::sleep(Duration::from_millis(rand(3))),
                        _ => {
                            wait_ready(&ch, 0);
                            ch.inner.checkpoint();
                            checkpoints += 1;
                        }
                    }
                }
                assert!(checkpoints > 0, "seed {seed}");
            }
            let (whole, part, _) = queues(&cfg);
            assert_eq!(whole, part, "seed {seed}");
        }
    }

    #[test]
    fn puts_whose_segment_was_deleted_before_their_take_record_was_written_stay_taken() {
        // A segment is deleted once its puts are committed, before their take record is on
        // disk. A crash then leaves a checkpoint naming puts that the log no longer holds.
        let root = tempfile::tempdir().unwrap();
        let mut cfg = config(root.path(), 8 << 10);
        cfg.checkpoint_on_close = false;
        {
            let ch = FileChannel::open("c1", &cfg, Arc::default(), Backend::Epoll).unwrap();
            for i in 0..100 {
                ch.try_put(lines(i * 20, 20)).unwrap();
                wait_ready(&ch, 20 * (i as usize + 1));
            }
            ch.inner.checkpoint();
            let before = segments_on_disk(&cfg);
            ch.writer.fail_writes(u32::MAX); // the take records never reach the disk
            let mut taken = Vec::new();
            ch.take(1_000, &mut taken);
            ch.commit(&mut taken);
            assert!(segments_on_disk(&cfg) < before, "segments were deleted");
        }
        let (whole, part, _) = queues(&cfg);
        assert_eq!(whole, part);
        let queued = whole.iter().map(|q| q.1).sum::<u32>();
        assert!(
            queued > 0 && queued < 2_000,
            "only what the kept segments hold is queued again: {queued}"
        );
    }

    fn segments_on_disk(cfg: &FileChannelConfig) -> usize {
        cfg.data_dirs
            .iter()
            .filter_map(|d| segment::list(d).ok())
            .map(|l| l.len())
            .sum()
    }

    #[test]
    fn a_damaged_checkpoint_falls_back_to_its_backup_then_to_the_whole_log() {
        let root = tempfile::tempdir().unwrap();
        let mut cfg = config(root.path(), 1 << 20);
        cfg.backup_checkpoint_dir = Some(root.path().join("backup"));
        {
            let ch = FileChannel::open("c1", &cfg, Arc::default(), Backend::Epoll).unwrap();
            for i in 0..10 {
                ch.try_put(lines(i * 10, 10)).unwrap();
            }
            wait_ready(&ch, 100);
        }
        let dirs = [cfg.checkpoint_dir.clone(), root.path().join("backup")];
        let written = read_checkpoint("c1", &dirs).expect("a checkpoint");
        assert_eq!(written.events(), 100);
        std::fs::write(
            cfg.checkpoint_dir.join(super::super::checkpoint::FILE),
            b"junk",
        )
        .unwrap();
        assert_eq!(read_checkpoint("c1", &dirs), Some(written));
        std::fs::write(dirs[1].join(super::super::checkpoint::FILE), b"junk").unwrap();
        assert_eq!(read_checkpoint("c1", &dirs), None);
        let ch = FileChannel::open("c1", &cfg, Arc::default(), Backend::Epoll).unwrap();
        assert_eq!(ch.size(), 100, "the whole log read instead");
    }

    #[test]
    fn a_checkpoint_that_cannot_be_written_loses_nothing() {
        let root = tempfile::tempdir().unwrap();
        let cfg = config(root.path(), 1 << 20);
        // The temporary file's name is taken by a directory: every write fails.
        std::fs::create_dir_all(cfg.checkpoint_dir.join("spate-checkpoint.tmp")).unwrap();
        {
            let ch = FileChannel::open("c1", &cfg, Arc::default(), Backend::Epoll).unwrap();
            ch.try_put(lines(0, 10)).unwrap();
            wait_ready(&ch, 10);
            ch.inner.checkpoint();
            // Written on the checkpoint thread, which fails and leaves it to the next interval.
            let start = Instant::now();
            while !lock(&ch.inner.durable).changed {
                assert!(
                    start.elapsed() < Duration::from_secs(10),
                    "never tried again"
                );
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        assert_eq!(Checkpoint::read(&cfg.checkpoint_dir).unwrap(), None);
        let ch = FileChannel::open("c1", &cfg, Arc::default(), Backend::Epoll).unwrap();
        assert_eq!(ch.size(), 10, "the whole log read instead");
    }

    #[test]
    fn a_checkpoint_that_does_not_fit_the_log_is_not_used() {
        let root = tempfile::tempdir().unwrap();
        let cfg = config(root.path(), 1 << 20);
        {
            let ch = FileChannel::open("c1", &cfg, Arc::default(), Backend::Epoll).unwrap();
            ch.try_put(lines(0, 10)).unwrap();
            wait_ready(&ch, 10);
        }
        let mut cp = Checkpoint::read(&cfg.checkpoint_dir).unwrap().unwrap();
        let good = cp.clone();
        cp.log_id ^= 1;
        let err = survey_from(&cfg.data_dirs, Some(&cp)).unwrap_err();
        assert!(err.to_string().contains("belongs to log"), "{err}");
        cp = good;
        cp.position.offset += 1 << 20;
        let err = survey_from(&cfg.data_dirs, Some(&cp)).unwrap_err();
        assert!(err.to_string().contains("which holds"), "{err}");
        cp.write(&cfg.checkpoint_dir).unwrap();
        let ch = FileChannel::open("c1", &cfg, Arc::default(), Backend::Epoll).unwrap();
        assert_eq!(ch.size(), 10, "the whole log read instead");
    }

    #[test]
    fn a_record_damaged_on_disk_is_skipped_and_counted_when_read_back_at_a_take() {
        let root = tempfile::tempdir().unwrap();
        let counters: Arc<ChannelCounters> = Arc::default();
        let mut ch = FileChannel::open(
            "c1",
            &config(root.path(), 1 << 20),
            Arc::clone(&counters),
            Backend::Epoll,
        )
        .unwrap();
        ch.cache_limit = 0;
        for i in 0..3 {
            ch.try_put(lines(i * 10, 10)).unwrap();
        }
        wait_ready(&ch, 30);
        let middle = lock(&ch.inner.ready)[1].entry;
        let path = segment_path(&ch.inner.data_dirs, middle.segment);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[(middle.offset as usize) + HEADER_LEN + 5] ^= 0x20;
        std::fs::write(&path, bytes).unwrap();
        let mut taken = Vec::new();
        assert_eq!(ch.take(30, &mut taken), 20);
        let got = bodies(&taken);
        assert_eq!(got[9], "line 9");
        assert_eq!(
            got[10], "line 20",
            "the damaged batch is skipped, the next one kept"
        );
        assert_eq!(counters.record_skipped.get(), 1);
        ch.commit(&mut taken);
        assert_eq!(
            ch.size(),
            0,
            "nothing left to take, the skipped batch included"
        );
    }

    #[test]
    fn rollback_gives_the_batches_back_first() {
        let root = tempfile::tempdir().unwrap();
        let ch = FileChannel::open(
            "c1",
            &config(root.path(), 1 << 20),
            Arc::default(),
            Backend::Epoll,
        )
        .unwrap();
        for i in 0..3 {
            ch.try_put(lines(i * 2, 2)).unwrap();
        }
        wait_ready(&ch, 6);
        let mut taken = Vec::new();
        ch.take(4, &mut taken);
        ch.rollback(&mut taken);
        ch.take(6, &mut taken);
        assert_eq!(
            bodies(&taken),
            ["line 0", "line 1", "line 2", "line 3", "line 4", "line 5"]
        );
    }

    #[test]
    fn a_second_agent_and_flume_directories_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let cfg = config(root.path(), 1 << 20);
        let _first = FileChannel::open("c1", &cfg, Arc::default(), Backend::Epoll).unwrap();
        let e = FileChannel::open("c1", &cfg, Arc::default(), Backend::Epoll).unwrap_err();
        assert!(
            e.to_string().contains("in use by another spate agent"),
            "{e}"
        );
        let flume = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(flume.path().join("cp")).unwrap();
        std::fs::write(flume.path().join("cp/checkpoint"), b"").unwrap();
        let e = FileChannel::open(
            "c1",
            &config(flume.path(), 1 << 20),
            Arc::default(),
            Backend::Epoll,
        )
        .unwrap_err();
        assert!(e.to_string().contains("Apache Flume"), "{e}");
    }
}
