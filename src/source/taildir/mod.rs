//! Flume's `TAILDIR` source: tails the files of several file groups, survives rotation and
//! restarts, and records in a Flume-format position file how far each file was delivered.
//!
//! The source is split by concern, after Fluent Bit's tail input:
//!
//! * [`scan`]: which files of a group exist (directory listing, name pattern, `stat`);
//! * [`watch`]: when to look again (inotify, or stat polling where inotify is unavailable);
//! * [`file`]: one open file, its offsets and partial line;
//! * [`lines`]: cutting read buffers into batches of whole lines;
//! * [`position`]: the position file and its sidecar;
//! * [`config`]: the source's keys, defaults and `spate check` description;
//! * [`copies`]: recognising copies of tailed files (copytruncate).
//!
//! This module ties them together in one task per source. The task owns all its state; sinks
//! reach it only through the lock-free ack queue.
//!
//! # Delivery
//!
//! Each batch carries an ack. The position of a file advances to the end of a batch only when
//! that batch and every batch read before it were committed by a sink in every channel, so the
//! position file never runs ahead of what was delivered. After a crash, reading resumes at the
//! recorded positions: nothing still in the files is lost, and at most what was in flight is sent
//! twice.
//!
//! # Rotation
//!
//! Files are keyed by device and inode. A file renamed within its group keeps its state; one
//! renamed out of the group or deleted stays open and is read to its end, then closed once idle
//! (`idleTimeout`) with nothing in flight. A file shorter than the read offset was truncated in
//! place (copytruncate) and is read again from offset 0. At start, an inode found in the position
//! file whose first bytes no longer match the recorded fingerprint was reused by a new file and is
//! read from the start; a recorded file with undelivered bytes that was renamed out of its group
//! while spate was stopped is found by inode and read to its end.
//!
//! A file idle for `idleTimeout` is closed (parked) with its position kept, and reopened there
//! when it grows.
//!
//! A file found while running (or at start without a recorded position) whose first bytes are
//! those of a file the source knows is a copy of it (copytruncate with the copy in the file
//! group): it is read only from where the original had been read to (see [`copies`]).

pub mod config;
pub mod copies;
pub mod file;
pub mod lines;
pub mod position;
pub mod scan;
pub mod watch;

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{debug, info, warn};

pub use self::config::{
    parse, FileGroup, LineOverflow, Shards, TaildirConfig, WatchMode, DEFAULT_WRITE_POS_INTERVAL_MS,
};

use self::copies::{Content, CopyCheck, Head, Likeness, Recent, Resume, Tail};
use self::file::{FileId, Fill, TailedFile};
use self::lines::{Framed, LineFramer};
use self::position::{
    Fingerprint, Identity, Loaded, Persister, Position, PositionError, PositionLock,
    PositionWriter, Snapshot,
};
use self::scan::{Found, Matcher};
use self::watch::Watcher;
use crate::ack::{Ack, AckQueue, Tracker};
use crate::component::{Finish, SourceContext, SourceSpec, StartError, Started};
use crate::event::{Batch, Headers};
use crate::lifecycle::{Control, Phase, Report};
use crate::metrics::{FileFigure, FileFigures, SourceCounters};
use crate::runtime::io::ReadFile;
use crate::runtime::{Backend, TaskFactory};
use crate::source::Output;

/// Turns taken between two looks at the watcher's news (and two yields to the worker's other
/// tasks).
const TURNS_PER_LOOK: usize = 8;

/// Reads of one file before the source turns to the next ready file.
const READS_PER_TURN: usize = 4;

/// How often open files are checked against `idleTimeout` (more often if it is shorter).
const IDLE_SWEEP: Duration = Duration::from_secs(1);

/// Most reads issued together, one per ready file, before the turns begin (io_uring only).
const READ_AHEAD_FILES: usize = 64;

/// A TAILDIR source that could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TaildirError {
    /// The position file is unreadable.
    #[error(transparent)]
    Position(#[from] PositionError),
    /// The thread that writes the position file could not be started.
    #[error("cannot start the position file writer: {0}")]
    Persister(std::io::Error),
    /// A file group's name pattern is not a valid regular expression.
    #[error("file group `{group}`: invalid file name pattern: {source}")]
    Pattern {
        /// The group.
        group: String,
        /// The regex error.
        source: regex::Error,
    },
}

/// A TAILDIR source, or one shard of it, ready to run: everything that can fail at start has
/// been checked. It is `Send`; the running state is built on the worker.
///
/// A source spread over several workers (`shards`) runs one `Taildir` per worker. Each lists
/// and watches every file group, but opens only the files whose device and inode fall to it
/// ([`FileId::shard`]), so every file is read by exactly one shard, with its own read order,
/// acks and offsets. The shards share the channels, the counters and the position file, which
/// one writer thread assembles from all of them.
#[derive(Debug)]
pub struct Taildir {
    name: String,
    config: TaildirConfig,
    matchers: Vec<Matcher>,
    loaded: Arc<Loaded>,
    output: Output,
    counters: Arc<SourceCounters>,
    /// Where the files read are published for monitoring.
    files: Arc<FileFigures>,
    /// This shard's index, and how many there are.
    shard: usize,
    shards: usize,
    /// Moved into the running state by [`Taildir::run`].
    persister: Option<Persister>,
}

impl SourceSpec for TaildirConfig {
    fn batch_size(&self) -> usize {
        self.batch_size
    }

    fn shards(&self, workers: usize) -> usize {
        self.shards.resolve(workers)
    }

    fn exclusive(&self) -> Vec<(&'static str, PathBuf)> {
        vec![("positionFile", self.position_file.clone())]
    }

