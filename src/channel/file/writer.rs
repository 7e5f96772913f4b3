//! The file channel's log writer: one thread of its own (`spate-fc-<channel>`) that frames the
//! payloads handed to it into records, appends them to the current segment and makes them
//! durable with one `fdatasync` for everything that arrived meanwhile (group commit). Only
//! then does it report them, in order, to its [`Synced`] callback: the channel acknowledges a
//! put there, never before its bytes are on disk.
//!
//! Failures never lose or misreport a submission:
//! - a failed write (`ENOSPC`, `EIO`) leaves the segment's length where it was; the writer
//!   keeps the submissions, reports the failure (puts are refused meanwhile) and tries again
//!   after a pause, writing over the failed bytes;
//! - a failed `fdatasync` may have dropped the written pages and marked them clean (Linux
//!   does), so syncing again could succeed without them: the writer never retries the sync on
//!   the same pages. It leaves that segment (the records before the failed sync were synced and
//!   stay) and writes the unsynced submissions again into a new segment;
//! - a new segment is synced, and so is its directory, before any record in it counts.

use std::collections::VecDeque;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::sync::Notify;
use tracing::{error, info, warn};

use super::record::{self, RecordKind, HEADER_LEN};
use super::segment;
use crate::runtime::io::AppendFile;
use crate::runtime::{self, Backend};

/// How often the writer gives free heap memory back ([`Log::trim_heap`]).
const TRIM_EVERY: Duration = Duration::from_millis(100);

/// A payload to log, and what the channel wants back with it once it is durable.
#[derive(Debug)]
pub struct Submission<T> {
    /// What the record is.
    pub kind: RecordKind,
    /// The record's payload, in parts written one after the other (an encoded batch's
    /// description and its bodies, not copied; or taken sequence numbers).
    pub parts: Vec<Bytes>,
    /// The payload's length.
    pub len: usize,
    /// Its CRC32C, computed by the submitter (off the writer's thread).
    pub payload_crc: u32,
    /// Handed back once the record is durable.
    pub token: T,
}

impl<T> Submission<T> {
    /// A submission of a record of `kind` whose payload is `parts`, one after the other, its
    /// checksum computed now.
    pub fn new(kind: RecordKind, parts: Vec<Bytes>, token: T) -> Self {
        let payload_crc = parts.iter().fold(0, |crc, p| crc32c::crc32c_append(crc, p));
        Submission {
            kind,
            len: parts.iter().map(Bytes::len).sum(),
            payload_crc,
            parts,
            token,
        }
    }
}

/// Where a durable record lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// Its segment's index.
    pub segment: u64,
    /// Its header's offset in the segment.
    pub offset: u64,
    /// Its sequence number.
    pub seq: u64,
    /// Its payload's length.
    pub len: u32,
}

/// Called on the writer's thread with every submission made durable by one sync, in
/// submission order.
pub type Synced<T> = Box<dyn FnMut(Vec<(T, Placement)>) + Send>;

/// The writer's state, as submitters see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Writing.
    Ok,
    /// The last write or sync failed; the submissions are kept and tried again.
    Failing(String),
}

/// What the writer is given at start.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// The channel's name (for the thread's name and the log).
    pub name: String,
    /// Where segments go, in turn.
    pub data_dirs: Vec<PathBuf>,
    /// The log's identity.
    pub log_id: u32,
    /// The first segment index to create.
    pub next_segment: u64,
    /// The first sequence number to give.
    pub next_seq: u64,
    /// A segment's size before the next one starts.
    pub max_file_size: u64,
    /// Free bytes a data directory must keep (`minimumRequiredSpace`): below, writes wait.
    pub min_free: u64,
    /// The I/O backend of the writer's thread.
    pub backend: Backend,
}

/// Figures of the writer, for tests, benchmarks and monitoring.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WriterStats {
    /// Records made durable.
    pub records: u64,
    /// `fdatasync` calls that succeeded.
    pub syncs: u64,
    /// Segments created.
    pub segments: u64,
    /// Writes or syncs that failed.
    pub failures: u64,
}

