//! One tailed file: its identity, open descriptor, read offset and partial line.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use bytes::BytesMut;

use super::copies::{Content, CopyCheck, Head, Resume, Tail};
use super::lines::FrameState;
use super::position::Fingerprint;
use crate::event::Headers;
use crate::runtime::io::ReadFile;

/// A file's identity across renames: device and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileId {
    /// Device number.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
}

impl FileId {
    /// Which of `count` shards reads this file. Inodes are often allocated in sequence, so they
    /// are mixed (SplitMix64's finalizer) before the modulo, which spreads neighbours evenly.
    pub fn shard(self, count: usize) -> usize {
        if count <= 1 {
            return 0;
        }
        let mut z = self.ino ^ self.dev.rotate_left(32);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z % count as u64) as usize
    }
}

/// What one [`TailedFile::fill`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    /// `n` new bytes were appended to the buffer.
    Data(usize),
    /// Nothing new.
    Eof,
    /// The file is shorter than what was read: it was truncated (copytruncate); reading restarts
    /// at offset 0.
    Truncated,
}

/// State of one file being tailed.
///
/// Offsets: `buf` holds the bytes of the file from `buf_pos` to `read_pos()`: a partial line,
/// plus what the last read appended until the framer cuts it. `delivered <= buf_pos` is the end
/// of the last batch the sinks delivered, which is what the position file records.
#[derive(Debug)]
pub struct TailedFile {
    /// Distinguishes this open from an earlier file that had the same table slot.
    pub serial: u64,
    /// Device and inode.
    pub id: FileId,
    /// Path it was last seen under.
    pub path: PathBuf,
    file: ReadFile,
    /// File offset of `buf[0]`.
    pub buf_pos: u64,
    /// Read but not yet cut into batches.
    pub buf: BytesMut,
    /// Line-cutting state carried between reads.
    pub frame: FrameState,
    /// Offset up to which every batch was delivered.
    pub delivered: u64,
    /// Incremented on truncation, so acks for the old content are not taken for the new.
    pub generation: u32,
    /// The first bytes, as far as read (the fingerprint is taken of them).
    pub head: Head,
    /// The last bytes read, ending at [`TailedFile::read_pos`].
    pub tail: Tail,
    /// Set while the file may be a copy of another (see [`super::copies`]): it is not read.
    pub copy: Option<CopyCheck>,
    /// What the file held before it was found truncated, until the source takes it.
    pub old_content: Option<Content>,
    /// Headers of every event from this file (group headers, file header).
    pub headers: Arc<Headers>,
    /// Matched by the last scan. An unmatched file was renamed away or deleted: it is read to
    /// its end and closed once idle.
    pub matched: bool,
    /// Last time a read returned data.
    pub last_data: Instant,
    /// Batches put and not yet acknowledged.
    pub in_flight: usize,
    /// In the source's ready queue.
    pub queued: bool,
    /// The buffer held at most a partial line when last cut, and nothing was read since: the
    /// next turn starts with a read, which may be issued early, batched with other files'.
    pub wants_read: bool,
    /// A truncation or error found by a read issued early ([`TailedFile::fill`] run ahead of
    /// the file's turn), for the turn to act on as if it had just read.
    pub read_ahead: Option<io::Result<Fill>>,
    /// Offset up to which the page cache was asked to load a backlog.
    prefetched_to: u64,
}

/// How far ahead of the reads a backlog is loaded into the page cache (io_uring only).
const PREFETCH_WINDOW: u64 = 16 << 20;

impl TailedFile {
    /// Wraps an open file that will be read from `pos`.
    pub fn new(
        serial: u64,
        id: FileId,
        path: PathBuf,
        file: ReadFile,
        pos: u64,
        head: Head,
        headers: Arc<Headers>,
    ) -> Self {
        TailedFile {
            serial,
            id,
            path,
            file,
            buf_pos: pos,
            buf: BytesMut::new(),
            frame: FrameState::default(),
            delivered: pos,
            generation: 0,
            head,
            tail: Tail::EMPTY,
            copy: None,
            old_content: None,
            headers,
            matched: true,
            last_data: Instant::now(),
            in_flight: 0,
            queued: false,
            wants_read: true,
            read_ahead: None,
            prefetched_to: 0,
        }
    }

    /// Fingerprint of the first bytes, once there are any.
    pub fn fingerprint(&self) -> Option<Fingerprint> {
        self.head.fingerprint()
    }

    /// Reads up to `len` bytes at `offset`, off the data path (see [`ReadFile::read_range`]).
    pub fn read_range(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        self.file.read_range(offset, len)
    }

    /// Moves the offsets of a file nothing was read from (a copy, see [`super::copies`]) to
    /// `pos`: the bytes before it were sent from another file.
    pub fn start_at(&mut self, pos: u64) {
        debug_assert!(self.buf.is_empty() && self.in_flight == 0);
        self.buf_pos = pos;
        self.delivered = pos;
    }

    /// What the file holds up to its read offset, to recognise a copy of it by.
    pub fn content(&self) -> Content {
        Content {
            dir: self.path.parent().map(PathBuf::from).unwrap_or_default(),
            head: self.head,
            resume: Resume {
                end: self.buf_pos,
                tail: self.tail,
                tail_end: self.read_pos(),
            },
        }
    }

