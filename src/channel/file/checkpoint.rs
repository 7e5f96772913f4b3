//! The checkpoint: the channel's queue as of a position in its log, so that a start reads only
//! the log written after it.
//!
//! A checkpoint names the position up to which the log is accounted for (a segment and an
//! offset in it), the log's identity and next sequence number, and every put record that was
//! durable and not taken at that position (where it lies, how many events it holds). It is
//! written whole to a temporary file, synced, renamed over the previous one, and the directory
//! synced: a crash leaves the old checkpoint or the new one, never a mix. A checkpoint that
//! fails its CRC32C, or belongs to another log, is not used: the start replays the whole log,
//! which holds everything the checkpoint summarises.
//!
//! Layout (little-endian): magic `SPATECKP`, version (u16), zero (u16), log identity (u32);
//! the position's segment, its offset and the next sequence number (u64 each); the number of
//! entries (u64); the entries, 32 bytes each (sequence number, segment, offset: u64; payload
//! length, events: u32); a CRC32C of everything before it (u32).

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The checkpoint's file name (Flume's own is `checkpoint`, which spate refuses to read).
pub const FILE: &str = "spate-checkpoint";

/// The file a new checkpoint is written to before it replaces the old one.
const TEMP_FILE: &str = "spate-checkpoint.tmp";

const MAGIC: [u8; 8] = *b"SPATECKP";
const VERSION: u16 = 1;
const FIXED_LEN: usize = 8 + 8 + 24 + 8;
const ENTRY_LEN: usize = 32;

/// A put record that is durable and not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Its sequence number.
    pub seq: u64,
    /// Its segment's index.
    pub segment: u64,
    /// Its header's offset in the segment.
    pub offset: u64,
    /// Its payload's length.
    pub len: u32,
    /// Events in its batch.
    pub events: u32,
}

/// A place in the log: a segment and an offset in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Position {
    /// The segment's index.
    pub segment: u64,
    /// The offset in it.
    pub offset: u64,
}

/// The queue as of a position in the log.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Checkpoint {
    /// The log's identity.
    pub log_id: u32,
    /// Every record before this position is accounted for in `live`.
    pub position: Position,
    /// The next sequence number the writer would have given.
    pub next_seq: u64,
    /// Put records not taken, in sequence order.
    pub live: Vec<Entry>,
}

/// Why a checkpoint cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// It could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// Its bytes are not a sound checkpoint.
    #[error("{path} is damaged: {reason}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl Checkpoint {
    /// Events in the queue.
    pub fn events(&self) -> u64 {
        self.live.iter().map(|e| u64::from(e.events)).sum()
    }

    /// The checkpoint's bytes.
    pub fn encode(&self) -> Vec<u8> {
        encode(self.log_id, self.position, self.next_seq, self.live.iter())
    }

    /// Reads a checkpoint's bytes, or says why they are not a sound one.
    pub fn decode(bytes: &[u8]) -> Result<Checkpoint, &'static str> {
        let Some(body_len) = bytes.len().checked_sub(4) else {
            return Err("too short");
        };
        if body_len < FIXED_LEN {
            return Err("too short");
        }
        let (body, crc) = bytes.split_at(body_len);
        if body[..8] != MAGIC {
            return Err("not a spate checkpoint");
        }
        if crc32c::crc32c(body) != u32_at(crc, 0) {
            return Err("its checksum does not match");
        }
        if u16::from_le_bytes([body[8], body[9]]) != VERSION {
            return Err("written by another version of spate");
        }
        let count = u64_at(body, 40);
        let entries = &body[FIXED_LEN..];
        if entries.len() % ENTRY_LEN != 0 || (entries.len() / ENTRY_LEN) as u64 != count {
            return Err("its length does not match its count of entries");
        }
        let live: Vec<Entry> = entries
            .chunks_exact(ENTRY_LEN)
            .map(|e| Entry {
                seq: u64_at(e, 0),
                segment: u64_at(e, 8),
                offset: u64_at(e, 16),
                len: u32_at(e, 24),
                events: u32_at(e, 28),
            })
            .collect();
        if live.windows(2).any(|w| w[0].seq >= w[1].seq) {
            return Err("its entries are out of order");
        }
        Ok(Checkpoint {
            log_id: u32_at(body, 12),
            position: Position {
                segment: u64_at(body, 16),
                offset: u64_at(body, 24),
            },
            next_seq: u64_at(body, 32),
            live,
        })
    }

    /// Writes the checkpoint into `dir` atomically: a temporary file, synced, renamed over the
    /// previous checkpoint, and the directory synced, so that a crash at any point leaves one
    /// whole checkpoint, the old or the new.
    pub fn write(&self, dir: &Path) -> io::Result<()> {
        write(dir, &self.encode())
    }

    /// Reads the checkpoint in `dir`: `Ok(None)` if there is none.
    pub fn read(dir: &Path) -> Result<Option<Checkpoint>, CheckpointError> {
        let path = dir.join(FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(CheckpointError::Io { path, source }),
        };
        Checkpoint::decode(&bytes)
            .map(Some)
            .map_err(|reason| CheckpointError::Damaged { path, reason })
    }
}

