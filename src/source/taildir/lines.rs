//! Cutting a file's read buffer into batches of whole lines.
//!
//! The reader appends what it read to a per-file [`BytesMut`]; [`LineFramer::next_batch`] then
//! splits whole lines off its front, at most `batch_size` at a time, and freezes them into one
//! [`Bytes`] chunk without copying. A partial last line stays in the buffer for the next read, as
//! in ripgrep's line buffer. Newlines are found with `memchr`; the only per-line work is that
//! search and a length comparison.
//!
//! A line longer than `max_line_length` never makes the buffer grow beyond that bound: its first
//! `max_line_length` bytes become an event of their own as soon as they are in the buffer. With
//! [`LineOverflow::Split`] the rest of the line follows as further events; with
//! [`LineOverflow::Truncate`] the rest is skipped up to the next newline. Both are counted.

use std::sync::Arc;

use bytes::BytesMut;

use super::config::LineOverflow;
use crate::event::Batch;
use crate::metrics::SourceCounters;

/// Line-cutting rules of one source.
#[derive(Debug, Clone, Copy)]
pub struct LineFramer {
    /// Most events per batch (the source's `batchSize`).
    pub batch_size: usize,
    /// Longest line kept whole, without its newline.
    pub max_line_length: usize,
    /// What happens to longer lines.
    pub overflow: LineOverflow,
}

/// Per-file framing state that outlives one buffer.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FrameState {
    /// Skipping the rest of a truncated line up to its newline.
    pub discarding: bool,
}

/// What [`LineFramer::next_batch`] did with the front of the buffer.
#[derive(Debug)]
pub enum Framed {
    /// A batch was cut; it covers the first `len` bytes that were in the buffer.
    Batch {
        /// The events.
        batch: Batch,
        /// Bytes of the file it covers (including dropped bytes of a truncated line).
        len: usize,
    },
    /// Bytes of a truncated line were dropped and nothing was emitted.
    Skipped(usize),
    /// The buffer holds at most a partial line: read more.
    NeedMore,
}

impl LineFramer {
    /// Cuts the next batch from the front of `buf`. Call it until it returns
    /// [`Framed::NeedMore`].
    pub fn next_batch(
        &self,
        buf: &mut BytesMut,
        state: &mut FrameState,
        counters: &SourceCounters,
    ) -> Framed {
        if state.discarding {
            return match memchr::memchr(b'\n', buf) {
                Some(i) => {
                    state.discarding = false;
                    let _ = buf.split_to(i + 1);
                    counters.bytes_truncated.add(i as u64 + 1);
                    Framed::Skipped(i + 1)
                }
                None if buf.is_empty() => Framed::NeedMore,
                None => {
                    let n = buf.len();
                    counters.bytes_truncated.add(n as u64);
                    buf.clear();
                    Framed::Skipped(n)
                }
            };
        }

        let max = self.max_line_length;
        let Lines {
            count,
            end,
            overlong,
            more,
        } = whole_lines(buf, self.batch_size, max);
        if count > 0 {
            let chunk = buf.split_to(end).freeze();
            return Framed::Batch {
                batch: Batch::from_lines(chunk, count as u32).with_more_ready(more),
                len: end,
            };
        }
        // No whole line of acceptable length at the front. Either the first line is known to be
        // too long, or the partial line already is.
        if !overlong && buf.len() <= max {
            return Framed::NeedMore;
        }
        let piece = buf.split_to(max).freeze();
        match self.overflow {
            LineOverflow::Split => counters.lines_split.add(1),
            LineOverflow::Truncate => {
                counters.lines_truncated.add(1);
                state.discarding = true;
            }
        }
        let ends: Arc<[u32]> = Arc::from([max as u32]);
        Framed::Batch {
            batch: Batch::from_ends(piece, ends),
            len: max,
        }
    }
}

/// The whole lines at the front of a buffer, as [`whole_lines`] finds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Lines {
    /// How many, at most the batch size.
    count: usize,
    /// Just past the last one's newline.
    end: usize,
    /// The line after them is longer than the maximum (its newline was seen).
    overlong: bool,
    /// Another newline follows `end`: the buffer holds more than this batch.
    more: bool,
}

/// Most bytes whose newlines are counted at once. A line that starts and ends within one block
/// is shorter than it, so only a line that crosses into a block needs its length checked.
const BLOCK: usize = 16 * 1024;

/// Bytes of a block per line the batch still needs: a block is sized so that lines of at least
/// this average length do not overfill the batch, whose last lines must then be searched one
/// by one after all (the block's count is wasted).
const BYTES_PER_LINE: usize = 64;

