//! Exactly-once accounting of received lines, per stream.
//!
//! [`Tally`] is fed the frame bodies of each read by the framing decoders ([`Tally::frames`]) and
//! knows nothing about sockets; the receive time of the bytes being consumed is set by the caller
//! ([`Tally::set_clock`]), so tests can drive it with crafted input and crafted clocks.
//!
//! # Latency
//!
//! A line's end-to-end latency is its receive time minus the send time in its header, in
//! microseconds, recorded once per (stream, seq): the first arrival, not a redelivered duplicate.
//! Each stream keeps an HDR histogram with 2 significant digits (about 27 KiB, so 1,000 streams
//! stay near 27 MiB), and the tally keeps a 3-digit histogram of the current interval that the
//! caller takes with [`Tally::take_interval`] and merges into the run's total.
//!
//! Recording is run-length coalesced: consecutive lines of one stream with the same latency (a
//! batch written at one instant and received in one read) are recorded with one `record_n`, so a
//! receiver reading megabytes per call spends little on histograms. Where a run is cut does not
//! show in the histograms, so runs never outlive a call to [`Tally::frames`].

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::line::{LineParser, MAX_STREAM};
use crate::report::model::Latency;

/// Highest latency recorded exactly, in microseconds (one hour); longer ones count as this.
pub const MAX_LATENCY_US: u64 = 3_600_000_000;

/// A latency histogram in microseconds, `sigfig` significant digits.
pub fn latency_histogram(sigfig: u8) -> Histogram<u64> {
    // The bounds are constants well inside what hdrhistogram accepts.
    Histogram::new_with_bounds(1, MAX_LATENCY_US, sigfig).expect("valid histogram bounds")
}

/// Percentiles of a microsecond histogram, in milliseconds; `None` when it is empty.
pub fn latency_summary(h: &Histogram<u64>) -> Option<Latency> {
    if h.is_empty() {
        return None;
    }
    let ms = |us: u64| us as f64 / 1000.0;
    Some(Latency {
        count: h.len(),
        mean_ms: h.mean() / 1000.0,
        p50_ms: ms(h.value_at_quantile(0.50)),
        p90_ms: ms(h.value_at_quantile(0.90)),
        p99_ms: ms(h.value_at_quantile(0.99)),
        p999_ms: ms(h.value_at_quantile(0.999)),
        max_ms: ms(h.max()),
    })
}

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
    #[inline(always)]
    fn insert(&mut self, seq: u64) -> bool {
        let Some(w) = self.words.get_mut((seq / 64) as usize) else {
            return self.grow_and_insert(seq);
        };
        let bit = 1u64 << (seq % 64);
        let new = *w & bit == 0;
        *w |= bit;
        new
    }

    /// [`SeqSet::insert`] beyond the end of the bitmap; out of line, as it runs once per doubling.
    #[cold]
    #[inline(never)]
    fn grow_and_insert(&mut self, seq: u64) -> bool {
        let word = (seq / 64) as usize;
        // Double to keep growth amortised; never below what `seq` needs.
        let len = (word + 1).max(self.words.len() * 2).max(1024);
        self.words.resize(len, 0);
        self.insert(seq)
    }

    /// The lowest sequence number seen; 0 if none was.
    fn first(&self) -> u64 {
        let Some(i) = self.words.iter().position(|&w| w != 0) else {
            return 0;
        };
        i as u64 * 64 + u64::from(self.words[i].trailing_zeros())
    }
}

/// What one stream delivered. Its lines are `unique + duplicates`, its lowest seq the first one
/// in `seen`: they are worked out for the summary rather than counted line by line.
#[derive(Debug)]
struct StreamTally {
    bytes: u64,
    unique: u64,
    duplicates: u64,
    out_of_order: u64,
    /// One past the highest sequence number seen; 0 while nothing was seen.
    end_seq: u64,
    seen: SeqSet,
    /// Latency of this stream's unique lines, microseconds, 2 significant digits.
    latency: Histogram<u64>,
}

