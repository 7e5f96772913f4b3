//! The numbered line format shared by every generator and by the receiver.
//!
//! A line is exactly `size` bytes including its trailing `\n`, with fixed field positions so that
//! the receiver can check it without searching:
//!
//! ```text
//! 0               16 17                 36 37  41 42        size-1
//! SSSSSSSSSSSSSSSS TTTTTTTTTTTTTTTTTTT NNNN xxxxxxxxxxxxxxx\n
//! ```
//!
//! * `S`: sequence number, 16 zero-padded decimal digits, unique within a stream;
//! * `T`: send time in nanoseconds since the UNIX epoch, 19 digits (the latency field: the
//!   receiver subtracts it from its own clock);
//! * `N`: stream id, 4 digits (0..=9999), so several writers can share one receiver;
//! * filler of `x` up to the size, possibly empty.
//!
//! The smallest line is therefore [`MIN_LINE_SIZE`] = 43 bytes (header, its separating space and
//! the newline).

use std::fmt;

/// Width of the sequence number field.
pub const SEQ_DIGITS: usize = 16;
/// Width of the timestamp field.
pub const TS_DIGITS: usize = 19;
/// Width of the stream id field.
pub const STREAM_DIGITS: usize = 4;

const SEQ_AT: usize = 0;
const TS_AT: usize = SEQ_AT + SEQ_DIGITS + 1;
const STREAM_AT: usize = TS_AT + TS_DIGITS + 1;
/// Length of the header up to and including the space after the stream id.
pub const HEADER_LEN: usize = STREAM_AT + STREAM_DIGITS + 1;
/// Smallest valid line size: header plus `\n`.
pub const MIN_LINE_SIZE: usize = HEADER_LEN + 1;
/// Largest sequence number that fits the field.
pub const MAX_SEQ: u64 = 9_999_999_999_999_999;
/// Largest stream id that fits the field.
pub const MAX_STREAM: u16 = 9_999;
/// Filler byte after the header.
pub const FILLER: u8 = b'x';

/// The fields of a line, as read back by [`parse_line`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedLine {
    pub seq: u64,
    pub ts_ns: u64,
    pub stream: u16,
}

/// A line size outside the format's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadLineSize(pub usize);

impl fmt::Display for BadLineSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line size {} is too small: a numbered line needs at least {MIN_LINE_SIZE} bytes \
             (16-digit seq, 19-digit timestamp, 4-digit stream, separators, newline)",
            self.0
        )
    }
}

impl std::error::Error for BadLineSize {}

/// Checks that `size` can hold a numbered line.
pub fn check_size(size: usize) -> Result<(), BadLineSize> {
    if size < MIN_LINE_SIZE {
        Err(BadLineSize(size))
    } else {
        Ok(())
    }
}

/// Appends one line of exactly `size` bytes (including `\n`) to `buf`.
///
/// `size` must be at least [`MIN_LINE_SIZE`] (checked with [`check_size`] by the callers that take
/// it from the user; a smaller size panics). `seq` and `stream` are written modulo their field
/// widths; callers keep them within [`MAX_SEQ`] and [`MAX_STREAM`].
pub fn format_line(buf: &mut Vec<u8>, seq: u64, ts_ns: u64, stream: u16, size: usize) {
    assert!(size >= MIN_LINE_SIZE, "{}", BadLineSize(size));
    let start = buf.len();
    buf.resize(start + size, FILLER);
    let line = &mut buf[start..];
    line[size - 1] = b'\n';
    write_header(line, seq, ts_ns, stream);
}

/// Overwrites the header of a line already laid out in `line` (filler and newline untouched).
///
/// This is what the bulk writers use: they lay a chunk out once and then only rewrite headers.
#[inline]
pub fn write_header(line: &mut [u8], seq: u64, ts_ns: u64, stream: u16) {
    let h = &mut line[..HEADER_LEN];
    put_digits(&mut h[SEQ_AT..SEQ_AT + SEQ_DIGITS], seq);
    h[TS_AT - 1] = b' ';
    put_digits(&mut h[TS_AT..TS_AT + TS_DIGITS], ts_ns);
    h[STREAM_AT - 1] = b' ';
    put_digits(
        &mut h[STREAM_AT..STREAM_AT + STREAM_DIGITS],
        u64::from(stream),
    );
    h[HEADER_LEN - 1] = b' ';
}

/// Two-digit lookup table: `DIGITS2[2*n..2*n+2]` is `n` as two ASCII digits.
const DIGITS2: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Writes `v` right-aligned and zero-padded into all of `dst` (high digits beyond it are lost).
#[inline]
fn put_digits(dst: &mut [u8], mut v: u64) {
    let mut i = dst.len();
    while i >= 2 {
        let d = (v % 100) as usize;
        v /= 100;
        dst[i - 2..i].copy_from_slice(&DIGITS2[2 * d..2 * d + 2]);
        i -= 2;
    }
    if i == 1 {
        dst[0] = b'0' + (v % 10) as u8;
    }
}

