//! Copies of tailed files: logrotate's `copytruncate` with a file group that matches the copy
//! too (`app\.log.*`, a common way to catch the old file's last lines).
//!
//! logrotate copies `app.log` to `app.log.1`, then truncates `app.log`. The copy is a new inode
//! holding bytes the source has read (or is about to read) from the original: read whole, every
//! line of it is sent twice; and the lines the original had not been read to when it was
//! truncated are in the copy only. So a file that begins like one the source knows is a copy
//! of it, after Vector's checksum fingerprints: its first bytes ([`Head`]) are those of
//!
//! * an open file (the original, not truncated yet): the copy is not read while the original
//!   is, since the original delivers the same lines ([`CopyCheck::WaitsFor`]);
//! * the old content of a file found truncated lately, or of a file closed lately or parked
//!   ([`Content`]): the copy is read from where that content had been cut into lines, once its
//!   bytes there are the ones read last ([`Tail`]) ([`CopyCheck::SkipTo`]).
//!
//! A file that begins like no known file, or that turns out to differ from the one it began
//! like, is read from its start, as any new file.

use std::collections::VecDeque;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::file::FileId;
use super::position::Fingerprint;

/// Bytes of a file's start compared at most: those the fingerprint is taken of.
pub const HEAD_LEN: usize = Fingerprint::MAX_LEN;

/// Fewer first bytes in common prove nothing: two logs of one directory often begin with the
/// same date and time.
pub const MIN_MATCH: usize = 32;

/// How long a file whose few bytes so far are the beginning of a known file waits to grow
/// before it is taken for a file of its own: a copy being made grows at once.
pub const PATIENCE: Duration = Duration::from_secs(2);

/// How long the content of a file truncated or closed is remembered, and how many at most.
const KEPT_FOR: Duration = Duration::from_secs(60);
const KEPT: usize = 16;

/// A file's first bytes, up to [`HEAD_LEN`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Head {
    bytes: [u8; HEAD_LEN],
    len: u16,
}

impl Head {
    /// No bytes.
    pub const EMPTY: Head = Head {
        bytes: [0; HEAD_LEN],
        len: 0,
    };

    /// The head of a file whose first bytes are `prefix` (only [`HEAD_LEN`] are kept).
    pub fn of(prefix: &[u8]) -> Head {
        let mut head = Head::EMPTY;
        head.extend(0, prefix);
        head
    }

    /// Adds `data`, read at file offset `at`, where it continues the head.
    pub fn extend(&mut self, at: u64, data: &[u8]) {
        let len = u64::from(self.len);
        if at > len || len as usize == HEAD_LEN {
            return;
        }
        let skip = (len - at) as usize;
        let Some(more) = data.get(skip..) else {
            return;
        };
        let take = more.len().min(HEAD_LEN - len as usize);
        self.bytes[len as usize..len as usize + take].copy_from_slice(&more[..take]);
        self.len += take as u16;
    }

    /// The bytes kept.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The fingerprint recorded in the position file, once there are bytes.
    pub fn fingerprint(&self) -> Option<Fingerprint> {
        (self.len > 0).then(|| Fingerprint::of(self.as_slice()))
    }
}

impl fmt::Debug for Head {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Head({} bytes)", self.len)
    }
}

/// The last bytes read from a file, up to [`Tail::LEN`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Tail {
    bytes: [u8; Tail::LEN],
    len: u8,
}

impl Tail {
    /// Bytes kept.
    pub const LEN: usize = 64;

    /// No bytes.
    pub const EMPTY: Tail = Tail {
        bytes: [0; Tail::LEN],
        len: 0,
    };

    /// Appends `data`, keeping the last [`Tail::LEN`] bytes.
    pub fn push(&mut self, data: &[u8]) {
        if data.len() >= Self::LEN {
            self.bytes.copy_from_slice(&data[data.len() - Self::LEN..]);
            self.len = Self::LEN as u8;
            return;
        }
        let keep = (Self::LEN - data.len()).min(usize::from(self.len));
        let old = usize::from(self.len);
        self.bytes.copy_within(old - keep..old, 0);
        self.bytes[keep..keep + data.len()].copy_from_slice(data);
        self.len = (keep + data.len()) as u8;
    }

    /// The bytes kept, oldest first.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl fmt::Debug for Tail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tail({} bytes)", self.len)
    }
}

/// Where a copy of a content is read from, and how to tell it is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resume {
    /// Where the content was cut into lines up to: what came before was sent from the original.
    pub end: u64,
    /// The last bytes read of the content, ending at `tail_end` (`>= end`: a partial line).
    pub tail: Tail,
    /// Where `tail` ends.
    pub tail_end: u64,
}

impl Resume {
    /// The part of `tail` a copy of `size` bytes holds too, and where it lies: the copy holds
    /// the bytes of the content up to its own size.
    pub fn overlap(&self, size: u64) -> (u64, &[u8]) {
        let tail = self.tail.as_slice();
        let start = self.tail_end - tail.len() as u64;
        let end = self.tail_end.min(size).max(start);
        (start, &tail[..(end - start) as usize])
    }
}

/// What a file held when it was truncated or closed: enough to recognise a copy of it.
#[derive(Debug, Clone)]
pub struct Content {
    /// Its directory: copies are looked for beside it.
    pub dir: PathBuf,
    /// Its first bytes.
    pub head: Head,
    /// Where a copy is read from.
    pub resume: Resume,
}