#[derive(Debug)]
struct Queue<T> {
    pending: VecDeque<Submission<T>>,
    /// Payload bytes of `pending`.
    pending_bytes: usize,
    health: Health,
    stats: WriterStats,
    stopping: bool,
    /// The segment being written (0 before the first).
    segment: u64,
}

#[derive(Debug)]
struct Shared<T> {
    queue: Mutex<Queue<T>>,
    wake: Notify,
    /// Syncs still to fail, as if the disk had failed them (tests only).
    #[cfg(test)]
    fail_syncs: std::sync::atomic::AtomicU32,
    /// Writes still to fail halfway, as a disk filling up or failing would (tests only).
    #[cfg(test)]
    fail_writes: std::sync::atomic::AtomicU32,
}

/// Takes one injected failure from `counter`, if any is left (tests only).
#[cfg(test)]
fn injected(counter: &std::sync::atomic::AtomicU32) -> bool {
    counter
        .fetch_update(
            std::sync::atomic::Ordering::Relaxed,
            std::sync::atomic::Ordering::Relaxed,
            |n| n.checked_sub(1),
        )
        .is_ok()
}

/// The handle submitters hold.
#[derive(Debug)]
pub struct Writer<T> {
    shared: Arc<Shared<T>>,
    thread: Option<JoinHandle<()>>,
}

/// How long the writer waits before trying a failed write again.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