/// Reads the header of `line` (with or without its trailing `\n`; the filler is not checked, so
/// the format survives agents that append to or rewrite the tail of a body).
///
/// Returns `None` for anything that is not a numbered line; never panics, never allocates.
/// A receiver parsing line after line uses a [`LineParser`], which gives the same results faster.
#[inline]
pub fn parse_line(line: &[u8]) -> Option<ParsedLine> {
    LineParser::default().parse(line)
}

/// Parses lines as [`parse_line`] does, faster on a sequence of lines whose fields share their
/// high digits.
///
/// The header is read as five 8-byte words of digits (branch-light SWAR arithmetic: the
/// `parse_eight_digits_unrolled` of simdjson and fast_float, each step one multiply and shift).
/// Consecutive lines differ mostly in their low digits: sequence numbers below 10^8 share the
/// first 8 of their 16 digits, and send times within the same microsecond the first 16 of their
/// 19. So the parser remembers those words and their value from the line before, and checks
/// and converts them only when they differ.
#[derive(Debug, Default)]
pub struct LineParser {
    /// The seq's first 8 digits and their value.
    seq_hi: Memo<1>,
    /// The time's first 16 digits and their value: the time in microseconds.
    ts_us: Memo<2>,
}

/// `N` 8-digit words and their value.
#[derive(Debug)]
struct Memo<const N: usize> {
    /// All 0 while nothing is remembered: a word of digits is never 0.
    words: [u64; N],
    value: u64,
}

impl<const N: usize> Default for Memo<N> {
    fn default() -> Self {
        Memo {
            words: [0; N],
            value: 0,
        }
    }
}

impl<const N: usize> Memo<N> {
    /// The value of the `8 * N` digits in `words` (as [`word`] loads them, most significant
    /// first); `None` if they are not all digits.
    #[inline(always)]
    fn value(&mut self, words: [u64; N]) -> Option<u64> {
        if words != self.words {
            if words.iter().fold(0, |bad, &w| bad | non_digits(w)) != 0 {
                return None;
            }
            *self = Memo {
                words,
                value: words
                    .iter()
                    .fold(0, |v, &w| v * 100_000_000 + eight_digits(w)),
            };
        }
        Some(self.value)
    }
}

impl LineParser {
    /// Reads the header of `line`, as [`parse_line`] does.
    #[inline(always)]
    pub fn parse(&mut self, line: &[u8]) -> Option<ParsedLine> {
        let h: &[u8; HEADER_LEN] = line.first_chunk()?;
        let seq_lo = word(h, SEQ_AT + 8);
        // The last 3 digits of the time, the space before the stream id, and the stream id:
        // "ddd NNNN", exactly one word. Setting bit 4 of the space makes it a '0' (whether the
        // byte is a space is checked below), so the word reads as the 8 digits "ddd0NNNN".
        const SPACE_AT_3_TO_ZERO: u64 = 0x10 << 24;
        let tail = word(h, TS_AT + 16) | SPACE_AT_3_TO_ZERO;
        // `|` and `&`, not `||` and `&&`, to test all at once.
        let spaced =
            (h[TS_AT - 1] == b' ') & (h[STREAM_AT - 1] == b' ') & (h[HEADER_LEN - 1] == b' ');
        if non_digits(seq_lo) | non_digits(tail) != 0 || !spaced {
            return None;
        }
        let seq_hi = self.seq_hi.value([word(h, SEQ_AT)])?;
        let ts_us = self.ts_us.value([word(h, TS_AT), word(h, TS_AT + 8)])?;
        let seq = seq_hi * 100_000_000 + eight_digits(seq_lo);
        // "ddd0" in the low half, "NNNN" in the high half.
        let tail = four_digit_halves(tail);
        let ts_lo = (tail & 0xFFFF_FFFF) / 10;
        // 19 digits are at most 10^19 - 1, below u64::MAX: no overflow.
        let ts_ns = ts_us * 1000 + ts_lo;
        // At most 9999.
        let stream = (tail >> 32) as u16;
        Some(ParsedLine { seq, ts_ns, stream })
    }
}

/// The 8 bytes at `h[at..at + 8]` as a little-endian word: the first (most significant) digit is
/// the lowest byte.
#[inline(always)]
fn word(h: &[u8; HEADER_LEN], at: usize) -> u64 {
    // `at` is a constant at every call, so the slice and its length check fold away.
    let bytes: &[u8; 8] = h[at..at + 8].try_into().expect("a word inside the header");
    u64::from_le_bytes(*bytes)
}