/// Below this, a block's three calls (first newline, count, last newline) cost more than the
/// search per line they replace.
const MIN_BLOCK: usize = 2048;

/// Finds up to `batch_size` whole lines of at most `max` bytes at the front of `buf`.
///
/// A search per line (`memchr` from each newline to the next) costs a call and its setup per
/// line, which for lines of a hundred bytes was a sixth of the agent's CPU. Instead, whole
/// blocks are counted (`bytecount`, vectorised) and only their first and last newline
/// searched; blocks shrink as the batch fills, and only its last few lines are searched one by
/// one.
fn whole_lines(buf: &[u8], batch_size: usize, max: usize) -> Lines {
    let mut count = 0;
    let mut end = 0;
    let mut pos = 0;
    while pos < buf.len() {
        let block = (batch_size - count)
            .saturating_mul(BYTES_PER_LINE)
            .min(BLOCK)
            .min(max);
        if block < MIN_BLOCK {
            break;
        }
        let block_end = buf.len().min(pos + block);
        let block = &buf[pos..block_end];
        let Some(first) = memchr::memchr(b'\n', block) else {
            pos = block_end; // inside a long line; the caller decides what to do with it
            continue;
        };
        if pos + first - end > max {
            break; // the line search below finds this newline and reports the long line
        }
        let n = bytecount::count(block, b'\n');
        if count + n >= batch_size {
            break; // the batch fills up in this block: find its last line below
        }
        let last = memchr::memrchr(b'\n', block).expect("the block has a newline");
        count += n;
        end = pos + last + 1;
        pos = block_end;
    }
    // Line by line from `pos`: the last lines of the batch, in the block where it fills up or
    // after the blocks became too small to count.
    for nl in memchr::memchr_iter(b'\n', &buf[pos..]).map(|i| pos + i) {
        if count == batch_size {
            return Lines {
                count,
                end,
                overlong: false,
                more: true,
            };
        }
        if nl - end > max {
            return Lines {
                count,
                end,
                overlong: true,
                more: true,
            };
        }
        count += 1;
        end = nl + 1;
    }
    Lines {
        count,
        end,
        overlong: false,
        more: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain search per line that [`whole_lines`] must agree with.
    fn reference(buf: &[u8], batch_size: usize, max: usize) -> Lines {
        let (mut count, mut end) = (0, 0);
        for nl in memchr::memchr_iter(b'\n', buf) {
            if nl - end > max {
                return Lines {
                    count,
                    end,
                    overlong: true,
                    more: true,
                };
            }
            count += 1;
            end = nl + 1;
            if count == batch_size {
                break;
            }
        }
        Lines {
            count,
            end,
            overlong: false,
            more: memchr::memchr(b'\n', &buf[end..]).is_some(),
        }
    }

    #[test]
    fn block_counting_finds_the_same_lines_as_a_search_per_line() {
        // A small xorshift: the same cases on every run.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % bound as u64) as usize
        };
        for case in 0..400 {
            // Lines of one size, of random sizes, or with a few very long ones, around the
            // block size and the maximum.
            let mut buf = Vec::new();
            let target = next(6 * BLOCK) + 1;
            while buf.len() < target {
                let len = match case % 4 {
                    0 => 127,
                    1 => next(300),
                    2 => next(3 * BLOCK),
                    _ => {
                        if next(50) == 0 {
                            BLOCK + next(2 * BLOCK)
                        } else {
                            next(200)
                        }
                    }
                };
                buf.extend(std::iter::repeat_n(b'a', len));
                buf.push(b'\n');
            }
            buf.truncate(target); // often a partial last line
            for batch_size in [1, 7, 100, 130, 10_000, usize::MAX] {
                for max in [BLOCK, BLOCK + 100, 2 * BLOCK, 1 << 20, 100, 2500, 4096] {
                    assert_eq!(
                        whole_lines(&buf, batch_size, max),
                        reference(&buf, batch_size, max),
                        "case {case}, {} bytes, batch {batch_size}, max {max}",
                        buf.len()
                    );
                }
            }
        }
    }

    fn framer(batch_size: usize, max: usize, overflow: LineOverflow) -> LineFramer {
        LineFramer {
            batch_size,
            max_line_length: max,
            overflow,
        }
    }

    /// Feeds `input` in pieces of `step` bytes and collects the events, as a reader would.
    fn run(f: &LineFramer, input: &[u8], step: usize) -> (Vec<Vec<u8>>, usize, SourceCounters) {
        let counters = SourceCounters::default();
        let mut buf = BytesMut::new();
        let mut state = FrameState::default();
        let mut events = Vec::new();
        let mut covered = 0;
        for piece in input.chunks(step) {
            buf.extend_from_slice(piece);
            loop {
                match f.next_batch(&mut buf, &mut state, &counters) {
                    Framed::Batch { batch, len } => {
                        assert!(batch.len() <= f.batch_size);
                        covered += len;
                        events.extend(batch.bodies().map(<[u8]>::to_vec));
                    }
                    Framed::Skipped(n) => covered += n,
                    Framed::NeedMore => break,
                }
            }
            assert!(buf.len() <= f.max_line_length, "memory stays bounded");
        }
        (events, covered, counters)
    }

    #[test]
    fn whole_lines_in_batches_and_partial_line_held() {
        let f = framer(2, 100, LineOverflow::Split);
        let (events, covered, _) = run(&f, b"a\nbb\nccc\ndd", 3);
        assert_eq!(events, [&b"a"[..], b"bb", b"ccc"]);
        assert_eq!(covered, 9, "the partial `dd` is not covered yet");
    }

    #[test]
    fn batch_size_limits_events_per_batch() {
        let f = framer(3, 100, LineOverflow::Split);
        let mut buf = BytesMut::from(&b"1\n2\n3\n4\n5\n"[..]);
        let counters = SourceCounters::default();
        let mut state = FrameState::default();
        let Framed::Batch { batch, len } = f.next_batch(&mut buf, &mut state, &counters) else {
            panic!("expected a batch")
        };
        assert_eq!((batch.len(), len), (3, 6));
        assert_eq!(&buf[..], b"4\n5\n");
        assert!(
            batch.more_ready(),
            "two whole lines are left for the next batch"
        );
    }

    #[test]
    fn only_a_batch_with_whole_lines_behind_it_says_more_is_ready() {
        let f = framer(2, 100, LineOverflow::Split);
        let counters = SourceCounters::default();
        let mut state = FrameState::default();
        let mut buf = BytesMut::from(&b"1\n2\n3\n4\n5"[..]);
        let mut more = Vec::new();
        while let Framed::Batch { batch, .. } = f.next_batch(&mut buf, &mut state, &counters) {
            more.push(batch.more_ready());
        }
        // The last batch is followed only by the partial `5`, which may never be completed.
        assert_eq!(more, [true, false]);
    }

    #[test]
    fn long_lines_are_split_without_losing_a_byte() {
        let f = framer(100, 4, LineOverflow::Split);
        let (events, covered, counters) = run(&f, b"abcdefghij\nxy\n", 5);
        assert_eq!(events, [&b"abcd"[..], b"efgh", b"ij", b"xy"]);
        assert_eq!(covered, 14);
        assert_eq!(counters.lines_split.get(), 2);
    }

    #[test]
    fn long_lines_are_truncated_and_the_rest_skipped() {
        let f = framer(100, 4, LineOverflow::Truncate);
        let (events, covered, counters) = run(&f, b"abcdefghij\nxy\nabcdefgh", 3);
        assert_eq!(events, [&b"abcd"[..], b"xy", b"abcd"]);
        assert_eq!(covered, 22, "skipped bytes count as covered");
        assert_eq!(counters.lines_truncated.get(), 2);
        assert_eq!(counters.bytes_truncated.get(), 7 + 4);
    }

    #[test]
    fn a_line_of_exactly_the_maximum_stays_whole() {
        let f = framer(100, 4, LineOverflow::Split);
        let (events, _, counters) = run(&f, b"abcd\nabcde\n", 64);
        assert_eq!(events, [&b"abcd"[..], b"abcd", b"e"]);
        assert_eq!(counters.lines_split.get(), 1);
    }

    #[test]
    fn binary_and_invalid_utf8_pass_through_untouched() {
        let f = framer(100, 1024, LineOverflow::Split);
        let input = b"\x00\xff\xfe\r\n\xc3\x28\n";
        let (events, _, _) = run(&f, input, 1);
        assert_eq!(events, [&b"\x00\xff\xfe\r"[..], b"\xc3\x28"]);
    }

    #[test]
    fn a_ten_megabyte_line_is_split_with_bounded_memory() {
        let f = framer(100, 1 << 20, LineOverflow::Split);
        let mut input = vec![b'x'; 10 << 20];
        input.push(b'\n');
        let (events, covered, _) = run(&f, &input, 256 << 10);
        assert_eq!(events.len(), 10);
        assert_eq!(events.iter().map(Vec::len).sum::<usize>(), 10 << 20);
        assert_eq!(covered, input.len());
    }
}