/// The bytes of a checkpoint of `live` (in sequence order), encoded straight from wherever the
/// entries are kept.
pub fn encode<'a>(
    log_id: u32,
    position: Position,
    next_seq: u64,
    live: impl ExactSizeIterator<Item = &'a Entry>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(FIXED_LEN + live.len() * ENTRY_LEN + 4);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&log_id.to_le_bytes());
    for v in [
        position.segment,
        position.offset,
        next_seq,
        live.len() as u64,
    ] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for e in live {
        out.extend_from_slice(&e.seq.to_le_bytes());
        out.extend_from_slice(&e.segment.to_le_bytes());
        out.extend_from_slice(&e.offset.to_le_bytes());
        out.extend_from_slice(&e.len.to_le_bytes());
        out.extend_from_slice(&e.events.to_le_bytes());
    }
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Writes the checkpoint `image` into `dir` atomically (see [`Checkpoint::write`]).
pub fn write(dir: &Path, image: &[u8]) -> io::Result<()> {
    let temp = dir.join(TEMP_FILE);
    let mut f = File::create(&temp)?;
    f.write_all(image)?;
    f.sync_data()?;
    drop(f);
    std::fs::rename(&temp, dir.join(FILE))?;
    File::open(dir)?.sync_all()
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample(n: u64) -> Checkpoint {
        Checkpoint {
            log_id: 0xfeed,
            position: Position {
                segment: 7,
                offset: 4096,
            },
            next_seq: n * 3 + 1,
            live: (0..n)
                .map(|i| Entry {
                    seq: i * 3,
                    segment: 5 + i / 10,
                    offset: 16 + i * 100,
                    len: 68,
                    events: i as u32 + 1,
                })
                .collect(),
        }
    }

    #[test]
    fn a_checkpoint_reads_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Checkpoint::read(dir.path()).unwrap().is_none());
        for n in [0, 1, 1000] {
            let cp = sample(n);
            cp.write(dir.path()).unwrap();
            assert_eq!(Checkpoint::read(dir.path()).unwrap(), Some(cp));
        }
        assert!(!dir.path().join(TEMP_FILE).exists());
    }

    #[test]
    fn a_damaged_checkpoint_is_refused_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        sample(3).write(dir.path()).unwrap();
        let path = dir.path().join(FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[60] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let err = Checkpoint::read(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("spate-checkpoint is damaged: its checksum does not match"),
            "{err}"
        );
    }

    proptest! {
        #[test]
        fn damage_never_yields_a_checkpoint_that_was_not_written(
            n in 0u64..20,
            cut in any::<prop::sample::Index>(),
            flips in prop::collection::vec((any::<prop::sample::Index>(), 0u8..8), 0..4),
        ) {
            let cp = sample(n);
            let mut bytes = cp.encode();
            let keep = cut.index(bytes.len() + 1);
            bytes.truncate(keep);
            let mut damaged = keep < cp.encode().len();
            for (at, bit) in &flips {
                if !bytes.is_empty() {
                    let i = at.index(bytes.len());
                    bytes[i] ^= 1 << bit;
                    damaged = true;
                }
            }
            match Checkpoint::decode(&bytes) {
                Ok(read) => {
                    // Only an intact image (or flips that cancelled out) reads back.
                    prop_assert_eq!(&read, &cp);
                    prop_assert!(!damaged || bytes == cp.encode());
                }
                Err(_) => prop_assert!(damaged),
            }
        }
    }
}