/// `'0'` in every byte.
const ZEROS: u64 = 0x3030_3030_3030_3030;

/// Zero if and only if all 8 bytes of `w` are ASCII digits.
///
/// Each offending byte sets its own high bit in one of the two: a byte below `'0'` (0x30) or
/// above 0xB9 in the subtraction (it borrows, or 0xBA - 0x30 = 0x8A), a byte from `':'` to 0xB9
/// in the addition (`':'` + 0x46 = 0x80, 0xB9 + 0x46 = 0xFF). A borrow or carry crosses into the
/// next byte only out of a byte that is flagged itself, so the lowest offending byte is always
/// flagged, and an all-digit word, which neither borrows nor carries, never is.
#[inline(always)]
fn non_digits(w: u64) -> u64 {
    (w.wrapping_sub(ZEROS) | w.wrapping_add(0x4646_4646_4646_4646)) & 0x8080_8080_8080_8080
}

/// Two 4-digit numbers from 8 ASCII digits (as [`word`] loads them, checked by [`non_digits`]):
/// the first four digits' value in the low 32 bits, the last four's in the high 32 bits.
#[inline(always)]
fn four_digit_halves(w: u64) -> u64 {
    // Each byte its digit value, d0 (most significant) lowest.
    let v = w.wrapping_sub(ZEROS);
    // Multiplying by 10 << 8 | 1 adds 10 * d(i-1) to each byte d(i) (at most 99: no carries);
    // shifting down and masking keeps 10 * d0 + d1, 10 * d2 + d3, ... in the 16-bit lanes.
    let v = (v.wrapping_mul(10 << 8 | 1) >> 8) & 0x00FF_00FF_00FF_00FF;
    // The same on 16-bit lanes (at most 9999): 4-digit numbers in the 32-bit lanes.
    (v.wrapping_mul(100 << 16 | 1) >> 16) & 0x0000_FFFF_0000_FFFF
}

