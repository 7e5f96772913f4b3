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
#[inline]
pub fn parse_line(line: &[u8]) -> Option<ParsedLine> {
    let h: &[u8; HEADER_LEN] = line.get(..HEADER_LEN)?.try_into().ok()?;
    if h[TS_AT - 1] != b' ' || h[STREAM_AT - 1] != b' ' || h[HEADER_LEN - 1] != b' ' {
        return None;
    }
    let seq = eight(h, SEQ_AT)? * 100_000_000 + eight(h, SEQ_AT + 8)?;
    let ts_hi = eight(h, TS_AT)? * 100_000_000 + eight(h, TS_AT + 8)?;
    let ts_lo = small(&h[TS_AT + 16..TS_AT + TS_DIGITS])?;
    // 19 digits are at most 10^19 - 1, below u64::MAX: no overflow.
    let ts_ns = ts_hi * 1000 + ts_lo;
    let stream = small(&h[STREAM_AT..STREAM_AT + STREAM_DIGITS])? as u16;
    Some(ParsedLine { seq, ts_ns, stream })
}

/// Parses the 8 ASCII digits at `h[at..at + 8]` with SWAR arithmetic (simdjson's
/// `is_made_of_eight_digits_fast` / `parse_eight_digits_unrolled`).
#[inline]
fn eight(h: &[u8], at: usize) -> Option<u64> {
    let bytes: [u8; 8] = h[at..at + 8].try_into().ok()?;
    // Little-endian load: the first (most significant) digit is the lowest byte.
    let v = u64::from_le_bytes(bytes);
    // Every byte is 0x30..=0x39 iff its high nibble is 3 and adding 6 keeps it there.
    let all_digits = ((v & 0xF0F0_F0F0_F0F0_F0F0)
        | (((v.wrapping_add(0x0606_0606_0606_0606)) & 0xF0F0_F0F0_F0F0_F0F0) >> 4))
        == 0x3333_3333_3333_3333;
    if !all_digits {
        return None;
    }
    let v = v & 0x0F0F_0F0F_0F0F_0F0F;
    let v = (v.wrapping_mul(10) + (v >> 8)) & 0x00FF_00FF_00FF_00FF;
    let v = (v.wrapping_mul(100) + (v >> 16)) & 0x0000_FFFF_0000_FFFF;
    let v = v.wrapping_mul(10000) + (v >> 32);
    Some(v & 0xFFFF_FFFF)
}

/// Parses a short run of ASCII digits.
#[inline]
fn small(digits: &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for &b in digits {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + u64::from(d);
    }
    Some(v)
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