impl StreamTally {
    /// A stream's tally, made at its first line: out of line, to keep the per-line path small.
    #[cold]
    #[inline(never)]
    fn boxed() -> Box<Self> {
        Box::new(StreamTally {
            bytes: 0,
            unique: 0,
            duplicates: 0,
            out_of_order: 0,
            end_seq: 0,
            seen: SeqSet::default(),
            latency: latency_histogram(2),
        })
    }
}

/// Lines of the current stream with one latency, not yet recorded (see the module docs).
#[derive(Debug, Default)]
struct Run {
    latency_us: u64,
    count: u64,
}

impl Run {
    /// Records the run into its stream's histogram and the interval's, and starts the next one
    /// with `count` lines of `latency_us`. Out of line: it runs once per run, not per line.
    #[inline(never)]
    fn restart(
        &mut self,
        latency_us: u64,
        count: u64,
        stream: &mut Histogram<u64>,
        interval: &mut Histogram<u64>,
    ) {
        if self.count > 0 {
            stream.saturating_record_n(self.latency_us, self.count);
            interval.saturating_record_n(self.latency_us, self.count);
        }
        *self = Run { latency_us, count };
    }
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
    /// Unique lines whose send time was after their receive time (clocks disagree); recorded
    /// with latency 0.
    pub clock_skew: u64,
    /// Receive time of the bytes being consumed, nanoseconds since the UNIX epoch.
    now_ns: u64,
    parser: LineParser,
    /// Latency of the unique lines since the last [`Tally::take_interval`].
    interval: Histogram<u64>,
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
            clock_skew: 0,
            now_ns: 0,
            parser: LineParser::default(),
            interval: latency_histogram(3),
        }
    }

    /// Sets the receive time, in nanoseconds since the UNIX epoch, of the frames consumed next.
    #[inline]
    pub fn set_clock(&mut self, now_ns: u64) {
        self.now_ns = now_ns;
    }

    /// Accounts one frame: `body` without its terminator or length prefix, `wire_len` the bytes the
    /// frame took on the wire (attributed to the stream's `bytes`).
    ///
    /// A line is a duplicate if its (stream, seq) was seen before, out of order if it is new but
    /// below the highest seq already seen on its stream.
    ///
    /// The framing decoders hand over all the frames of a read at once, with [`Tally::frames`].
    pub fn line(&mut self, body: &[u8], wire_len: usize) {
        self.frames([(body, wire_len)]);
    }

    /// Accounts a sequence of frames, each as [`Tally::line`] does: what the framing decoders call
    /// with the complete frames of a read.
    ///
    /// This is the receiver's per-line work, so it is written for the common case. Lines come in
    /// runs of one stream (an agent's batches), so the current stream's tally is kept at hand and
    /// looked up only when the stream changes; the totals are counted in locals and added once per
    /// call; whatever runs less often than once per line (a stream's first line, bitmap growth,
    /// recording a latency run) is out of line.
    #[inline]
    pub fn frames<'a>(&mut self, frames: impl IntoIterator<Item = (&'a [u8], usize)>) {
        let Tally {
            streams,
            lines,
            unique,
            malformed,
            clock_skew,
            now_ns,
            parser,
            interval,
        } = self;
        let now_ns = *now_ns;
        let (mut new_lines, mut new_unique, mut new_malformed, mut new_skew) = (0, 0, 0, 0);
        // The previous line's stream and its tally.
        let mut current: Option<(u16, &mut StreamTally)> = None;
        // The current stream's pending latency run.
        let mut run = Run::default();
        for (body, wire_len) in frames {
            let Some(p) = parser.parse(body) else {
                new_malformed += 1;
                continue;
            };
            if p.seq >= MAX_TRACKED_SEQ {
                new_malformed += 1;
                continue;
            }
            new_lines += 1;
            if current.as_ref().is_none_or(|&(id, _)| id != p.stream) {
                if let Some((_, s)) = current.take() {
                    run.restart(0, 0, &mut s.latency, interval);
                }
                // The parser yields at most 4 digits, so the index is always within MAX_STREAM.
                let s = streams[usize::from(p.stream)].get_or_insert_with(StreamTally::boxed);
                current = Some((p.stream, s));
            }
            let Some((_, s)) = &mut current else {
                unreachable!("the current stream is the line's")
            };
            s.bytes += wire_len as u64;
            if !s.seen.insert(p.seq) {
                s.duplicates += 1;
                continue;
            }
            s.unique += 1;
            if p.seq + 1 < s.end_seq {
                s.out_of_order += 1;
            } else {
                s.end_seq = p.seq + 1;
            }
            new_unique += 1;
            let latency_us = match now_ns.checked_sub(p.ts_ns) {
                Some(ns) => ns / 1000,
                None => {
                    new_skew += 1;
                    0
                }
            };
            if latency_us == run.latency_us {
                run.count += 1;
            } else {
                run.restart(latency_us, 1, &mut s.latency, interval);
            }
        }
        if let Some((_, s)) = current {
            run.restart(0, 0, &mut s.latency, interval);
        }
        *lines += new_lines;
        *unique += new_unique;
        *malformed += new_malformed;
        *clock_skew += new_skew;
    }

    /// Adds the latencies recorded since the last call (microseconds, 3 significant digits) to
    /// `into`, and starts the interval afresh.
    pub fn take_interval(&mut self, into: &mut Histogram<u64>) {
        // Histograms made by `latency_histogram` share their bounds, so adding cannot fail.
        let _ = into.add(&self.interval);
        self.interval.reset();
    }

    /// Counts a frame that could not be read (cut short, oversized, bad framing).
    pub fn malformed(&mut self) {
        self.malformed += 1;
    }

    /// Summarises the counts. `missing` per stream is the gaps in `0..=max_seq`; in total it is
    /// at least `expect - unique` when `expect` is given (which also sees lines lost at the end).
    pub fn summary(&mut self, expect: Option<u64>) -> Summary {
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
                    lines: s.unique + s.duplicates,
                    unique: s.unique,
                    bytes: s.bytes,
                    missing: s_missing,
                    duplicates: s.duplicates,
                    out_of_order: s.out_of_order,
                    min_seq: s.seen.first(),
                    max_seq: s.end_seq - 1,
                    latency: latency_summary(&s.latency),
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
#[derive(Debug, Clone, PartialEq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamSummary {
    pub lines: u64,
    pub unique: u64,
    pub bytes: u64,
    pub missing: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    pub min_seq: u64,
    pub max_seq: u64,
    /// End-to-end latency of the stream's unique lines (2 significant digits).
    pub latency: Option<Latency>,
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::line::{format_line, parse_line, HEADER_LEN, MIN_LINE_SIZE};

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

    /// Feeds `(stream, seq, send time)` lines received at `now_ns`.
    fn feed_at(t: &mut Tally, now_ns: u64, lines: &[(u16, u64, u64)]) {
        t.set_clock(now_ns);
        let mut buf = Vec::new();
        for &(stream, seq, ts) in lines {
            buf.clear();
            format_line(&mut buf, seq, ts, stream, 64);
            t.line(&buf[..63], 64);
        }
    }

    const MS: u64 = 1_000_000;

    #[test]
    fn latency_is_receive_time_minus_send_time() {
        let mut t = Tally::new();
        let t0 = 1_700_000_000_000 * MS;
        // 98 lines 1 ms late, one 10 ms late and one 250 ms late, in one stream.
        let mut lines: Vec<_> = (0..98).map(|seq| (3, seq, t0 - MS)).collect();
        lines.push((3, 98, t0 - 10 * MS));
        lines.push((3, 99, t0 - 250 * MS));
        feed_at(&mut t, t0, &lines);
        let mut h = latency_histogram(3);
        t.take_interval(&mut h);
        let l = latency_summary(&h).unwrap();
        assert_eq!(l.count, 100);
        assert!((l.p50_ms - 1.0).abs() < 0.01, "{l:?}");
        assert!((l.p99_ms - 10.0).abs() < 0.02, "{l:?}");
        assert!((l.max_ms - 250.0).abs() < 0.3, "{l:?}");
        let s = t.summary(None);
        let per_stream = s.streams["3"].latency.clone().unwrap();
        assert_eq!(per_stream.count, 100);
        assert!((per_stream.max_ms - 250.0).abs() < 2.5, "{per_stream:?}");
    }

    #[test]
    fn duplicates_do_not_count_twice_and_streams_keep_their_own() {
        let mut t = Tally::new();
        let t0 = 1_700_000_000_000 * MS;
        // Stream 1 lines 2 ms late, stream 2 lines 40 ms late, interleaved so that runs break.
        let lines: Vec<_> = (0..50)
            .flat_map(|seq| [(1, seq, t0 - 2 * MS), (2, seq, t0 - 40 * MS)])
            .collect();
        feed_at(&mut t, t0, &lines);
        // A redelivery of stream 1, much later: duplicates, so no latency recorded.
        feed_at(
            &mut t,
            t0 + 5_000 * MS,
            &(0..50).map(|seq| (1, seq, t0 - 2 * MS)).collect::<Vec<_>>(),
        );
        let s = t.summary(None);
        assert_eq!(s.duplicates, 50);
        let one = s.streams["1"].latency.clone().unwrap();
        let two = s.streams["2"].latency.clone().unwrap();
        assert_eq!((one.count, two.count), (50, 50));
        assert!((one.max_ms - 2.0).abs() < 0.05, "{one:?}");
        assert!((two.p50_ms - 40.0).abs() < 0.5, "{two:?}");
        let mut h = latency_histogram(3);
        t.take_interval(&mut h);
        assert_eq!(h.len(), 100);
    }

    #[test]
    fn intervals_start_afresh_and_skew_is_counted() {
        let mut t = Tally::new();
        let t0 = 1_700_000_000_000 * MS;
        feed_at(&mut t, t0, &[(0, 0, t0 - 3 * MS), (0, 1, t0 - 3 * MS)]);
        let mut first = latency_histogram(3);
        t.take_interval(&mut first);
        // Sent "after" it was received: the clocks disagree; counted, recorded as 0.
        feed_at(&mut t, t0, &[(0, 2, t0 + 7 * MS)]);
        let mut second = latency_histogram(3);
        t.take_interval(&mut second);
        assert_eq!((first.len(), second.len()), (2, 1));
        assert_eq!(second.max(), 0);
        assert_eq!(t.clock_skew, 1);
        let mut third = latency_histogram(3);
        t.take_interval(&mut third);
        assert!(third.is_empty());
        assert_eq!(latency_summary(&third), None);
    }

    /// The accounting done the plain way, line by line with sets and no run-length coalescing,
    /// for the tally to agree with.
    struct Model {
        streams: BTreeMap<u16, (BTreeSet<u64>, StreamSummary, Histogram<u64>)>,
        lines: u64,
        unique: u64,
        malformed: u64,
        clock_skew: u64,
        interval: Histogram<u64>,
    }

    impl Model {
        fn new() -> Self {
            Model {
                streams: BTreeMap::new(),
                lines: 0,
                unique: 0,
                malformed: 0,
                clock_skew: 0,
                interval: latency_histogram(3),
            }
        }

        fn line(&mut self, now_ns: u64, body: &[u8], wire_len: usize) {
            let Some(p) = parse_line(body).filter(|p| p.seq < MAX_TRACKED_SEQ) else {
                self.malformed += 1;
                return;
            };
            self.lines += 1;
            let (seen, s, latency) = self.streams.entry(p.stream).or_insert_with(|| {
                let s = StreamSummary {
                    lines: 0,
                    unique: 0,
                    bytes: 0,
                    missing: 0,
                    duplicates: 0,
                    out_of_order: 0,
                    min_seq: 0,
                    max_seq: 0,
                    latency: None,
                };
                (BTreeSet::new(), s, latency_histogram(2))
            });
            s.lines += 1;
            s.bytes += wire_len as u64;
            let highest = seen.last().copied();
            if !seen.insert(p.seq) {
                s.duplicates += 1;
                return;
            }
            self.unique += 1;
            s.unique += 1;
            if highest.is_some_and(|h| p.seq < h) {
                s.out_of_order += 1;
            }
            let latency_us = match now_ns.checked_sub(p.ts_ns) {
                Some(ns) => ns / 1000,
                None => {
                    self.clock_skew += 1;
                    0
                }
            };
            latency.saturating_record(latency_us);
            self.interval.saturating_record(latency_us);
        }

        fn summary(&self) -> Summary {
            let mut streams = BTreeMap::new();
            for (id, (seen, s, latency)) in &self.streams {
                let (min, max) = (*seen.first().unwrap(), *seen.last().unwrap());
                let s = StreamSummary {
                    missing: max + 1 - s.unique,
                    min_seq: min,
                    max_seq: max,
                    latency: latency_summary(latency),
                    ..s.clone()
                };
                streams.insert(id.to_string(), s);
            }
            Summary {
                lines: self.lines,
                unique: self.unique,
                missing: streams.values().map(|s| s.missing).sum(),
                duplicates: streams.values().map(|s| s.duplicates).sum(),
                out_of_order: streams.values().map(|s| s.out_of_order).sum(),
                malformed: self.malformed,
                streams,
            }
        }
    }

    #[test]
    fn agrees_with_plain_accounting_on_interleaved_damaged_input() {
        let mut rng = fastrand::Rng::with_seed(21);
        let t0 = 1_700_000_000_000 * MS;
        // Runs of lines of one stream, mostly in order, with duplicates, reordering, gaps, lines
        // that are not numbered lines or have an untracked seq, and send times after the receive
        // time; in reads of any size, each with its own clock.
        let mut next = [0u64; 6];
        let mut stream = 0;
        let mut frames = Vec::new();
        for _ in 0..30_000 {
            if rng.u8(..30) == 0 {
                stream = rng.u16(..6);
            }
            let n = &mut next[usize::from(stream)];
            let seq = match rng.u8(..40) {
                0 | 1 => rng.u64(..=*n),
                2 => *n + rng.u64(1..5),
                _ => *n,
            };
            *n = (*n).max(seq + 1);
            let ts = match rng.u8(..100) {
                0 => t0 + rng.u64(..1000 * MS),
                _ => t0 - rng.u64(..20 * MS),
            };
            let mut line = Vec::new();
            let size = rng.usize(MIN_LINE_SIZE..100);
            match rng.u8(..100) {
                0 => line.extend_from_slice(b"not a numbered line"),
                1 => format_line(&mut line, MAX_TRACKED_SEQ + seq, ts, stream, size),
                2 => {
                    format_line(&mut line, seq, ts, stream, size);
                    line[rng.usize(..HEADER_LEN)] = b'#';
                }
                _ => format_line(&mut line, seq, ts, stream, size),
            }
            line.pop();
            frames.push(line);
        }
        let mut tally = Tally::new();
        let mut model = Model::new();
        let mut now = t0;
        let mut rest = &frames[..];
        while !rest.is_empty() {
            let (read, after) = rest.split_at(rng.usize(1..500).min(rest.len()));
            rest = after;
            now += rng.u64(..2 * MS);
            tally.set_clock(now);
            if rng.bool() {
                tally.frames(read.iter().map(|f| (&f[..], f.len() + 1)));
            } else {
                for f in read {
                    tally.line(f, f.len() + 1);
                }
            }
            for f in read {
                model.line(now, f, f.len() + 1);
            }
        }
        let want = model.summary();
        assert!(
            want.duplicates > 500 && want.out_of_order > 100 && want.missing > 500,
            "{want:?}"
        );
        assert!(model.malformed > 500 && model.clock_skew > 100);
        assert_eq!(tally.summary(None), want);
        assert_eq!(tally.clock_skew, model.clock_skew);
        let mut interval = latency_histogram(3);
        tally.take_interval(&mut interval);
        assert_eq!(interval, model.interval);
    }
}