/// How a file's first bytes compare with those of a file the source knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Likeness {
    /// It begins with all of them: a copy.
    Copy,
    /// It has fewer, and they are the beginning of the known ones: too early to tell.
    Maybe,
    /// Not a copy.
    Unlike,
}

/// Compares `found`, the first bytes of a file (not empty), with `known`, those of another.
pub fn likeness(found: &[u8], known: &[u8]) -> Likeness {
    let n = found.len().min(known.len());
    if known.len() < MIN_MATCH || found[..n] != known[..n] {
        Likeness::Unlike
    } else if found.len() >= known.len() {
        Likeness::Copy
    } else {
        Likeness::Maybe
    }
}

/// Where a file that may be a copy stands: it is not read until this is settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyCheck {
    /// Not looked at yet, or its bytes so far (`size`, unchanged since `since`) are the
    /// beginning of a known file's: it may be a copy being made.
    Unchecked { size: u64, since: Instant },
    /// Begins like this open file, which delivers the same lines itself.
    WaitsFor(FileId),
    /// A copy of a content gone or closed: read from `Resume::end` once it is that long.
    SkipTo(Resume),
}

impl CopyCheck {
    /// The state of a file not looked at yet.
    pub fn unchecked() -> Self {
        CopyCheck::Unchecked {
            size: 0,
            since: Instant::now(),
        }
    }
}

/// The contents of files truncated or closed lately, newest last.
#[derive(Debug, Default)]
pub struct Recent {
    contents: VecDeque<(Content, Instant)>,
}

impl Recent {
    /// Remembers `content` for [`KEPT_FOR`]; the oldest goes when [`KEPT`] are held.
    pub fn push(&mut self, content: Content) {
        if content.head.as_slice().len() < MIN_MATCH {
            return; // nothing could be recognised by it
        }
        if self.contents.len() == KEPT {
            self.contents.pop_front();
        }
        self.contents.push_back((content, Instant::now()));
    }

    /// The newest content of `dir` that `head` is a copy of, or whether one may be.
    pub fn find(&mut self, dir: &Path, head: &[u8]) -> (Option<&Content>, bool) {
        let now = Instant::now();
        self.contents
            .retain(|(_, at)| now.duration_since(*at) < KEPT_FOR);
        let mut maybe = false;
        for (content, _) in self.contents.iter().rev() {
            match likeness(head, content.head.as_slice()) {
                Likeness::Unlike => {}
                _ if content.dir != dir => {}
                Likeness::Copy => return (Some(content), maybe),
                Likeness::Maybe => maybe = true,
            }
        }
        (None, maybe)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_keeps_the_last_bytes_across_pushes() {
        let mut tail = Tail::EMPTY;
        let data: Vec<u8> = (0..200u8).collect();
        let mut all = Vec::new();
        for chunk in data.chunks(7) {
            tail.push(chunk);
            all.extend_from_slice(chunk);
            let want = &all[all.len().saturating_sub(Tail::LEN)..];
            assert_eq!(tail.as_slice(), want);
        }
        tail.push(&data);
        assert_eq!(tail.as_slice(), &data[200 - Tail::LEN..]);
    }

    #[test]
    fn the_head_grows_only_with_the_bytes_that_continue_it() {
        let data: Vec<u8> = (0..=255u8).cycle().take(600).collect();
        let mut head = Head::of(&data[..10]);
        head.extend(20, &data[20..40]); // a gap: not the head's next bytes
        assert_eq!(head.as_slice(), &data[..10]);
        head.extend(5, &data[5..100]); // overlaps what is held
        assert_eq!(head.as_slice(), &data[..100]);
        head.extend(100, &data[100..600]);
        assert_eq!(head.as_slice(), &data[..HEAD_LEN]);
        assert_eq!(head.fingerprint(), Some(Fingerprint::of(&data)));
        assert_eq!(Head::EMPTY.fingerprint(), None);
    }

    #[test]
    fn likeness_needs_enough_bytes_in_common() {
        let known = b"2026-12-03 12:00:00 first line of the original file\n";
        assert_eq!(likeness(known, known), Likeness::Copy);
        assert_eq!(likeness(&known[..10], known), Likeness::Maybe);
        assert_eq!(likeness(b"2026-12-03 12:00:01", known), Likeness::Unlike);
        let mut longer = known.to_vec();
        longer.extend_from_slice(b"more\n");
        assert_eq!(likeness(&longer, known), Likeness::Copy);
        // A short known file proves nothing.
        assert_eq!(likeness(b"2026-12-03", b"2026-12-03"), Likeness::Unlike);
    }

    #[test]
    fn the_overlap_is_what_a_copy_of_that_size_holds_of_the_tail() {
        let mut tail = Tail::EMPTY;
        tail.push(&[7; 64]);
        let resume = Resume {
            end: 990,
            tail,
            tail_end: 1000,
        };
        assert_eq!(resume.overlap(2000), (936, &[7u8; 64][..]));
        assert_eq!(resume.overlap(950), (936, &[7u8; 14][..]));
        assert_eq!(resume.overlap(900), (936, &[][..]));
    }
}