    fn start(&self, ctx: SourceContext<'_>) -> Result<Started, StartError> {
        if !self.inert_keys.is_empty() {
            info!(
                source = %ctx.name,
                keys = ?self.inert_keys,
                "set, and kept for Flume compatibility, but without effect: spate is woken by \
                 inotify (or watcher = poll) instead of sleeping and matching file names again"
            );
        }
        for group in &self.filegroups {
            if !group.dir.is_dir() {
                warn!(
                    source = %ctx.name,
                    group = %group.name,
                    dir = %group.dir.display(),
                    "the file group's directory does not exist (yet): nothing is read from it \
                     until it appears; it is looked for every pollInterval"
                );
            }
        }
        let (shards, writer) =
            Taildir::new(ctx.name, self, ctx.output, &ctx.counters).map_err(StartError::new)?;
        let shards: Vec<Taildir> = shards
            .into_iter()
            .map(|t| Taildir {
                files: Arc::clone(&ctx.files),
                ..t
            })
            .collect();
        let backend = ctx.backend;
        let tasks = shards
            .into_iter()
            .map(|taildir| {
                let control = ctx.lifecycle.control();
                let task: TaskFactory = Box::new(move || Box::pin(taildir.run(backend, control)));
                task
            })
            .collect();
        Ok(Started {
            tasks,
            finish: Some(Box::new(writer)),
        })
    }
}

impl Finish for PositionWriter {
    fn finish(self: Box<Self>) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.join().map_err(|e| Box::new(e) as _)
    }
}

/// A file closed for idleness, read and delivered up to `pos`.
#[derive(Debug, Clone)]
struct Parked {
    path: PathBuf,
    /// The file group its path matched.
    group: usize,
    pos: u64,
    /// Its first bytes, and its last bytes read, which end at `tail_end` (a partial last line
    /// may follow `pos`): to recognise a copy of it.
    head: Head,
    tail: Tail,
    tail_end: u64,
}

impl Parked {
    /// Where a copy of it is read from.
    fn resume(&self) -> Resume {
        Resume {
            end: self.pos,
            tail: self.tail,
            tail_end: self.tail_end,
        }
    }
}

/// One batch in flight.
#[derive(Debug, Clone, Copy)]
struct InFlight {
    slot: usize,
    serial: u64,
    generation: u32,
    end: u64,
    events: u32,
}

