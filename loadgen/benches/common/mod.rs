//! A synthetic receive workload, shared by the `recv` bench and the `recv_ir` example (which
//! includes this file by path to count instructions under callgrind).
//!
//! It models what the receiver sees from an agent: numbered lines of 128 bytes (or of 100 to 156,
//! see [`Sizes`]) from several streams, interleaved in runs the length of an agent's batches, sent
//! 50 ns apart (so about 20 lines share one microsecond of latency and the tally's run-length
//! coalescing breaks as often as it does on a real run), arriving in reads that cut lines
//! anywhere.

use spate_loadgen::line::format_line;
use spate_loadgen::recv::framing::{Connection, Framing};
use spate_loadgen::recv::tally::Tally;

/// Bytes per line, newline included (on average with [`Sizes::Varied`]).
pub const LINE: usize = 128;

/// The sizes of a workload's lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sizes {
    /// Every line [`LINE`] bytes, as the load generator's `size = 128`.
    Fixed,
    /// Each line's size drawn from 100..=156, as `size = { min = 100, max = 156 }`.
    Varied,
}

impl Sizes {
    pub fn name(self) -> &'static str {
        match self {
            Sizes::Fixed => "128B-lines",
            Sizes::Varied => "100-156B-lines",
        }
    }
}
/// Bytes of lines in one phase (before octet framing adds its headers).
pub const PHASE_BYTES: usize = 4 << 20;
/// Streams interleaved.
pub const STREAMS: u16 = 8;
/// Bytes per read: not a multiple of the line size, so lines straddle reads and the carry path
/// is exercised (about 28 reads per phase).
pub const READ: usize = 150_000;
/// Nanoseconds between consecutive lines' send times.
pub const LINE_GAP_NS: u64 = 50;
/// How long after the last complete line of a read the read returns (a steady 2 ms latency).
pub const DELAY_NS: u64 = 2_000_000;
/// Largest frame the connection accepts, as `recv`'s default (`--max-line`).
pub const MAX_FRAME: usize = 1 << 20;

/// The bytes of one phase and how they arrive.
#[derive(Debug)]
pub struct Phase {
    pub data: Vec<u8>,
    /// Each read as (end offset in `data`, receive time in ns); the next read starts at the end
    /// of the previous one.
    pub reads: Vec<(usize, u64)>,
    pub lines: u64,
}

/// Two consecutive phases of one run: `warm` brings a fresh tally to steady state (every stream
/// seen, histograms and bitmaps allocated), `measured` is what the bench times.
#[derive(Debug)]
pub struct Workload {
    pub framing: Framing,
    pub warm: Phase,
    pub measured: Phase,
}

/// A small deterministic generator (xorshift64), so every run feeds the same bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

impl Workload {
    pub fn new(framing: Framing, sizes: Sizes) -> Workload {
        let mut rng = Rng(0x5eed_5a7e);
        let mut seqs = [0u64; STREAMS as usize];
        let mut ts = 1_700_000_000_000_000_000u64;
        let mut phase = || {
            // (line, send time) in wire order: runs of 32..=287 lines of one stream at a time.
            let mut lines = Vec::new();
            let mut bytes = 0;
            let mut stream = 0;
            while bytes < PHASE_BYTES {
                let run = 32 + (rng.next() % 256) as usize;
                stream = (stream + 1 + (rng.next() % u64::from(STREAMS - 1)) as u16) % STREAMS;
                for _ in 0..run {
                    let size = match sizes {
                        Sizes::Fixed => LINE,
                        Sizes::Varied => 100 + (rng.next() % 57) as usize,
                    };
                    let mut line = Vec::with_capacity(size + 4);
                    if framing == Framing::OctetCounting {
                        line.extend_from_slice(format!("{} ", size - 1).as_bytes());
                    }
                    let seq = &mut seqs[usize::from(stream)];
                    format_line(&mut line, *seq, ts, stream, size);
                    if framing == Framing::OctetCounting {
                        line.pop(); // the message is the line without its newline
                    }
                    *seq += 1;
                    lines.push((line, ts));
                    ts += LINE_GAP_NS;
                    bytes += size;
                    if bytes >= PHASE_BYTES {
                        break;
                    }
                }
            }
            Phase::from_lines(&lines)
        };
        let warm = phase();
        let measured = phase();
        Workload {
            framing,
            warm,
            measured,
        }
    }

    /// A connection and a tally that have consumed the warm phase.
    pub fn warmed(&self) -> (Connection, Tally) {
        let mut conn = Connection::new(self.framing, MAX_FRAME);
        let mut tally = Tally::new();
        let mut data = self.warm.data.clone();
        feed(&mut conn, &mut tally, &mut data, &self.warm.reads);
        (conn, tally)
    }
}

impl Phase {
    fn from_lines(lines: &[(Vec<u8>, u64)]) -> Phase {
        let mut data = Vec::with_capacity(lines.len() * (LINE + 4));
        let mut reads = Vec::new();
        // A read ends every READ bytes, wherever that falls; its receive time follows the send
        // time of the last line it completes.
        let mut read_end = READ;
        let mut last_ts = 0;
        for (line, ts) in lines {
            while read_end < data.len() + line.len() {
                reads.push((read_end, last_ts + DELAY_NS));
                read_end += READ;
            }
            data.extend_from_slice(line);
            last_ts = *ts;
        }
        reads.push((data.len(), last_ts + DELAY_NS));
        Phase {
            data,
            reads,
            lines: lines.len() as u64,
        }
    }
}

/// Feeds `data` to `conn` the way the receive loop does: per read, set the clock, put the partial
/// frame carried from the previous read in front of the new bytes, consume.
///
/// The real loop copies the carry in front of a fresh read in its buffer; here the whole phase is
/// already laid out in `data`, so the carry is exactly the bytes in front of the read and
/// `prepend_pending` rewrites them in place. The bench then pays for what the loop pays for in
/// user space, without a memcpy of every read that the kernel does in the real loop.
pub fn feed(conn: &mut Connection, tally: &mut Tally, data: &mut [u8], reads: &[(usize, u64)]) {
    let mut at = 0;
    for &(end, now_ns) in reads {
        tally.set_clock(now_ns);
        let start = conn.prepend_pending(data, at);
        conn.consume(&data[start..end], tally);
        at = end;
    }
}

/// Runs both phases once through a fresh connection and checks that the workload is what it
/// claims to be: every line parsed, unique and in order, the latencies spread over many values.
pub fn check(w: &Workload) {
    let (mut conn, mut tally) = w.warmed();
    let mut data = w.measured.data.clone();
    feed(&mut conn, &mut tally, &mut data, &w.measured.reads);
    let s = tally.summary(None);
    let lines = w.warm.lines + w.measured.lines;
    assert_eq!((s.lines, s.unique), (lines, lines), "{w:?}");
    assert_eq!(
        (s.missing, s.duplicates, s.out_of_order, s.malformed),
        (0, 0, 0, 0)
    );
    assert_eq!(s.streams.len(), usize::from(STREAMS));
}
