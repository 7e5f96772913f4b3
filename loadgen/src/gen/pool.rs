//! A pool of laid-out lines that batches are cut from, so that generating a line costs only the
//! rewrite of its header.
//!
//! The pool is built once per run: up to [`POOL_LINES`] lines (fewer when they would pass
//! [`POOL_BYTES`]) with sizes and bodies drawn from [`LineSizes`] with a seed, laid out back to
//! back in one buffer, each already framed for the wire (newline-terminated, or RFC 6587
//! `LEN SP MSG`). A batch of `n` lines is a contiguous run of pool lines: their headers are
//! rewritten in place with the batch's sequence numbers, stream and timestamp, and the slice goes
//! out in one `write`. Each target keeps its own cursor into the pool, so targets cycle through the
//! bodies independently; a batch that would run past the end starts again at the pool's start.

use crate::line::{self, HEADER_LEN};
use crate::recv::framing::Framing;

use super::sizes::LineSizes;

/// Most lines in a pool (and so in one batch).
pub const POOL_LINES: usize = 4096;
/// Bytes after which no more lines are added to a pool (a pool holds at least one line).
pub const POOL_BYTES: usize = 4 << 20;

/// Lines laid out once, framed, ready to be numbered; see the module docs.
#[derive(Debug)]
pub struct LinePool {
    /// The frames, back to back.
    buf: Vec<u8>,
    /// `frames[j]` is where frame `j` starts in `buf`; one more entry holds `buf.len()`.
    frames: Vec<usize>,
    /// `heads[j]` is where line `j`'s numbered header starts (after an octet-count prefix).
    heads: Vec<usize>,
    /// `line_bytes[j]` is the total size of lines `0..j` as the user counts them (newline
    /// included, framing prefix not); one more entry holds the total.
    line_bytes: Vec<u64>,
}

impl LinePool {
    /// Lays out the pool. `sizes` must have passed [`LineSizes::check`].
    pub fn new(sizes: &LineSizes, framing: Framing, seed: u64) -> LinePool {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut pool = LinePool {
            buf: Vec::new(),
            frames: vec![0],
            heads: Vec::new(),
            line_bytes: vec![0],
        };
        let mut body = Vec::new();
        while pool.heads.len() < POOL_LINES && (pool.buf.is_empty() || pool.buf.len() < POOL_BYTES)
        {
            body.clear();
            let size = match *sizes {
                LineSizes::Fixed(n) => n,
                LineSizes::Uniform { min, max } => rng.usize(min..=max),
                LineSizes::Access | LineSizes::App => {
                    sizes.shape(&mut rng, pool.heads.len(), &mut body);
                    HEADER_LEN + body.len() + 1
                }
            };
            pool.push(framing, size, &body);
        }
        pool
    }

    /// Appends one frame holding a line of `size` bytes whose body starts with `body` (the rest is
    /// filler).
    fn push(&mut self, framing: Framing, size: usize, body: &[u8]) {
        if framing == Framing::OctetCounting {
            // The message is the line without its newline.
            self.buf
                .extend_from_slice(format!("{} ", size - 1).as_bytes());
        }
        let head = self.buf.len();
        line::format_line(&mut self.buf, 0, 0, 0, size);
        self.buf[head + HEADER_LEN..head + HEADER_LEN + body.len()].copy_from_slice(body);
        if framing == Framing::OctetCounting {
            self.buf.pop();
        }
        self.heads.push(head);
        self.frames.push(self.buf.len());
        let total = self.line_bytes[self.line_bytes.len() - 1] + size as u64;
        self.line_bytes.push(total);
    }

    /// Lines in the pool: the largest batch [`LinePool::batch`] can cut.
    pub fn max_batch(&self) -> usize {
        self.heads.len()
    }

    /// Mean size of the pool's lines, newline included.
    pub fn mean_line_bytes(&self) -> f64 {
        self.line_bytes[self.heads.len()] as f64 / self.heads.len() as f64
    }