impl Taildir {
    /// Prepares the source `name` as one shard per set of `counters` (at least one): compiles
    /// the patterns, locks and loads the position file. Shard `i` of the result is to run on its own worker;
    /// the [`PositionWriter`] holds the lock until its last write, and says whether that write
    /// reached the disk.
    pub fn new(
        name: &str,
        config: &TaildirConfig,
        output: Output,
        counters: &[Arc<SourceCounters>],
    ) -> Result<(Vec<Self>, PositionWriter), TaildirError> {
        let one: [Arc<SourceCounters>; 1];
        let counters = if counters.is_empty() {
            one = [Arc::default()];
            &one[..]
        } else {
            counters
        };
        let shards = counters.len();
        let matchers = config
            .filegroups
            .iter()
            .enumerate()
            .map(|(i, g)| {
                Matcher::new(i, g).map_err(|source| TaildirError::Pattern {
                    group: g.name.clone(),
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let lock = PositionLock::acquire(&config.position_file)?;
        let loaded = Arc::new(position::load(&config.position_file)?);
        let (persisters, writer) = Persister::spawn(
            config.position_file.clone(),
            name,
            Arc::clone(&counters[0]),
            shards,
            lock,
        )
        .map_err(TaildirError::Persister)?;
        let shards = persisters
            .into_iter()
            .enumerate()
            .map(|(shard, persister)| Taildir {
                name: name.to_owned(),
                config: config.clone(),
                matchers: matchers.clone(),
                loaded: Arc::clone(&loaded),
                output: output.with_counters(Arc::clone(&counters[shard])),
                counters: Arc::clone(&counters[shard]),
                files: Arc::default(),
                shard,
                shards,
                persister: Some(persister),
            })
            .collect();
        Ok((shards, writer))
    }

    /// Whether this shard reads the file `id`.
    fn owns(&self, id: FileId) -> bool {
        id.shard(self.shards) == self.shard
    }

    /// Runs the source on the current worker until the agent's lifecycle ends it.
    pub async fn run(mut self, backend: Backend, control: Control) {
        let persister = self.persister.take();
        let mut dirs: Vec<PathBuf> = self.matchers.iter().map(|m| m.dir().to_owned()).collect();
        dirs.sort();
        dirs.dedup();
        let framer = LineFramer {
            batch_size: self.config.batch_size.max(1),
            max_line_length: self.config.max_line_length.max(1),
            overflow: self.config.line_overflow,
        };
        let mut state = State {
            watcher: Watcher::new(backend, dirs, self.config.watcher == WatchMode::Poll),
            framer,
            backend,
            acks: AckQueue::new(),
            tracker: Tracker::default(),
            files: Vec::new(),
            free: Vec::new(),
            by_id: HashMap::new(),
            by_path: HashMap::new(),
            parked: HashMap::new(),
            parked_paths: HashMap::new(),
            ready: VecDeque::new(),
            unreadable: HashSet::new(),
            copies: Recent::default(),
            overlong_unreported: 0,
            overlong_warned_at: None,
            next_serial: 0,
            positions_dirty: true,
            next_positions: Instant::now(),
            first_delivered: false,
            caught_up: false,
            delivered_events: 0,
            persister,
            src: self,
            control,
        };
        state.run().await;
    }
}

struct State {
    src: Taildir,
    control: Control,
    watcher: Watcher,
    framer: LineFramer,
    backend: Backend,
    acks: Arc<AckQueue>,
    tracker: Tracker<InFlight>,
    /// Slot table of open files; `free` lists empty slots.
    files: Vec<Option<TailedFile>>,
    free: Vec<usize>,
    by_id: HashMap<FileId, usize>,
    /// Current path -> slot, for inotify events, which name files by path.
    by_path: HashMap<PathBuf, usize>,
    /// Files closed after `idleTimeout` without news, by identity: reopened where they were
    /// left when they grow. Their positions stay in the position file meanwhile.
    parked: HashMap<FileId, Parked>,
    /// The paths of parked files, for inotify events.
    parked_paths: HashMap<PathBuf, FileId>,
    /// Files with data to read, in turn order.
    ready: VecDeque<usize>,
    /// Matching entries that the last scan could not look at (symlink loops, ...), warned once.
    unreadable: HashSet<PathBuf>,
    /// Contents of files truncated or closed lately, to recognise copies of them by.
    copies: Recent,
    /// Lines over `maxLineLength` not yet reported, and when they last were.
    overlong_unreported: u64,
    overlong_warned_at: Option<Instant>,
    next_serial: u64,
    positions_dirty: bool,
    /// When the position file may be written next: `writePosInterval` after the last write,
    /// or at once when the first delivery comes in.
    next_positions: Instant,
    /// Whether any batch has been delivered since the start.
    first_delivered: bool,
    /// Whether, since the start, everything read was delivered at some point with nothing
    /// left to read: the backlog of the start is caught up.
    caught_up: bool,
    /// Events delivered since the start (for what a lost position write would resend).
    delivered_events: u64,
    /// Writes the position file off this worker; taken by the final write.
    persister: Option<Persister>,
}

/// Why a read turn ended.
enum Turn {
    /// The file is read to its end (or failed).
    Done,
    /// The turn's budget is spent; more may be there.
    More,
    /// The agent is stopping.
    Stop,
}

impl State {
    async fn run(&mut self) {
        let cfg = self.src.config.clone();
        self.scan(true);
        let mut next_poll = Instant::now() + cfg.poll_interval;
        let mut next_idle_sweep = Instant::now() + IDLE_SWEEP.min(cfg.idle_timeout);
        // The last pass stopped with turns still queued, to take the watcher's news.
        let mut turns_due = false;
        // Status requests (SIGUSR1), watched apart from the phase.
        let mut status = self.control.clone();
        let mut next_scan = Instant::now();
        'reading: loop {
            if self.control.phase() >= Phase::StopReading {
                break;
            }
            self.release_acks();
            if status.take_status_request() {
                self.log_status();
            }
            let now = Instant::now();
            self.write_positions_if_due(now);
            // Between turns, the directories are listed again at most once a poll interval:
            // rotation creates files all the time, and a listing and a look at every file per
            // eight turns cost more than they bring. Appends are taken at once.
            let changes = if turns_due && now < next_scan {
                self.watcher.take_modified()
            } else {
                self.watcher.take()
            };
            let polling = self.watcher.is_polling();
            // An append to a parked file: the scan reopens it.
            let wakes_parked = !self.parked_paths.is_empty()
                && changes
                    .modified
                    .iter()
                    .any(|p| self.parked_paths.contains_key(p));
            if changes.rescan || wakes_parked || (polling && now >= next_poll) {
                self.watcher.ensure_watches();
                self.scan(false);
                next_poll = now + cfg.poll_interval;
                next_scan = now + cfg.poll_interval;
            } else {
                for path in &changes.modified {
                    if let Some(slot) = self.slot_by_path(path) {
                        self.enqueue(slot);
                    }
                }
                // Files renamed out of their group get no events by their old name: they are
                // looked at on each wake-up, not between turns, where every look at one read
                // to its end would be a turn, and a few of them would keep the queue full.
                if !turns_due {
                    for slot in 0..self.files.len() {
                        if self.files[slot].as_ref().is_some_and(|f| !f.matched) {
                            self.enqueue(slot);
                        }
                    }
                }
            }

            self.read_ahead().await;
            let mut turns = 0usize;
            while let Some(slot) = self.ready.pop_front() {
                if let Some(f) = self.files[slot].as_mut() {
                    f.queued = false;
                }
                match self.read_turn(slot).await {
                    Turn::Done => {}
                    Turn::More => self.enqueue(slot),
                    Turn::Stop => break 'reading,
                }
                turns += 1;
                // A file that keeps growing keeps this loop busy: positions must still be
                // written on time, or a crash resends everything since the loop began.
                self.release_acks();
                self.write_positions_if_due(Instant::now());
                if turns == TURNS_PER_LOOK {
                    // Let the other tasks of this worker run, then take the watcher's news
                    // (appends to files not queued, new files, rescans) before more turns: a
                    // backlog that keeps the queue full must not hold them back.
                    tokio::task::yield_now().await;
                    break;
                }
            }
            // A sweep costs a look at every open file: at most once a second, not per wake-up.
            if Instant::now() >= next_idle_sweep {
                self.close_idle_files();
                self.enqueue_copies();
                if self.src.files.wanted() {
                    self.publish_files();
                }
                next_idle_sweep = Instant::now() + IDLE_SWEEP.min(cfg.idle_timeout);
            }

            turns_due = !self.ready.is_empty();
            if turns_due {
                continue; // no waiting
            }
            // Positions (see `write_positions_if_due`): changed ones are due at the next write
            // time; with batches in flight and a write allowed now, the next ack is waited for,
            // else the write time, to wait for it then.
            let mut wake = Instant::now() + Duration::from_secs(3600);
            let may_write =
                !self.first_delivered || !self.caught_up || Instant::now() >= self.next_positions;
            let await_ack = self.tracker.in_flight() > 0 && may_write;
            if self.positions_dirty || (self.tracker.in_flight() > 0 && !may_write) {
                wake = wake.min(self.next_positions);
            }
            if !self.by_id.is_empty() {
                wake = wake.min(next_idle_sweep);
            }
            if self.watcher.is_polling() {
                wake = wake.min(next_poll);
            }
            if self.files.iter().flatten().any(|f| !f.matched) {
                // Rotated files get no events: look at them on the poll interval.
                wake = wake.min(Instant::now() + cfg.poll_interval);
            }
            let acks = Arc::clone(&self.acks);
            tokio::select! {
                _ = self.watcher.changed() => {}
                _ = tokio::time::sleep_until(wake.into()) => {}
                _ = acks.arrival(), if await_ack => {}
                _ = status.status_requested() => self.log_status(),
                _ = self.control.reached(Phase::StopReading) => {}
            }
        }

        debug!(source = %self.src.name, "stopped reading");
        self.control
            .report(Report::SourceStopped(self.src.name.clone()));
        // Sinks drain now; keep recording what they deliver until the agent finishes.
        let mut control = self.control.clone();
        loop {
            tokio::select! {
                _ = control.reached(Phase::Finish) => break,
                _ = tokio::time::sleep_until((Instant::now() + Duration::from_millis(50)).into()) => {}
            }
            self.release_acks();
            self.write_positions_if_due(Instant::now());
        }
        self.release_acks();
        let written = match self.persister.take() {
            Some(p) => p.finish(self.snapshot()),
            None => false,
        };
        // The files close with the task: the gauge outlives it (a reload keeps the counters).
        let open = self.files.iter().flatten().count() as u64;
        self.src.counters.open_connection.sub(open);
        if written {
            info!(
                source = %self.src.name,
                in_flight = self.tracker.in_flight(),
                "final positions written"
            );
        } else {
            // The agent says why, and what it costs, once the writer has ended.
            warn!(source = %self.src.name, "final positions NOT written");
        }
    }

    /// Reads one file for one turn, putting what it reads: at most `READS_PER_TURN` reads and
    /// `maxBatchCount` batches, so one busy file cannot starve the others. What is buffered is
    /// cut and put before anything more is read, which keeps the buffer bounded by one read plus
    /// one partial line.
    async fn read_turn(&mut self, slot: usize) -> Turn {
        if self.files[slot].as_ref().is_some_and(|f| f.copy.is_some()) && !self.check_copy(slot) {
            return Turn::Done;
        }
        let read_size = self.src.config.read_buffer_size.max(4096);
        let max_batches = self.src.config.max_batch_count.unwrap_or(u64::MAX);
        let mut batches = 0u64;
        let mut reads = 0;
        loop {
            loop {
                let Some(file) = self.files[slot].as_mut() else {
                    return Turn::Done;
                };
                let (batch, len) =
                    match self
                        .framer
                        .next_batch(&mut file.buf, &mut file.frame, &self.src.counters)
                    {
                        Framed::Batch { batch, len } => {
                            // Only a piece of an over-long line is cut as an `Ends` batch.
                            if matches!(batch.layout(), crate::event::Layout::Ends(_)) {
                                self.overlong_unreported += 1;
                            }
                            (batch, len)
                        }
                        Framed::Skipped(n) => {
                            file.buf_pos += n as u64;
                            continue;
                        }
                        Framed::NeedMore => {
                            file.wants_read = true;
                            break;
                        }
                    };
                let start = file.buf_pos;
                file.buf_pos += len as u64;
                file.in_flight += 1;
                // How many acks the batch waits for is known once it is put: the selector
                // decides, and interceptors may drop it.
                let token = self.tracker.push_unknown(InFlight {
                    slot,
                    serial: file.serial,
                    generation: file.generation,
                    end: file.buf_pos,
                    events: batch.len() as u32,
                });
                let mut batch = batch
                    .with_headers(file.headers.clone())
                    .with_ack(Ack::new(self.acks.clone(), token));
                if self.src.config.byte_offset_header {
                    batch = with_byte_offsets(batch, start);
                }
                let output = &self.src.output;
                tokio::select! {
                    biased;
                    copies = output.put(batch) => self.tracker.expect(token, copies),
                    _ = self.control.reached(Phase::StopReading) => return Turn::Stop,
                }
                // A put that never waits (the channel has room) must not hide the stop.
                if self.control.phase() >= Phase::StopReading {
                    return Turn::Stop;
                }
                batches += 1;
                if self.overlong_unreported > 0 {
                    self.report_overlong(slot);
                }
                if batches >= max_batches {
                    return Turn::More;
                }
            }
            if reads == READS_PER_TURN {
                return Turn::More;
            }
            reads += 1;
            let Some(file) = self.files[slot].as_mut() else {
                return Turn::Done;
            };
            let filled = match file.read_ahead.take() {
                Some(early) => early,
                None => file.fill(read_size).await,
            };
            match filled {
                Ok(Fill::Data(_)) => {}
                Ok(Fill::Eof) => return Turn::Done,
                Ok(Fill::Truncated) => {
                    info!(file = %file.path.display(), "file was truncated; reading it again from the start");
                    self.positions_dirty = true;
                    if let Some(old) = file.old_content.take() {
                        self.copies.push(old);
                        self.enqueue_copies();
                    }
                }
                Err(e) => {
                    self.src.counters.event_read_fail.add(1);
                    warn!(file = %file.path.display(), "read failed: {e}");
                    return Turn::Done;
                }
            }
        }
    }

    /// Settles, at its turn, whether a file that may be a copy (see [`copies`]) is one, and
    /// whether it may be read now (from where, when it is a copy).
    fn check_copy(&mut self, slot: usize) -> bool {
        let Some(file) = self.files[slot].as_ref() else {
            return false;
        };
        let check = file.copy.expect("called for possible copies");
        let (Ok(size), Ok(head)) = (file.size(), file.read_range(0, copies::HEAD_LEN)) else {
            // The read fails again at the turn, which says so.
            self.files[slot].as_mut().expect("checked").copy = None;
            return true;
        };
        if let CopyCheck::SkipTo(resume) = check {
            return self.skip_copy(slot, resume, size);
        }
        if head.is_empty() {
            return false; // nothing to tell by yet, nor to read
        }
        let dir = file.path.parent().unwrap_or(Path::new("")).to_path_buf();
        // The content of a file truncated or closed lately, or parked: read from where it was.
        let (content, mut maybe) = self.copies.find(&dir, &head);
        let mut resume = content.map(|c| c.resume);
        if resume.is_none() {
            // The first bytes first: they tell most files apart at once, where comparing
            // directories costs a walk over path components.
            for p in self.parked.values() {
                match copies::likeness(&head, p.head.as_slice()) {
                    Likeness::Unlike => {}
                    _ if p.path.parent() != Some(dir.as_path()) => {}
                    Likeness::Copy => {
                        resume = Some(p.resume());
                        break;
                    }
                    Likeness::Maybe => maybe = true,
                }
            }
        }
        if let Some(resume) = resume {
            let file = self.files[slot].as_mut().expect("checked");
            info!(
                file = %file.path.display(),
                from = resume.end,
                "a copy of a file read before (copytruncate): reading it from where that file was read to"
            );
            file.copy = Some(CopyCheck::SkipTo(resume));
            return self.skip_copy(slot, resume, size);
        }
        // An open file it is a copy of, which delivers the same lines itself.
        let file = self.files[slot].as_ref().expect("checked");
        let mut original = None;
        for other in self.files.iter().flatten() {
            if other.id == file.id || other.copy.is_some() {
                continue;
            }
            match copies::likeness(&head, other.head.as_slice()) {
                Likeness::Unlike => {}
                _ if other.path.parent() != Some(&dir) => {}
                Likeness::Copy if !differs(file, size, other) => {
                    original = Some(other.id);
                    break;
                }
                Likeness::Maybe => maybe = true,
                Likeness::Copy => {}
            }
        }
        let file = self.files[slot].as_mut().expect("checked");
        if let Some(id) = original {
            if file.copy != Some(CopyCheck::WaitsFor(id)) {
                debug!(file = %file.path.display(), "begins like an open file: read only once that file is truncated or closed, from where it was read to");
                file.copy = Some(CopyCheck::WaitsFor(id));
            }
            return false;
        }
        if maybe {
            // Its few bytes begin a known file: a copy being made grows at once.
            match check {
                CopyCheck::Unchecked { size: seen, since }
                    if seen == size && since.elapsed() >= copies::PATIENCE => {}
                CopyCheck::Unchecked { size: seen, .. } if seen == size => return false,
                _ => {
                    file.copy = Some(CopyCheck::Unchecked {
                        size,
                        since: Instant::now(),
                    });
                    return false;
                }
            }
        }
        if matches!(check, CopyCheck::WaitsFor(_)) {
            info!(file = %file.path.display(), "no copy of the file it began like: reading it from its start");
        }
        file.copy = None;
        true
    }

    /// A copy of a content whose lines were sent up to `resume.end`: read from there once it
    /// holds that much, and holds there the bytes read last from the content; until then it
    /// holds nothing that was not sent, and its offsets follow its size. One that differs
    /// there is no copy, and is read from its start.
    fn skip_copy(&mut self, slot: usize, resume: Resume, size: u64) -> bool {
        let file = self.files[slot].as_mut().expect("called for an open file");
        self.positions_dirty = true;
        if size < resume.end {
            if size > file.buf_pos {
                file.start_at(size);
            }
            return false;
        }
        let (at, expected) = resume.overlap(size);
        let same = expected.is_empty()
            || file
                .read_range(at, expected.len())
                .is_ok_and(|b| b == expected);
        file.copy = None;
        if same {
            file.start_at(resume.end);
        } else {
            info!(file = %file.path.display(), "no copy of the file it began like: reading it from its start");
            file.start_at(0);
        }
        true
    }

    /// Looks again at the files that may be copies (the file each waits for may have been
    /// truncated, closed or parked).
    fn enqueue_copies(&mut self) {
        for slot in 0..self.files.len() {
            if self.files[slot].as_ref().is_some_and(|f| f.copy.is_some()) {
                self.enqueue(slot);
            }
        }
    }

    /// Says, at most once a minute, that lines over `maxLineLength` were split or truncated, and
    /// in which file: the counters alone are seen only by those who look.
    fn report_overlong(&mut self, slot: usize) {
        const EVERY: Duration = Duration::from_secs(60);
        if self.overlong_warned_at.is_some_and(|t| t.elapsed() < EVERY) {
            return;
        }
        let cfg = &self.src.config;
        let what = match cfg.line_overflow {
            LineOverflow::Split => "split into events of at most that size (LinesSplitCount)",
            LineOverflow::Truncate => {
                "truncated to that size (LinesTruncatedCount, BytesTruncatedCount)"
            }
        };
        let file = self.files[slot]
            .as_ref()
            .map(|f| f.path.display().to_string());
        warn!(
            source = %self.src.name,
            file = file.as_deref().unwrap_or("?"),
            pieces = self.overlong_unreported,
            "lines longer than maxLineLength ({} bytes): {what}; said at most once a minute",
            cfg.max_line_length
        );
        self.overlong_unreported = 0;
        self.overlong_warned_at = Some(Instant::now());
    }

    /// Issues the first read of up to [`READ_AHEAD_FILES`] ready files at once, so that they
    /// reach the kernel in one submission instead of one ring round trip per file, as happens
    /// when one inotify wake-up reports appends to many files. Each file's turn then cuts what
    /// was read, and acts on a truncation or error found early ([`TailedFile::read_ahead`]).
    ///
    /// Only files whose buffer holds no whole line are read early, so a buffer never holds
    /// more than one read beyond a partial line. An end of file found early is not kept: the
    /// file may grow before its turn, and an event meanwhile would find it already queued.
    /// On epoll a read is a plain `pread` that completes at once: nothing to batch.
    async fn read_ahead(&mut self) {
        if self.backend != Backend::Uring {
            return;
        }
        let files = &mut self.files;
        let mut early: Vec<(usize, TailedFile)> = Vec::new();
        for &slot in self.ready.iter() {
            if early.len() == READ_AHEAD_FILES {
                break;
            }
            if files[slot]
                .as_ref()
                .is_some_and(|f| f.wants_read && f.read_ahead.is_none() && f.copy.is_none())
            {
                let file = files[slot].take().expect("checked");
                early.push((slot, file));
            }
        }
        if early.len() < 2 {
            // Nothing to batch: the turn reads as usual.
            for (slot, file) in early {
                files[slot] = Some(file);
            }
            return;
        }
        let read_size = self.src.config.read_buffer_size.max(4096);
        let results =
            futures_util::future::join_all(early.iter_mut().map(|(_, f)| f.fill(read_size))).await;
        let mut truncated = false;
        for ((slot, mut file), result) in early.into_iter().zip(results) {
            // New data is in the buffer already, for the turn to cut; only a truncation or an
            // error still needs the turn's handling.
            if matches!(result, Ok(Fill::Truncated) | Err(_)) {
                file.read_ahead = Some(result);
            }
            // A copy of the old content may have its turn before this file does.
            if let Some(old) = file.old_content.take() {
                self.copies.push(old);
                truncated = true;
            }
            self.files[slot] = Some(file);
        }
        if truncated {
            self.enqueue_copies();
        }
    }

    fn enqueue(&mut self, slot: usize) {
        if let Some(f) = self.files[slot].as_mut() {
            if !f.queued {
                f.queued = true;
                self.ready.push_back(slot);
            }
        }
    }

    fn slot_by_path(&self, path: &std::path::Path) -> Option<usize> {
        self.by_path.get(path).copied()
    }

    /// Advances delivered offsets with the acks that came back.
    fn release_acks(&mut self) {
        let tracker = &mut self.tracker;
        self.acks.drain(|token| tracker.ack(token));
        let files = &mut self.files;
        let mut moved = false;
        let mut events = 0u64;
        tracker.release(|done| {
            events += u64::from(done.events);
            if let Some(Some(f)) = files.get_mut(done.slot) {
                if f.serial == done.serial {
                    f.in_flight -= 1;
                    if f.generation == done.generation && done.end > f.delivered {
                        f.delivered = done.end;
                        moved = true;
                    }
                }
            }
        });
        self.positions_dirty |= moved;
        self.delivered_events += events;
        if events > 0 && !self.first_delivered {
            // The first delivery is recorded at once, and so is the end of the backlog the
            // start found: otherwise each run of a crash loop resends what the last one did and
            // all it delivered since, and the resent part grows with every crash.
            self.first_delivered = true;
            self.next_positions = Instant::now();
        }
        if events > 0 && !self.caught_up && self.tracker.in_flight() == 0 && self.ready.is_empty() {
            self.caught_up = true;
            self.next_positions = Instant::now();
        }
    }

    /// Lists the file groups, opens new files and notes renamed and vanished ones.
    fn scan(&mut self, at_start: bool) {
        let mut found: Vec<Found> = Vec::new();
        let mut unreadable = Vec::new();
        for m in &self.src.matchers {
            if let Err(e) = m.scan(&mut found, &mut unreadable) {
                self.src.counters.generic_processing_fail.add(1);
                warn!(dir = %m.dir().display(), "cannot list directory: {e}");
            }
        }
        // Named once while they stay broken; named again if they break again after a repair.
        let mut still = HashSet::with_capacity(unreadable.len());
        for (path, e) in unreadable {
            if !self.unreadable.contains(&path) {
                self.src.counters.generic_processing_fail.add(1);
                warn!(file = %path.display(), "skipped: cannot look at it ({e}); the group's other files are read");
            }
            still.insert(path);
        }
        self.unreadable = still;
        // Flume reads the least recently modified files first.
        found.sort_by_key(|f| f.stat.mtime);
        for f in self.files.iter_mut().flatten() {
            f.matched = false;
        }
        let mut seen: HashSet<FileId> = HashSet::new();
        for found in found {
            let id = FileId {
                dev: found.stat.dev,
                ino: found.stat.ino,
            };
            if !self.src.owns(id) {
                continue;
            }
            seen.insert(id);
            if let Some(parked) = self.parked.get_mut(&id) {
                if found.stat.size == parked.pos {
                    // Unchanged (perhaps renamed within its group): it stays closed.
                    if parked.path != found.path {
                        parked.path = found.path;
                        self.positions_dirty = true;
                    }
                    continue;
                }
                // It grew, or was truncated: `open` resumes it from where it was left.
            }
            let slot = match self.by_id.get(&id) {
                Some(&slot) => {
                    let f = self.files[slot]
                        .as_mut()
                        .expect("indexed slots are occupied");
                    f.matched = true;
                    if f.path != found.path {
                        debug!(from = %f.path.display(), to = %found.path.display(), "file renamed");
                        f.path = found.path;
                        self.positions_dirty = true;
                    }
                    slot
                }
                None => match self.open(&found, at_start) {
                    Some(slot) => slot,
                    None => continue,
                },
            };
            self.enqueue(slot);
        }
        if at_start {
            self.resume_rotated_away(&seen);
        }
        // Parked files the scan did not find were deleted or renamed out of their group. A
        // renamed one may still get the logger's last lines through the descriptor it holds:
        // it is reopened as a rotated-away file, read to its end and closed once idle. A
        // deleted one is forgotten. (One that was found but could not be reopened stays
        // parked, to be tried again.)
        let before = self.parked.len();
        let away: Vec<FileId> = self
            .parked
            .keys()
            .filter(|id| !seen.contains(id))
            .copied()
            .collect();
        for id in away {
            if let Some(found) = self.find_renamed(id) {
                if let Some(slot) = self.open(&found, false) {
                    let f = self.files[slot].as_mut().expect("just opened");
                    f.matched = false;
                    debug!(file = %found.path.display(), "idle file was renamed away; reading it to its end");
                    self.enqueue(slot);
                    continue;
                }
            }
            if let Some(p) = self.parked.remove(&id) {
                debug!(file = %p.path.display(), inode = id.ino, "idle file is gone");
            }
        }
        self.positions_dirty |= self.parked.len() != before;
        self.parked_paths = self
            .parked
            .iter()
            .map(|(&id, p)| (p.path.clone(), id))
            .collect();
        self.by_path = self
            .files
            .iter()
            .enumerate()
            .filter_map(|(slot, f)| f.as_ref().map(|f| (f.path.clone(), slot)))
            .collect();
        // Unmatched files may still have data (renamed away mid-write): read them too.
        for slot in 0..self.files.len() {
            if self.files[slot].as_ref().is_some_and(|f| !f.matched) {
                self.enqueue(slot);
            }
        }
    }

    /// Looks for parked file `id` under another name in its group's directory.
    fn find_renamed(&self, id: FileId) -> Option<Found> {
        let parked = self.parked.get(&id)?;
        let dir = self.src.matchers.get(parked.group)?.dir();
        let (path, stat) = find_inode(dir, id)?;
        Some(Found {
            path,
            stat,
            group: parked.group,
        })
    }

    /// At start: a file the position file records with undelivered data but that no longer
    /// matches its group was rotated away while spate was down (or stopped before reading it
    /// out). It is looked up by inode in its recorded directory and read to its end from the
    /// recorded position, as if spate had kept it open. Only with spate's sidecar, whose device
    /// and fingerprint prove it is the same file: an inode alone may have been reused by
    /// anything since, a compressed archive included.
    fn resume_rotated_away(&mut self, seen: &HashSet<FileId>) {
        let loaded = Arc::clone(&self.src.loaded);
        for (ino, recorded) in &loaded.positions {
            let Some(identity) = loaded.identities.get(ino) else {
                continue;
            };
            let id = FileId {
                dev: identity.dev,
                ino: *ino,
            };
            if seen.contains(&id) || self.by_id.contains_key(&id) || !self.src.owns(id) {
                continue;
            }
            let Some(dir) = Path::new(&recorded.file).parent() else {
                continue;
            };
            let Some(group) = self.src.matchers.iter().position(|m| m.dir() == dir) else {
                continue;
            };
            let Some((path, stat)) = find_inode(dir, id) else {
                continue;
            };
            if stat.size <= recorded.pos || !starts_with(&path, identity.fingerprint) {
                continue;
            }
            let found = Found { path, stat, group };
            if let Some(slot) = self.open(&found, true) {
                let f = self.files[slot].as_mut().expect("just opened");
                f.matched = false;
                info!(
                    file = %found.path.display(),
                    pos = f.buf_pos,
                    "reading the rest of a file rotated away while spate was stopped"
                );
                self.enqueue(slot);
            }
        }
    }

    /// Opens a newly found file; decides where to start reading.
    fn open(&mut self, found: &Found, at_start: bool) -> Option<usize> {
        let file = match ReadFile::open(&found.path, self.backend) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                self.src.counters.event_read_fail.add(1);
                warn!(file = %found.path.display(), "cannot open: {e}");
                return None;
            }
        };
        // Identity from the descriptor: the path may have been replaced since the scan.
        let stat = file.stat().ok()?;
        let id = FileId {
            dev: stat.dev,
            ino: stat.ino,
        };
        // The path may now name another shard's file, or one already open here.
        if !self.src.owns(id) || self.by_id.contains_key(&id) {
            return None;
        }
        let prefix = file.read_prefix(Fingerprint::MAX_LEN).ok()?;
        let (pos, new) = match self.parked.remove(&id) {
            Some(parked) => {
                let pos = resume_position(&parked, found, stat.size, &prefix);
                if pos < parked.pos {
                    // Truncated or replaced: a copy of what it held may show up.
                    self.copies.push(Content {
                        dir: found.path.parent().map(PathBuf::from).unwrap_or_default(),
                        head: parked.head,
                        resume: parked.resume(),
                    });
                }
                (pos, false)
            }
            None => (
                self.start_position(found, id, stat.size, &prefix, at_start),
                true,
            ),
        };
        let group = &self.src.config.filegroups[found.group];
        let mut headers: Headers = group.headers.iter().cloned().collect();
        if self.src.config.file_header {
            headers.insert(
                self.src.config.file_header_key.clone(),
                found.path.to_string_lossy().into_owned(),
            );
        }
        let serial = self.next_serial;
        self.next_serial += 1;
        let mut tailed = TailedFile::new(
            serial,
            id,
            found.path.clone(),
            file,
            pos,
            Head::of(&prefix),
            Arc::new(headers),
        );
        if new && pos == 0 {
            // Perhaps a copy of a file read already: settled at its first turn.
            tailed.copy = Some(CopyCheck::unchecked());
        }
        info!(
            file = %found.path.display(),
            inode = id.ino,
            pos,
            shard = self.src.shard,
            "tailing"
        );
        let slot = match self.free.pop() {
            Some(slot) => {
                self.files[slot] = Some(tailed);
                slot
            }
            None => {
                self.files.push(Some(tailed));
                self.files.len() - 1
            }
        };
        self.by_id.insert(id, slot);
        self.by_path.insert(found.path.clone(), slot);
        self.src.counters.open_connection.add(1);
        self.positions_dirty = true;
        Some(slot)
    }

    /// Where a newly opened file is read from: its recorded position when the position file
    /// knows the inode (and the fingerprint, when recorded, still matches), else the start, or
    /// the end with `skipToEnd` at start-up.
    fn start_position(
        &self,
        found: &Found,
        id: FileId,
        size: u64,
        prefix: &[u8],
        at_start: bool,
    ) -> u64 {
        let cfg = &self.src.config;
        let Some(recorded) = self.src.loaded.positions.get(&id.ino).filter(|_| at_start) else {
            return if at_start && cfg.skip_to_end { size } else { 0 };
        };
        if let Some(identity) = self.src.loaded.identities.get(&id.ino) {
            let same = identity.dev == id.dev && identity.fingerprint.matches(prefix);
            if !same {
                info!(
                    file = %found.path.display(),
                    inode = id.ino,
                    "inode was reused by a new file; reading it from the start"
                );
                return 0;
            }
        }
        if recorded.pos > size {
            info!(file = %found.path.display(), "file is shorter than its recorded position (truncated); reading from the start");
            return 0;
        }
        recorded.pos
    }

    /// Closes files that saw no new data for `idleTimeout`, were read to their end and have
    /// nothing in flight, as Flume does. A file that left its group (rotated away, deleted) is
    /// forgotten. One still in its group is parked: its descriptor is closed, its position kept
    /// (and recorded), and the next scan that finds it grown reopens it there; an append to it
    /// triggers that scan. A partial last line is dropped from memory and read again then.
    fn close_idle_files(&mut self) {
        let idle = self.src.config.idle_timeout;
        let now = Instant::now();
        for slot in 0..self.files.len() {
            // A deleted file is closed as soon as it is read and delivered: its descriptor is
            // all that keeps its disk space from being freed.
            // A file that may be a copy stays open until that is settled (it would be read
            // whole if reopened), unless it is deleted: its lines are the original's.
            let close = self.files[slot].as_ref().is_some_and(|f| match f.copy {
                None => {
                    (now.duration_since(f.last_data) >= idle || (!f.matched && f.deleted()))
                        && f.quiet()
                }
                Some(_) => !f.matched && f.in_flight == 0 && f.deleted(),
            });
            if !close {
                continue;
            }
            let f = self.files[slot].take().expect("checked");
            self.by_id.remove(&f.id);
            if self.by_path.get(&f.path) == Some(&slot) {
                self.by_path.remove(&f.path);
            }
            let group = self.src.matchers.iter().position(|m| m.matches(&f.path));
            if let Some(group) = group.filter(|_| f.matched) {
                debug!(file = %f.path.display(), pos = f.delivered, "closing idle file");
                let tail_end = f.read_pos();
                self.parked_paths.insert(f.path.clone(), f.id);
                self.parked.insert(
                    f.id,
                    Parked {
                        path: f.path,
                        group,
                        pos: f.delivered,
                        head: f.head,
                        tail: f.tail,
                        tail_end,
                    },
                );
            } else {
                info!(file = %f.path.display(), "closing rotated-away file, read to its end");
                self.copies.push(f.content());
            }
            self.src.counters.open_connection.sub(1);
            self.free.push(slot);
            self.positions_dirty = true;
        }
    }

    /// Hands the positions to the writer thread if they changed and a write is due: at most
    /// once per `writePosInterval`, and at once for the first delivery and when the backlog
    /// found at start is delivered (see `release_acks`). The recorded positions so lag delivery
    /// by at most about one interval, which bounds what a crash resends.
    fn write_positions_if_due(&mut self, now: Instant) {
        if !self.positions_dirty || now < self.next_positions {
            return;
        }
        if let Some(p) = &self.persister {
            p.submit(self.snapshot());
        }
        if self.src.files.wanted() {
            self.publish_files();
        }
        self.positions_dirty = false;
        self.next_positions = now + self.src.config.write_pos_interval;
    }

    /// Publishes every open and parked file's delivered offset, for monitoring (the reader
    /// looks at their sizes).
    fn publish_files(&self) {
        let open = self.files.iter().flatten().map(|f| FileFigure {
            path: f.path.clone(),
            ino: f.id.ino,
            size: f.read_pos(),
            delivered: f.delivered,
        });
        let parked = self.parked.iter().map(|(id, p)| FileFigure {
            path: p.path.clone(),
            ino: id.ino,
            size: p.pos,
            delivered: p.pos,
        });
        self.src
            .files
            .publish(self.src.shard, open.chain(parked).collect());
    }

    /// Logs every file's size, read and delivered offsets and lag (bytes not yet delivered), then
    /// a summary of the source (or shard): the operator's answer to "how far behind is it?".
    fn log_status(&self) {
        let mut lag_total = 0u64;
        for f in self.files.iter().flatten() {
            let size = f.size().unwrap_or(f.read_pos());
            let lag = size.saturating_sub(f.delivered);
            lag_total += lag;
            info!(
                source = %self.src.name,
                file = %f.path.display(),
                inode = f.id.ino,
                size,
                read = f.read_pos(),
                delivered = f.delivered,
                lag_bytes = lag,
                batches_in_flight = f.in_flight,
                rotated_away = !f.matched,
                "file status"
            );
        }
        for (id, p) in &self.parked {
            let size = crate::runtime::io::stat_path(&p.path).map_or(p.pos, |s| s.size);
            let lag = size.saturating_sub(p.pos);
            lag_total += lag;
            info!(
                source = %self.src.name,
                file = %p.path.display(),
                inode = id.ino,
                size,
                delivered = p.pos,
                lag_bytes = lag,
                "file status (idle, closed)"
            );
        }
        info!(
            source = %self.src.name,
            shard = self.src.shard,
            files_open = self.by_id.len(),
            files_idle = self.parked.len(),
            lag_bytes = lag_total,
            batches_in_flight = self.tracker.in_flight(),
            events_delivered = self.delivered_events,
            "source status"
        );
    }

    /// The delivered position and identity of every open or parked file.
    fn snapshot(&self) -> Snapshot {
        let open = self
            .files
            .iter()
            .flatten()
            .map(|f| (f.id, f.delivered, &f.path, f.fingerprint()));
        let parked = self
            .parked
            .iter()
            .map(|(&id, p)| (id, p.pos, &p.path, p.head.fingerprint()));
        let mut snapshot = Snapshot {
            delivered_events: self.delivered_events,
            ..Snapshot::default()
        };
        for (id, pos, path, fingerprint) in parked.chain(open) {
            snapshot.positions.push(Position {
                inode: id.ino,
                pos,
                file: path.to_string_lossy().into_owned(),
            });
            if let Some(fingerprint) = fingerprint {
                snapshot.identities.push(Identity {
                    inode: id.ino,
                    dev: id.dev,
                    fingerprint,
                });
            }
        }
        snapshot
    }
}

/// The file with inode `id` in `dir`, whatever its name, and its `stat`.
fn find_inode(dir: &Path, id: FileId) -> Option<(PathBuf, crate::runtime::io::FileStat)> {
    use std::os::unix::fs::DirEntryExt;
    let entry = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .find(|e| e.ino() == id.ino)?;
    let path = entry.path();
    let stat = crate::runtime::io::stat_path(&path).ok()?;
    (stat.dev == id.dev).then_some((path, stat))
}

/// Whether the file at `path` begins with the bytes `fingerprint` was taken of.
fn starts_with(path: &Path, fingerprint: Fingerprint) -> bool {
    use std::io::Read;
    let mut prefix = Vec::with_capacity(fingerprint.len as usize);
    std::fs::File::open(path)
        .and_then(|f| f.take(u64::from(fingerprint.len)).read_to_end(&mut prefix))
        .is_ok_and(|_| fingerprint.matches(&prefix))
}

/// Whether `copy` (of `size` bytes), which begins like the open file `original`, holds other
/// bytes than it where both were read: then it is no copy. The bytes are compared just before
/// the shorter end, and a difference counts only if `original` was not truncated meanwhile
/// (its turn will see that, and the copy waits for it).
fn differs(copy: &TailedFile, size: u64, original: &TailedFile) -> bool {
    let end = size.min(original.read_pos());
    let head = original.head.as_slice();
    let len = (Tail::LEN as u64).min(end.saturating_sub(head.len() as u64)) as usize;
    if len == 0 {
        return false;
    }
    let at = end - len as u64;
    let (Ok(a), Ok(b)) = (copy.read_range(at, len), original.read_range(at, len)) else {
        return false;
    };
    a != b
        && original.size().is_ok_and(|s| s >= original.read_pos())
        && original.read_range(0, head.len()).is_ok_and(|h| h == head)
}

/// Where a parked file reopens: where it was left, unless it was truncated (it is shorter) or
/// its inode now holds another file (its first bytes changed), which are read from the start.
fn resume_position(parked: &Parked, found: &Found, size: u64, prefix: &[u8]) -> u64 {
    let reused = parked
        .head
        .fingerprint()
        .is_some_and(|fp| !fp.matches(prefix));
    if reused || size < parked.pos {
        info!(
            file = %found.path.display(),
            "idle file was truncated or replaced; reading it from the start"
        );
        return 0;
    }
    debug!(file = %found.path.display(), pos = parked.pos, "reopening idle file");
    parked.pos
}

/// Adds Flume's `byteoffset` header to every event: the offset of its first byte in the file.
/// This allocates per event, which is why it is off unless `byteOffsetHeader = true`.
fn with_byte_offsets(batch: Batch, start: u64) -> Batch {
    let mut offset = start;
    let separator = u64::from(matches!(batch.layout(), crate::event::Layout::Lines));
    let headers: Vec<Headers> = batch
        .bodies()
        .map(|body| {
            let mut h = Headers::new();
            h.insert("byteoffset", offset.to_string());
            offset += body.len() as u64 + separator;
            h
        })
        .collect();
    batch.with_event_headers(headers.into())
}