/// The value of 8 ASCII digits (as [`word`] loads them, checked by [`non_digits`]).
#[inline(always)]
fn eight_digits(w: u64) -> u64 {
    let v = four_digit_halves(w);
    // The same on 32-bit lanes: the high half of the product is 10000 * first four + last four.
    v.wrapping_mul(10_000 << 32 | 1) >> 32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_fixed() {
        let mut buf = Vec::new();
        format_line(&mut buf, 42, 1_700_000_000_123_456_789, 7, 64);
        assert_eq!(buf.len(), 64);
        let s = std::str::from_utf8(&buf).unwrap();
        assert_eq!(
            s,
            "0000000000000042 1700000000123456789 0007 xxxxxxxxxxxxxxxxxxxxx\n"
        );
        assert_eq!(MIN_LINE_SIZE, 43);
    }

    #[test]
    fn round_trip() {
        let cases = [
            (0, 0, 0),
            (1, 1, 1),
            (MAX_SEQ, 9_999_999_999_999_999_999, MAX_STREAM),
            (12_345_678_901_234, 1_763_000_000_000_000_000, 42),
            (99_999_999, 100_000_000, 100),
            (100_000_000, 99_999_999, 1000),
        ];
        for size in [MIN_LINE_SIZE, 44, 128, 1000] {
            for &(seq, ts_ns, stream) in &cases {
                let mut buf = vec![b'#'];
                format_line(&mut buf, seq, ts_ns, stream, size);
                assert_eq!(buf.len(), size + 1);
                assert_eq!(buf[size], b'\n');
                let want = Some(ParsedLine { seq, ts_ns, stream });
                assert_eq!(parse_line(&buf[1..]), want, "size {size}");
                assert_eq!(parse_line(&buf[1..size]), want, "without newline");
            }
        }
    }

    #[test]
    fn minimum_size_line_has_empty_filler() {
        let mut buf = Vec::new();
        format_line(&mut buf, 5, 6, 7, MIN_LINE_SIZE);
        assert_eq!(&buf[HEADER_LEN - 1..], b" \n");
        assert_eq!(check_size(MIN_LINE_SIZE - 1), Err(BadLineSize(42)));
        assert_eq!(check_size(32), Err(BadLineSize(32)));
        assert!(check_size(MIN_LINE_SIZE).is_ok());
    }

    #[test]
    fn rejects_anything_else() {
        let mut good = Vec::new();
        format_line(&mut good, 7, 8, 9, 64);
        assert!(parse_line(&good).is_some());
        assert_eq!(parse_line(b""), None);
        assert_eq!(parse_line(b"hello world"), None);
        assert_eq!(
            parse_line(&good[..HEADER_LEN - 1]),
            None,
            "truncated header"
        );
        // Corrupt every header byte in turn, with bytes just outside the digit range.
        for i in 0..HEADER_LEN {
            for bad in [b'/', b':', b'a', 0, 0xff, b'\n'] {
                let mut line = good.clone();
                if line[i] == bad {
                    continue;
                }
                line[i] = bad;
                assert_eq!(parse_line(&line), None, "byte {i} = {bad:#x}");
            }
        }
    }

    /// The format read the plain way, for `parse_line`'s arithmetic to agree with.
    fn parse_plainly(line: &[u8]) -> Option<ParsedLine> {
        let h = line.get(..HEADER_LEN)?;
        let spaces = [TS_AT - 1, STREAM_AT - 1, HEADER_LEN - 1];
        if spaces.iter().any(|&i| h[i] != b' ') {
            return None;
        }
        let field = |at: usize, n: usize| -> Option<u64> {
            let f = &h[at..at + n];
            f.iter()
                .all(u8::is_ascii_digit)
                .then(|| f.iter().fold(0, |v, &b| v * 10 + u64::from(b - b'0')))
        };
        Some(ParsedLine {
            seq: field(SEQ_AT, SEQ_DIGITS)?,
            ts_ns: field(TS_AT, TS_DIGITS)?,
            stream: field(STREAM_AT, STREAM_DIGITS)? as u16,
        })
    }

    #[test]
    fn agrees_with_a_plain_parser_on_random_and_damaged_headers() {
        let mut rng = fastrand::Rng::with_seed(7);
        // Bytes at the edges of the digit range and of the SWAR tests, and a space.
        let edges = b"/09:  !)\x00\x7f\x80\xb9\xba\xc9\xca\xff";
        let mut line = Vec::new();
        let (mut good, mut bad) = (0, 0);
        for _ in 0..100_000 {
            line.clear();
            let ts_ns = rng.u64(..10_000_000_000_000_000_000);
            format_line(
                &mut line,
                rng.u64(..=MAX_SEQ),
                ts_ns,
                rng.u16(..=MAX_STREAM),
                64,
            );
            for _ in 0..rng.usize(..3) {
                let i = rng.usize(..HEADER_LEN);
                line[i] = if rng.bool() {
                    edges[rng.usize(..edges.len())]
                } else {
                    rng.u8(..)
                };
            }
            let want = parse_plainly(&line);
            assert_eq!(
                parse_line(&line),
                want,
                "{:?}",
                String::from_utf8_lossy(&line)
            );
            if want.is_some() {
                good += 1;
            } else {
                bad += 1;
            }
        }
        // Both outcomes well exercised.
        assert!(good > 30_000 && bad > 30_000, "{good} good, {bad} bad");
    }

    #[test]
    fn a_parser_that_remembers_words_agrees_with_parse_line() {
        let mut rng = fastrand::Rng::with_seed(8);
        let mut parser = LineParser::default();
        let mut line = Vec::new();
        let (mut seq, mut ts) = (0, 1_700_000_000_000_000_000);
        for _ in 0..100_000 {
            // Mostly the next line of a stream, whose high digits repeat; now and then a jump
            // that changes them, and damage anywhere, in a remembered word too.
            seq += 1;
            ts += rng.u64(..300);
            if rng.u8(..50) == 0 {
                seq = rng.u64(..MAX_SEQ - 1_000_000);
                ts = rng.u64(..9_000_000_000_000_000_000);
            }
            line.clear();
            format_line(&mut line, seq, ts, rng.u16(..=MAX_STREAM), 64);
            if rng.u8(..10) == 0 {
                line[rng.usize(..HEADER_LEN)] = rng.u8(..);
            }
            assert_eq!(parser.parse(&line), parse_line(&line), "{:?}", line);
        }
        // The same damaged high word twice in a row, after it was remembered intact.
        line.clear();
        format_line(&mut line, 5, 6, 7, 64);
        assert!(parser.parse(&line).is_some());
        line[2] = b'x';
        assert_eq!(parser.parse(&line), None);
        assert_eq!(parser.parse(&line), None);
        line[2] = b'0';
        line[TS_AT + 1] = b'x';
        assert_eq!(parser.parse(&line), None);
        assert_eq!(parser.parse(&line), None);
    }

    #[test]
    fn write_header_rewrites_in_place() {
        let mut buf = Vec::new();
        format_line(&mut buf, 1, 2, 3, 100);
        write_header(&mut buf, 123_456, 789, 4);
        assert_eq!(
            parse_line(&buf),
            Some(ParsedLine {
                seq: 123_456,
                ts_ns: 789,
                stream: 4
            })
        );
        assert!(buf[HEADER_LEN..99].iter().all(|&b| b == FILLER));
    }
}