    /// Numbers `n` lines (`1 <= n <= max_batch()`) from `*cursor` on with `seq, seq + 1, ...`,
    /// `ts_ns` and `stream`, moves the cursor past them, and returns their frames with the total
    /// size of the lines (newline included, framing prefix not).
    pub fn batch(
        &mut self,
        cursor: &mut usize,
        n: usize,
        seq: u64,
        ts_ns: u64,
        stream: u16,
    ) -> (&[u8], u64) {
        debug_assert!((1..=self.max_batch()).contains(&n));
        if *cursor + n > self.max_batch() {
            *cursor = 0;
        }
        let (first, end) = (*cursor, *cursor + n);
        for (k, &head) in self.heads[first..end].iter().enumerate() {
            line::write_header(&mut self.buf[head..], seq + k as u64, ts_ns, stream);
        }
        *cursor = end % self.max_batch();
        (
            &self.buf[self.frames[first]..self.frames[end]],
            self.line_bytes[end] - self.line_bytes[first],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::line::{parse_line, ParsedLine};
    use crate::recv::framing::Connection;
    use crate::recv::tally::Tally;

    /// Cuts batches of `n` lines until `lines` are numbered, returning all the frames.
    fn cut(pool: &mut LinePool, lines: u64, n: usize) -> (Vec<u8>, u64) {
        let (mut out, mut line_bytes, mut seq, mut cursor) = (Vec::new(), 0, 0, 0);
        while seq < lines {
            let k = n.min((lines - seq) as usize);
            let (frames, b) = pool.batch(&mut cursor, k, seq, 1_000 + seq, 9);
            out.extend_from_slice(frames);
            line_bytes += b;
            seq += k as u64;
        }
        (out, line_bytes)
    }

    #[test]
    fn fixed_lines_have_the_size_and_consecutive_numbers() {
        let mut pool = LinePool::new(&LineSizes::Fixed(100), Framing::Newline, 1);
        assert_eq!(pool.max_batch(), POOL_LINES);
        assert_eq!(pool.mean_line_bytes(), 100.0);
        let (data, line_bytes) = cut(&mut pool, 10_000, 3000);
        assert_eq!(data.len(), 1_000_000);
        assert_eq!(line_bytes, 1_000_000);
        for (i, l) in data.chunks_exact(100).enumerate() {
            let want = ParsedLine {
                seq: i as u64,
                ts_ns: 1_000 + (i as u64 / 3000) * 3000,
                stream: 9,
            };
            assert_eq!(parse_line(l), Some(want));
            assert_eq!(l[99], b'\n');
        }
    }

    #[test]
    fn big_lines_make_a_small_pool() {
        let pool = LinePool::new(&LineSizes::Fixed(1 << 20), Framing::Newline, 1);
        assert_eq!(pool.max_batch(), 4);
        let pool = LinePool::new(&LineSizes::Fixed(1 << 19), Framing::Newline, 1);
        assert_eq!(pool.max_batch(), 8);
    }

    #[test]
    fn every_kind_parses_in_both_framings() {
        let kinds = [
            LineSizes::Fixed(43),
            LineSizes::Uniform { min: 50, max: 300 },
            LineSizes::Access,
            LineSizes::App,
        ];
        for sizes in kinds {
            for framing in [Framing::Newline, Framing::OctetCounting] {
                let mut pool = LinePool::new(&sizes, framing, 3);
                let (data, line_bytes) = cut(&mut pool, 20_000, 777);
                // The receiver's own framing and tally must find every line once.
                let mut tally = Tally::new();
                let mut conn = Connection::new(framing, 1 << 20);
                conn.consume(&data, &mut tally);
                let s = tally.summary(Some(20_000));
                assert_eq!((s.unique, s.lines), (20_000, 20_000), "{sizes} {framing:?}");
                assert_eq!((s.missing, s.malformed), (0, 0), "{sizes} {framing:?}");
                if framing == Framing::Newline {
                    assert_eq!(line_bytes, data.len() as u64);
                    for l in data.split_inclusive(|&b| b == b'\n') {
                        if let LineSizes::Uniform { min, max } = sizes {
                            assert!((min..=max).contains(&l.len()), "{}", l.len());
                        }
                        if sizes == LineSizes::Fixed(43) {
                            assert_eq!(l.len(), 43);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn uniform_sizes_cover_the_range() {
        let pool = LinePool::new(
            &LineSizes::Uniform { min: 64, max: 512 },
            Framing::Newline,
            5,
        );
        let sizes: Vec<usize> = (0..pool.max_batch())
            .map(|j| pool.frames[j + 1] - pool.frames[j])
            .collect();
        assert_eq!(*sizes.iter().min().unwrap(), 64);
        assert_eq!(*sizes.iter().max().unwrap(), 512);
        let mean = pool.mean_line_bytes();
        assert!((270.0..306.0).contains(&mean), "{mean}");
    }

    #[test]
    fn octet_counting_frames_carry_their_length() {
        let mut pool = LinePool::new(&LineSizes::Fixed(128), Framing::OctetCounting, 1);
        let mut cursor = 0;
        let (frames, line_bytes) = pool.batch(&mut cursor, 2, 0, 0, 0);
        assert_eq!(line_bytes, 256);
        assert_eq!(frames.len(), 2 * (4 + 127));
        assert!(frames.starts_with(b"127 0000000000000000 "));
        assert_eq!(&frames[131..135], b"127 ");
        assert!(!frames.contains(&b'\n'));
    }

    #[test]
    fn a_batch_that_does_not_fit_starts_at_the_beginning() {
        let mut pool = LinePool::new(&LineSizes::Fixed(64), Framing::Newline, 1);
        let mut cursor = POOL_LINES - 10;
        let (frames, _) = pool.batch(&mut cursor, 10, 0, 0, 0);
        assert_eq!(frames.len(), 640);
        assert_eq!(cursor, 0, "wrapped after the last line");
        let mut cursor = POOL_LINES - 10;
        pool.batch(&mut cursor, 11, 0, 0, 0);
        assert_eq!(cursor, 11);
        let (frames, _) = pool.batch(&mut cursor, POOL_LINES, 0, 0, 0);
        assert_eq!(frames.len(), POOL_LINES * 64);
        assert_eq!(cursor, 0);
    }
}
