//! Exactly-once accounting of received lines, per stream.
//!
//! [`Tally`] is fed one frame body at a time by the framing decoders and knows nothing about
//! sockets or clocks, so tests can drive it with crafted input.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::line::{parse_line, MAX_STREAM};

/// Sequence numbers at or above this are not tracked (the bitmap would exceed 1 GiB per stream);
/// such lines are counted as `malformed`.
pub const MAX_TRACKED_SEQ: u64 = 1 << 33;

/// A growable bitmap of the sequence numbers seen on one stream.
#[derive(Debug, Default)]
struct SeqSet {
    words: Vec<u64>,
}

impl SeqSet {
    /// Marks `seq` as seen; returns whether it was new. `seq` < [`MAX_TRACKED_SEQ`].
    #[inline]
    fn insert(&mut self, seq: u64) -> bool {
        let word = (seq / 64) as usize;
        let bit = 1u64 << (seq % 64);
        if word >= self.words.len() {
            // Double to keep growth amortised; never below what `seq` needs.
            let len = (word + 1).max(self.words.len() * 2).max(1024);
            self.words.resize(len, 0);
        }
        let w = &mut self.words[word];
        let new = *w & bit == 0;
        *w |= bit;
        new
    }
}

/// What one stream delivered.
#[derive(Debug, Default)]
struct StreamTally {
    lines: u64,
    bytes: u64,
    unique: u64,
    duplicates: u64,
    out_of_order: u64,
    min_seq: u64,
    /// One past the highest sequence number seen; 0 while nothing was seen.
    end_seq: u64,
    seen: SeqSet,
}

/// Counters over all connections; see [`Tally::line`] for what each one means.
#[derive(Debug)]
pub struct Tally {
    /// Indexed by stream id; `None` until the stream's first line.
    streams: Vec<Option<Box<StreamTally>>>,
    /// Lines that parsed (duplicates included).
    pub lines: u64,
    /// Distinct (stream, seq) pairs.
    pub unique: u64,
    /// Frames that are not numbered lines: unparsable, oversized, cut by a closed connection, or
    /// with a sequence number beyond [`MAX_TRACKED_SEQ`].
    pub malformed: u64,
}

impl Default for Tally {
    fn default() -> Self {
        Self::new()
    }
}

impl Tally {
    pub fn new() -> Self {
        Tally {
            streams: (0..=MAX_STREAM).map(|_| None).collect(),
            lines: 0,
            unique: 0,
            malformed: 0,
        }
    }

    /// Accounts one frame: `body` without its terminator or length prefix, `wire_len` the bytes the
    /// frame took on the wire (attributed to the stream's `bytes`).
    ///
    /// A line is a duplicate if its (stream, seq) was seen before, out of order if it is new but
    /// below the highest seq already seen on its stream.
    #[inline]
    pub fn line(&mut self, body: &[u8], wire_len: usize) {
        let Some(p) = parse_line(body) else {
            self.malformed += 1;
            return;
        };
        if p.seq >= MAX_TRACKED_SEQ {
            self.malformed += 1;
            return;
        }
        // parse_line yields at most 4 digits, so the index is always within MAX_STREAM.
        let s = self.streams[usize::from(p.stream)].get_or_insert_with(|| {
            Box::new(StreamTally {
                min_seq: u64::MAX,
                ..StreamTally::default()
            })
        });
        self.lines += 1;
        s.lines += 1;
        s.bytes += wire_len as u64;
        if s.seen.insert(p.seq) {
            self.unique += 1;
            s.unique += 1;
            if p.seq + 1 < s.end_seq {
                s.out_of_order += 1;
            }
            s.end_seq = s.end_seq.max(p.seq + 1);
            s.min_seq = s.min_seq.min(p.seq);
        } else {
            s.duplicates += 1;
        }
    }

    /// Counts a frame that could not be read (cut short, oversized, bad framing).
    pub fn malformed(&mut self) {
        self.malformed += 1;
    }