impl<T: Send + 'static> Writer<T> {
    /// Starts the writer's thread.
    pub fn start(config: WriterConfig, synced: Synced<T>) -> io::Result<Writer<T>> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                pending: VecDeque::new(),
                pending_bytes: 0,
                health: Health::Ok,
                stats: WriterStats::default(),
                stopping: false,
                segment: 0,
            }),
            wake: Notify::new(),
            #[cfg(test)]
            fail_syncs: std::sync::atomic::AtomicU32::new(0),
            #[cfg(test)]
            fail_writes: std::sync::atomic::AtomicU32::new(0),
        });
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("spate-fc-{}", config.name))
            .spawn(move || {
                let backend = config.backend;
                let name = config.name.clone();
                let run = Log::new(config, thread_shared, synced).run();
                if let Err(e) = runtime::block_on(backend, run) {
                    error!(channel = %name, "file channel writer could not start its runtime: {e}");
                }
            })?;
        Ok(Writer {
            shared,
            thread: Some(thread),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue<T>> {
        self.shared.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands `submission` to the writer. Never blocks on I/O.
    pub fn submit(&self, submission: Submission<T>) {
        let mut q = self.lock();
        q.pending_bytes += submission.len;
        q.pending.push_back(submission);
        drop(q);
        self.shared.wake.notify_one();
    }

    /// Payload bytes submitted and not yet durable.
    pub fn pending_bytes(&self) -> usize {
        self.lock().pending_bytes
    }

    /// Makes the next `n` writes fail halfway (tests only).
    #[cfg(test)]
    pub(crate) fn fail_writes(&self, n: u32) {
        self.shared
            .fail_writes
            .store(n, std::sync::atomic::Ordering::Relaxed);
    }

    /// Makes the next `n` syncs fail as a failing disk's would (tests only).
    #[cfg(test)]
    pub(crate) fn fail_syncs(&self, n: u32) {
        self.shared
            .fail_syncs
            .store(n, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether the last write succeeded.
    pub fn health(&self) -> Health {
        self.lock().health.clone()
    }

    /// Submissions not yet durable.
    pub fn pending(&self) -> usize {
        self.lock().pending.len()
    }

    /// The segment being written: older ones are sealed (0 before the first).
    pub fn writing_segment(&self) -> u64 {
        self.lock().segment
    }

    /// The writer's figures so far.
    pub fn stats(&self) -> WriterStats {
        self.lock().stats
    }

    /// Writes what was submitted, then ends the thread. Submissions that cannot be written
    /// (the disk keeps failing) are dropped unacknowledged after one more try.
    pub fn stop(mut self) -> WriterStats {
        self.finish();
        self.stats()
    }
}

impl<T> Writer<T> {
    /// Writes what was submitted, then ends the thread (once; later calls do nothing).
    pub fn finish(&mut self) {
        if let Some(t) = self.thread.take() {
            self.shared
                .queue
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .stopping = true;
            self.shared.wake.notify_one();
            let _ = t.join();
        }
    }
}

impl<T> Drop for Writer<T> {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The writer thread's state.
struct Log<T> {
    config: WriterConfig,
    shared: Arc<Shared<T>>,
    synced: Synced<T>,
    /// The segment being appended to, and its index.
    current: Option<(u64, AppendFile)>,
    /// When the allocator last gave free memory back ([`Log::trim_heap`]).
    heap_trimmed: std::time::Instant,
    next_segment: u64,
    next_seq: u64,
}

impl<T> Log<T> {
    fn new(config: WriterConfig, shared: Arc<Shared<T>>, synced: Synced<T>) -> Self {
        Log {
            next_segment: config.next_segment,
            next_seq: config.next_seq,
            config,
            shared,
            synced,
            current: None,
            heap_trimmed: std::time::Instant::now(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue<T>> {
        self.shared.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn run(mut self) {
        loop {
            // Everything submitted so far is one group: one write, one sync.
            let (batch, stopping) = {
                let mut q = self.lock();
                q.pending_bytes = 0;
                (std::mem::take(&mut q.pending), q.stopping)
            };
            if batch.is_empty() {
                if stopping {
                    break;
                }
                self.shared.wake.notified().await;
                continue;
            }
            match self.write_group(&batch).await {
                Ok(placements) => {
                    {
                        let mut q = self.lock();
                        q.health = Health::Ok;
                        q.stats.records += placements.len() as u64;
                        q.stats.syncs += 1;
                    }
                    let done = batch
                        .into_iter()
                        .zip(placements)
                        .map(|(s, p)| (s.token, p))
                        .collect();
                    (self.synced)(done);
                    self.trim_heap();
                }
                Err(e) => {
                    let stop_now = {
                        let mut q = self.lock();
                        q.stats.failures += 1;
                        let first = q.health == Health::Ok;
                        q.health = Health::Failing(e.to_string());
                        // Kept, in order, ahead of what arrived meanwhile.
                        q.pending_bytes += batch.iter().map(|s| s.len).sum::<usize>();
                        let later = std::mem::replace(&mut q.pending, batch);
                        q.pending.extend(later);
                        if first {
                            warn!(
                                channel = %self.config.name,
                                "file channel write failed: {e}; puts are refused, and what \
                                 was put is kept and written again every {RETRY_PAUSE:?}"
                            );
                        }
                        q.stopping
                    };
                    if stop_now {
                        let left = self.lock().pending.len();
                        error!(
                            channel = %self.config.name,
                            batches = left,
                            "stopping with puts that could not be written; they were never \
                             acknowledged, so their sources still hold them"
                        );
                        break;
                    }
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
            }
        }
        self.trim_current();
    }

    /// Gives the allocator's free memory back to the kernel, at most every [`TRIM_EVERY`].
    ///
    /// The buffers of a backlog's batches are allocated by the sources' workers and freed here
    /// or by sinks; with glibc's allocator the freed pages stayed resident (a 400 MB backlog:
    /// 98 MiB resident for a heap that peaked at 19 MB, heaptrack), up to 250 MiB by the end of
    /// a 1 GB one. `malloc_trim` returns the free pages inside the heaps too; it runs on this
    /// thread, which otherwise waits for the disk.
    fn trim_heap(&mut self) {
        if self.heap_trimmed.elapsed() < TRIM_EVERY {
            return;
        }
        self.heap_trimmed = std::time::Instant::now();
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: malloc_trim only releases free memory; it locks the arenas itself.
        unsafe {
            libc::malloc_trim(0);
        }
    }

    /// Cuts the current segment to its records (direct writes leave zeros past them), so that
    /// a segment the writer is done with ends at its last record.
    fn trim_current(&self) {
        if let Some((index, file)) = &self.current {
            if let Err(e) = file.trim() {
                // Harmless: a replay takes zeros at the end for what they are.
                warn!(channel = %self.config.name, segment = index, "cannot trim a segment: {e}");
            }
        }
    }

    /// Frames `batch` into records, appends them and syncs; returns where each lies.
    async fn write_group(&mut self, batch: &VecDeque<Submission<T>>) -> io::Result<Vec<Placement>> {
        let size: u64 = batch.iter().map(|s| (HEADER_LEN + s.len) as u64).sum();
        let fits = self.current.as_ref().is_some_and(|(_, f)| {
            // A group larger than a segment goes alone into a fresh one.
            f.len() + size <= self.config.max_file_size || f.len() <= segment::HEADER_LEN as u64
        });
        if !fits {
            self.roll().await?;
        }
        self.check_space()?;
        let (segment, file) = self.current.as_mut().expect("rolled above");
        let segment = *segment;
        let mut offset = file.len();
        let mut seq = self.next_seq;
        let mut placements = Vec::with_capacity(batch.len());
        // The headers side by side in one buffer, the payloads as they were handed over: one
        // vectored write, no copy of a payload.
        let mut headers = BytesMut::with_capacity(HEADER_LEN * batch.len());
        for s in batch {
            let len = s.len as u32;
            headers.extend_from_slice(&record::header(
                self.config.log_id,
                s.kind,
                seq,
                len,
                s.payload_crc,
            ));
            placements.push(Placement {
                segment,
                offset,
                seq,
                len,
            });
            offset += (HEADER_LEN + s.len) as u64;
            seq += 1;
        }
        let mut headers = headers.freeze();
        let mut bufs = Vec::with_capacity(batch.len() * 3);
        for s in batch {
            bufs.push(headers.split_to(HEADER_LEN));
            bufs.extend(s.parts.iter().filter(|p| !p.is_empty()).cloned());
        }
        #[cfg(test)]
        if injected(&self.shared.fail_writes) {
            // Half the group reaches the file, then the write fails: the length stays, and the
            // next try writes over those bytes.
            let half = bufs.len() / 2;
            let len = file.len();
            let _ = file.append_all(bufs[..half].to_vec()).await;
            file.forget_past(len);
            return Err(io::Error::from_raw_os_error(libc::EIO));
        }
        file.append_all(bufs).await?;
        let synced = file.sync_data().await;
        #[cfg(test)]
        let synced = synced.and_then(|()| {
            if injected(&self.shared.fail_syncs) {
                Err(io::Error::from_raw_os_error(libc::EIO))
            } else {
                Ok(())
            }
        });
        if let Err(e) = synced {
            // The pages may be gone and marked clean: never sync them again as if written.
            // What this segment held before is synced; the group goes into a new one.
            warn!(
                channel = %self.config.name,
                segment,
                "fdatasync failed: {e}; leaving this segment and writing the group again in a \
                 new one"
            );
            self.current = None;
            return Err(e);
        }
        self.next_seq = seq;
        Ok(placements)
    }

    /// Fails while the current segment's directory has less free space than
    /// `minimumRequiredSpace` (the group is kept and tried again).
    fn check_space(&self) -> io::Result<()> {
        let Some((index, _)) = &self.current else {
            return Ok(());
        };
        let dirs = &self.config.data_dirs;
        let dir = &dirs[(*index as usize) % dirs.len()];
        let free = free_space(dir)?;
        if free < self.config.min_free {
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                format!(
                    "{} has {free} bytes free, below minimumRequiredSpace {}",
                    dir.display(),
                    self.config.min_free
                ),
            ));
        }
        Ok(())
    }

    /// Starts the next segment: created, its header written and synced, its directory synced.
    async fn roll(&mut self) -> io::Result<()> {
        self.trim_current();
        let index = self.next_segment;
        let dirs = &self.config.data_dirs;
        let dir = &dirs[(index as usize) % dirs.len()];
        let path = dir.join(segment::file_name(index));
        let mut file = match AppendFile::create(&path, self.config.backend) {
            Ok(f) => f,
            // A segment left by a failed roll (its header never synced): start it again.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                AppendFile::open_at(&path, 0, self.config.backend)?
            }
            Err(e) => return Err(e),
        };
        file.append_all(vec![Bytes::copy_from_slice(&segment::header(
            self.config.log_id,
        ))])
        .await?;
        file.sync_data().await?;
        std::fs::File::open(dir)?.sync_all()?;
        self.next_segment += 1;
        self.current = Some((index, file));
        let mut q = self.lock();
        q.stats.segments += 1;
        q.segment = index;
        drop(q);
        info!(channel = %self.config.name, segment = %path.display(), "new log segment");
        Ok(())
    }
}

/// Bytes available to an unprivileged writer in the file system of `dir`.
pub fn free_space(dir: &std::path::Path) -> io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c` is a NUL-terminated path and `st` points to writable memory the size of
    // `struct statvfs`.
    if unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: statvfs returned 0, so it filled the whole struct.
    let st = unsafe { st.assume_init() };
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;
    use crate::runtime::test_backends as backends;

    fn config(dir: &std::path::Path, backend: Backend, max: u64) -> WriterConfig {
        WriterConfig {
            name: "c1".into(),
            data_dirs: vec![dir.to_owned()],
            log_id: 77,
            next_segment: 1,
            next_seq: 1,
            max_file_size: max,
            min_free: 0,
            backend,
        }
    }

    /// A writer whose acknowledgements (token and placement) arrive on the receiver, in order.
    fn acked_writer(
        dir: &std::path::Path,
        backend: Backend,
        max: u64,
    ) -> (Writer<u32>, mpsc::Receiver<(u32, Placement)>) {
        let (tx, rx) = mpsc::channel();
        let writer = Writer::start(
            config(dir, backend, max),
            Box::new(move |done: Vec<(u32, Placement)>| {
                for d in done {
                    tx.send(d).unwrap();
                }
            }),
        )
        .unwrap();
        (writer, rx)
    }

    /// The next acknowledgement's token, within 10 s.
    fn next_ack(rx: &mpsc::Receiver<(u32, Placement)>) -> u32 {
        rx.recv_timeout(Duration::from_secs(10))
            .expect("acknowledged")
            .0
    }

    /// Every record of the segments in `dir`, as (segment, seq, payload).
    fn read_back(dir: &std::path::Path) -> Vec<(u64, u64, Vec<u8>)> {
        let mut out = Vec::new();
        for (index, path) in segment::list(dir).unwrap() {
            let m = segment::map(&path).unwrap();
            assert_eq!(m.log_id, 77);
            assert_eq!(m.torn_tail(), 0);
            assert_eq!(m.scan.skipped().count(), 0);
            for r in m.scan.records() {
                out.push((index, r.seq, m.bytes()[r.payload.clone()].to_vec()));
            }
        }
        out
    }

    #[test]
    fn concurrent_submissions_share_syncs_and_read_back_in_order() {
        for backend in backends() {
            let dir = tempfile::tempdir().unwrap();
            let (tx, rx) = mpsc::channel();
            let writer = Arc::new(
                Writer::start(
                    config(dir.path(), backend, 1 << 30),
                    Box::new(move |done: Vec<(u64, Placement)>| {
                        for d in done {
                            tx.send(d).unwrap();
                        }
                    }),
                )
                .unwrap(),
            );
            let threads: Vec<_> = (0..4u64)
                .map(|t| {
                    let writer = Arc::clone(&writer);
                    std::thread::spawn(move || {
                        for i in 0..500u64 {
                            let id = t * 1000 + i;
                            writer.submit(Submission::new(
                                RecordKind::Put,
                                vec![Bytes::copy_from_slice(&id.to_le_bytes())],
                                id,
                            ));
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            let acked: Vec<(u64, Placement)> = (0..2000).map(|_| rx.recv().unwrap()).collect();
            let stats = Arc::into_inner(writer).unwrap().stop();
            assert_eq!(stats.records, 2000, "{backend}");
            assert!(
                stats.syncs < 2000,
                "{backend}: group commit shares syncs: {stats:?}"
            );
            // Acknowledged in log order, each where the log holds it.
            let seqs: Vec<u64> = acked.iter().map(|(_, p)| p.seq).collect();
            assert_eq!(seqs, (1..=2000).collect::<Vec<_>>(), "{backend}");
            let logged = read_back(dir.path());
            assert_eq!(logged.len(), 2000, "{backend}");
            for ((id, p), (segment, seq, payload)) in acked.iter().zip(&logged) {
                assert_eq!((p.segment, p.seq), (*segment, *seq));
                assert_eq!(payload, &id.to_le_bytes());
            }
            // Per submitter, in submission order.
            for t in 0..4u64 {
                let mine: Vec<u64> = acked
                    .iter()
                    .map(|(id, _)| *id)
                    .filter(|id| id / 1000 == t)
                    .collect();
                assert!(mine.windows(2).all(|w| w[0] < w[1]), "{backend}");
            }
        }
    }

    /// A small tmpfs mounted for a test, unmounted when dropped; `None` where mounting is not
    /// allowed (not root).
    struct SmallDisk(tempfile::TempDir);

    impl SmallDisk {
        fn mount(bytes: u64) -> Option<SmallDisk> {
            let dir = tempfile::tempdir().unwrap();
            let ok = std::process::Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
                .arg(dir.path())
                .status()
                .is_ok_and(|s| s.success());
            ok.then_some(SmallDisk(dir))
        }
    }

    impl Drop for SmallDisk {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount")
                .arg(self.0.path())
                .status();
        }
    }

    #[test]
    fn a_full_disk_keeps_puts_unacknowledged_until_space_returns() {
        let Some(disk) = SmallDisk::mount(1 << 20) else {
            eprintln!("skipped: cannot mount a tmpfs here (needs root)");
            return;
        };
        for backend in backends() {
            let dir = disk.0.path().join(format!("{backend}"));
            std::fs::create_dir(&dir).unwrap();
            let filler = disk.0.path().join("filler");
            std::fs::write(&filler, vec![0u8; 900 * 1024]).unwrap();
            let (writer, rx) = acked_writer(&dir, backend, 1 << 30);
            for i in 0..50u32 {
                writer.submit(Submission::new(
                    RecordKind::Put,
                    vec![Bytes::from(vec![i as u8; 4096])],
                    i,
                ));
            }
            // 200 KiB do not fit in the 124 KiB left: nothing is acknowledged.
            let waited = std::time::Instant::now();
            while writer.health() == Health::Ok && waited.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(10));
            }
            let Health::Failing(why) = writer.health() else {
                panic!("{backend}: no failure on a full disk");
            };
            assert!(why.contains("No space left"), "{backend}: {why}");
            let acked_while_full: Vec<u32> = rx.try_iter().map(|(id, _)| id).collect();
            assert!(writer.pending() > 0, "{backend}");
            // Space returns: everything is written, once, and acknowledged.
            std::fs::remove_file(&filler).unwrap();
            let mut acked = acked_while_full;
            while acked.len() < 50 {
                acked.push(next_ack(&rx));
            }
            let stats = writer.stop();
            assert!(stats.failures >= 1, "{backend}: {stats:?}");
            assert_eq!(acked, (0..50).collect::<Vec<_>>(), "{backend}");
            let logged = read_back(&dir);
            assert_eq!(logged.len(), 50, "{backend}: each record once");
            for (i, (_, _, payload)) in logged.iter().enumerate() {
                assert_eq!(payload, &vec![i as u8; 4096]);
            }
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    #[test]
    fn a_failed_sync_writes_the_group_again_in_a_new_segment() {
        for backend in backends() {
            let dir = tempfile::tempdir().unwrap();
            let (writer, rx) = acked_writer(dir.path(), backend, 1 << 30);
            writer.submit(Submission::new(
                RecordKind::Put,
                vec![Bytes::from_static(b"zero")],
                0,
            ));
            let (_, first) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
            writer.fail_syncs(2);
            for i in 1..10u32 {
                writer.submit(Submission::new(
                    RecordKind::Put,
                    vec![Bytes::from(format!("record {i}"))],
                    i,
                ));
            }
            let acked: Vec<(u32, Placement)> = (1..10)
                .map(|_| {
                    rx.recv_timeout(Duration::from_secs(10))
                        .expect("acknowledged")
                })
                .collect();
            let stats = writer.stop();
            assert_eq!(stats.failures, 2, "{backend}: {stats:?}");
            assert_eq!(
                acked.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
                (1..10).collect::<Vec<_>>()
            );
            // Never acknowledged in the segment whose sync failed: each failure left one.
            assert!(
                acked.iter().all(|(_, p)| p.segment > first.segment + 1),
                "{backend}"
            );
            assert!(stats.segments >= 3, "{backend}: {stats:?}");
            // Every record reads back; one written again keeps its sequence number.
            let logged = read_back(dir.path());
            let mut by_seq: std::collections::BTreeMap<u64, Vec<u8>> = Default::default();
            for (_, seq, payload) in logged {
                if let Some(before) = by_seq.insert(seq, payload.clone()) {
                    assert_eq!(before, payload, "{backend}: one seq, two payloads");
                }
            }
            assert_eq!(by_seq.len(), 10, "{backend}");
            assert_eq!(by_seq[&first.seq], b"zero");
            for (i, p) in &acked {
                assert_eq!(by_seq[&p.seq], format!("record {i}").into_bytes());
            }
        }
    }

    #[test]
    fn a_failed_write_is_written_again_over_its_bytes() {
        for backend in backends() {
            let dir = tempfile::tempdir().unwrap();
            let (writer, rx) = acked_writer(dir.path(), backend, 1 << 30);
            writer.submit(Submission::new(
                RecordKind::Put,
                vec![Bytes::from_static(b"zero")],
                0,
            ));
            next_ack(&rx);
            writer.fail_writes(2);
            for i in 1..20u32 {
                writer.submit(Submission::new(
                    RecordKind::Put,
                    vec![Bytes::from(format!("record {i}"))],
                    i,
                ));
            }
            let acked: Vec<u32> = (1..20).map(|_| next_ack(&rx)).collect();
            let stats = writer.stop();
            assert_eq!(stats.failures, 2, "{backend}: {stats:?}");
            assert_eq!(acked, (1..20).collect::<Vec<_>>(), "{backend}");
            // The failed halves were written over: one segment, every record once, no damage
            // (`read_back` checks that nothing is skipped or torn).
            let logged = read_back(dir.path());
            assert_eq!(stats.segments, 1, "{backend}");
            let payloads: Vec<Vec<u8>> = logged.into_iter().map(|(_, _, p)| p).collect();
            let mut want = vec![b"zero".to_vec()];
            want.extend((1..20).map(|i| format!("record {i}").into_bytes()));
            assert_eq!(payloads, want, "{backend}");
        }
    }

    #[test]
    fn segments_roll_at_max_file_size() {
        for backend in backends() {
            let dir = tempfile::tempdir().unwrap();
            let (tx, rx) = mpsc::channel();
            let writer = Writer::start(
                config(dir.path(), backend, 64 * 1024),
                Box::new(move |done: Vec<(u32, Placement)>| {
                    tx.send(done.len()).unwrap();
                }),
            )
            .unwrap();
            let mut acked = 0;
            for i in 0..100u32 {
                // One at a time: each its own group, so segments fill record by record.
                writer.submit(Submission::new(
                    RecordKind::Put,
                    vec![
                        Bytes::from(vec![i as u8; 2000]),
                        Bytes::from(vec![i as u8; 2000]),
                    ],
                    i,
                ));
                acked += rx.recv().unwrap();
            }
            let stats = writer.stop();
            assert_eq!(acked, 100);
            let logged = read_back(dir.path());
            assert_eq!(logged.len(), 100, "{backend}");
            assert!(stats.segments >= 6, "{backend}: {stats:?}");
            for (index, path) in segment::list(dir.path()).unwrap() {
                let len = std::fs::metadata(&path).unwrap().len();
                assert!(
                    len <= 64 * 1024,
                    "{backend}: segment {index} is {len} bytes"
                );
            }
            let seqs: Vec<u64> = logged.iter().map(|(_, s, _)| *s).collect();
            assert_eq!(seqs, (1..=100).collect::<Vec<_>>());
        }
    }
}