    /// Offset of the next byte to read.
    pub fn read_pos(&self) -> u64 {
        self.buf_pos + self.buf.len() as u64
    }

    /// Current size of the open file (even if renamed or deleted).
    pub fn size(&self) -> io::Result<u64> {
        Ok(self.file.stat()?.size)
    }

    /// Whether the file was deleted: only this descriptor keeps its data (and disk space).
    pub fn deleted(&self) -> bool {
        self.file.stat().is_ok_and(|s| s.links == 0)
    }

    /// Reads up to `max` new bytes into the buffer.
    ///
    /// The buffer is sized to what the file holds, so a file that trickles gets small buffers: a
    /// frozen batch keeps its whole allocation alive until delivered, and memory must follow the
    /// data in flight, not the read size. When earlier batches still share the allocation, a new
    /// one is made for the partial line and the new data.
    pub async fn fill(&mut self, max: usize) -> io::Result<Fill> {
        let size = self.size()?;
        let pos = self.read_pos();
        if size < pos {
            self.restart_after_truncation();
            return Ok(Fill::Truncated);
        }
        if size == pos {
            self.shrink_idle_buffer();
            return Ok(Fill::Eof);
        }
        self.prefetch_backlog(pos, size, max);
        let want = usize::try_from(size - pos).unwrap_or(usize::MAX).min(max);
        if self.buf.capacity() - self.buf.len() < want && !self.buf.try_reclaim(want) {
            let mut fresh = BytesMut::with_capacity(self.buf.len() + want);
            fresh.extend_from_slice(&self.buf);
            self.buf = fresh;
        }
        let buf = std::mem::take(&mut self.buf);
        let (res, buf) = self.file.read_at(buf, pos).await;
        self.buf = buf;
        match res? {
            0 => Ok(Fill::Eof),
            n => {
                self.last_data = Instant::now();
                self.wants_read = false;
                let new = &self.buf[self.buf.len() - n..];
                self.head.extend(pos, new);
                self.tail.push(new);
                Ok(Fill::Data(n))
            }
        }
    }

    /// On io_uring, a read of pages that are not in the page cache goes the ring's slow way
    /// (retried as pages arrive, or handed to a kernel worker), at about three times the CPU of
    /// a blocking `pread`. When a backlog lies ahead (a restart after a reboot), the kernel is
    /// asked to load [`PREFETCH_WINDOW`] ahead of the reads, once per window, and only if the
    /// window's first page is not cached already, so tailing fresh data costs one probe per
    /// window at most.
    fn prefetch_backlog(&mut self, pos: u64, size: u64, max: usize) {
        if !self.file.is_uring() || size - pos <= 2 * max as u64 || pos < self.prefetched_to {
            return;
        }
        let from = pos + max as u64;
        let len = PREFETCH_WINDOW.min(size - from);
        if !self.file.is_cached(from) {
            self.file.prefetch(from, len);
        }
        self.prefetched_to = from + len / 2;
    }

    fn restart_after_truncation(&mut self) {
        self.old_content = Some(self.content());
        self.head = Head::EMPTY;
        self.tail = Tail::EMPTY;
        self.buf = BytesMut::new();
        self.buf_pos = 0;
        self.delivered = 0;
        self.frame = FrameState::default();
        self.generation = self.generation.wrapping_add(1);
        self.prefetched_to = 0;
    }

    /// At end of file, lets go of a large buffer that holds only a partial line (or nothing):
    /// a thousand idle files must not each keep a read buffer.
    fn shrink_idle_buffer(&mut self) {
        if self.buf.is_empty() {
            self.buf = BytesMut::new();
        } else if self.buf.capacity() > 4 * self.buf.len() + 4096 {
            self.buf = BytesMut::from(&self.buf[..]);
        }
    }

    /// Whether everything in the file was read and every batch cut from it delivered: at most
    /// a partial last line is buffered, which reading again from `delivered` recovers.
    pub fn quiet(&self) -> bool {
        self.in_flight == 0
            && self.delivered == self.buf_pos
            && self.size().is_ok_and(|s| s == self.read_pos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_shard_owns_everything() {
        for ino in [0, 1, u64::MAX] {
            assert_eq!(FileId { dev: 3, ino }.shard(1), 0);
            assert_eq!(FileId { dev: 3, ino }.shard(0), 0);
        }
    }

    #[test]
    fn consecutive_inodes_spread_evenly_over_the_shards() {
        // File systems hand out inodes in sequence; a plain modulo would do too, but a device
        // number or a stride (every other inode) must not skew it either.
        for (start, stride) in [(1_000, 1), (2_496_001, 2), (7, 64)] {
            for count in [2, 3, 4, 7] {
                let mut per = vec![0usize; count];
                for i in 0..10_000u64 {
                    let id = FileId {
                        dev: 0x803,
                        ino: start + i * stride,
                    };
                    per[id.shard(count)] += 1;
                }
                let fair = 10_000 / count;
                for (shard, &n) in per.iter().enumerate() {
                    assert!(
                        n > fair * 9 / 10 && n < fair * 11 / 10,
                        "stride {stride}, {count} shards: shard {shard} got {n} of 10000"
                    );
                }
            }
        }
    }
}