    /// Summarises the counts. `missing` per stream is the gaps in `0..=max_seq`; in total it is
    /// at least `expect - unique` when `expect` is given (which also sees lines lost at the end).
    pub fn summary(&self, expect: Option<u64>) -> Summary {
        let mut streams = BTreeMap::new();
        let mut missing = 0;
        let mut duplicates = 0;
        let mut out_of_order = 0;
        for (id, s) in self.streams.iter().enumerate() {
            let Some(s) = s else { continue };
            let s_missing = s.end_seq - s.unique;
            missing += s_missing;
            duplicates += s.duplicates;
            out_of_order += s.out_of_order;
            streams.insert(
                id.to_string(),
                StreamSummary {
                    lines: s.lines,
                    unique: s.unique,
                    bytes: s.bytes,
                    missing: s_missing,
                    duplicates: s.duplicates,
                    out_of_order: s.out_of_order,
                    min_seq: s.min_seq,
                    max_seq: s.end_seq - 1,
                },
            );
        }
        if let Some(expect) = expect {
            missing = missing.max(expect.saturating_sub(self.unique));
        }
        Summary {
            lines: self.lines,
            unique: self.unique,
            missing,
            duplicates,
            out_of_order,
            malformed: self.malformed,
            streams,
        }
    }
}

/// Totals and per-stream counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub lines: u64,
    pub unique: u64,
    pub missing: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    pub malformed: u64,
    /// Keyed by stream id in decimal.
    pub streams: BTreeMap<String, StreamSummary>,
}

/// One stream's counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamSummary {
    pub lines: u64,
    pub unique: u64,
    pub bytes: u64,
    pub missing: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    pub min_seq: u64,
    pub max_seq: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::line::format_line;

    fn feed(t: &mut Tally, stream: u16, seqs: &[u64]) {
        let mut buf = Vec::new();
        for &seq in seqs {
            buf.clear();
            format_line(&mut buf, seq, 1, stream, 64);
            t.line(&buf[..63], 64);
        }
    }

    #[test]
    fn in_order_stream_is_exactly_once() {
        let mut t = Tally::new();
        feed(&mut t, 0, &(0..1000).collect::<Vec<_>>());
        let s = t.summary(Some(1000));
        assert_eq!(
            (s.lines, s.unique, s.missing, s.duplicates),
            (1000, 1000, 0, 0)
        );
        assert_eq!((s.out_of_order, s.malformed), (0, 0));
        let st = &s.streams["0"];
        assert_eq!((st.bytes, st.min_seq, st.max_seq), (64_000, 0, 999));
    }

    #[test]
    fn gaps_duplicates_and_reordering() {
        let mut t = Tally::new();
        // 3 and 6 missing, 2 duplicated twice, 4 arrives after 5.
        feed(&mut t, 7, &[0, 1, 2, 2, 5, 4, 2, 7]);
        let s = t.summary(None);
        assert_eq!(s.lines, 8);
        assert_eq!(s.unique, 6);
        assert_eq!(s.missing, 2);
        assert_eq!(s.duplicates, 2);
        assert_eq!(s.out_of_order, 1);
        assert_eq!(s.streams["7"].max_seq, 7);
    }

    #[test]
    fn expect_sees_loss_at_the_tail() {
        let mut t = Tally::new();
        feed(&mut t, 0, &[0, 1, 2]);
        assert_eq!(t.summary(None).missing, 0);
        assert_eq!(t.summary(Some(10)).missing, 7);
    }

    #[test]
    fn streams_are_independent() {
        let mut t = Tally::new();
        feed(&mut t, 1, &[0, 1]);
        feed(&mut t, 2, &[0, 1, 3]);
        feed(&mut t, 1, &[1]);
        let s = t.summary(None);
        assert_eq!(s.unique, 5);
        assert_eq!(s.streams["1"].duplicates, 1);
        assert_eq!(s.streams["2"].missing, 1);
        assert_eq!((s.missing, s.duplicates), (1, 1));
    }

    #[test]
    fn malformed_lines_are_counted_not_fatal() {
        let mut t = Tally::new();
        t.line(b"", 1);
        t.line(b"garbage", 8);
        t.line(&[0xff; 100], 101);
        let mut buf = Vec::new();
        format_line(&mut buf, MAX_TRACKED_SEQ, 0, 0, 64);
        t.line(&buf, 64);
        let s = t.summary(None);
        assert_eq!((s.malformed, s.lines, s.unique), (4, 0, 0));
        assert!(s.streams.is_empty());
    }

    #[test]
    fn bitmap_grows_for_sparse_high_sequences() {
        let mut t = Tally::new();
        feed(&mut t, 0, &[5_000_000, 0, 5_000_000]);
        let s = t.summary(None);
        assert_eq!((s.unique, s.duplicates, s.out_of_order), (2, 1, 1));
        assert_eq!(s.missing, 5_000_001 - 2);
    }
}
