//! Splitting a connection's byte stream into frames: newline-terminated lines or RFC 6587
//! octet-counted messages (`LEN SP MSG`).
//!
//! The receive loop reads every connection into one shared buffer. A [`Connection`] keeps only the
//! incomplete frame at the end of its last read (`pending`), which the loop copies in front of the
//! next read's bytes, the way ripgrep's line buffer rolls a partial line forward.
//! Whole frames are handed to a [`Frames`] sink (the receiver's [`Tally`]) straight from the
//! buffer, without copying.

use memchr::{memchr, memchr_iter, Memchr};

use super::tally::Tally;

/// How frames are delimited on the wire.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Framing {
    /// Each frame ends with `\n`.
    Newline,
    /// RFC 6587 octet counting: `LEN SP MSG`, `LEN` decimal without leading zero.
    OctetCounting,
}

/// What a [`Connection`] hands its frames to.
pub trait Frames {
    /// A run of complete frames, each as (body without its terminator or length prefix, bytes
    /// it took on the wire). Called with all the complete frames of a read at once.
    fn frames<'a>(&mut self, frames: impl Iterator<Item = (&'a [u8], usize)>);

    /// A frame that could not be read: oversized (skipped with bounded memory) or,
    /// octet-counted, with an invalid length prefix.
    fn malformed(&mut self);

    /// A partial frame left when the connection closed (a sender killed mid-write); malformed
    /// unless the sink tells the two apart.
    fn cut_short(&mut self) {
        self.malformed();
    }
}

impl Frames for Tally {
    #[inline]
    fn frames<'a>(&mut self, frames: impl Iterator<Item = (&'a [u8], usize)>) {
        Tally::frames(self, frames);
    }

    fn malformed(&mut self) {
        Tally::malformed(self);
    }
}

/// Longest `LEN SP` header accepted: 10 digits and the space.
const MAX_HEADER: usize = 11;

/// Bytes being skipped after a frame that could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Discard {
    Nothing,
    /// An oversized or unframed line: skip through the next `\n`.
    ThroughNewline,
    /// An oversized octet-counted message: skip this many more bytes.
    Bytes(u64),
}

/// Framing state of one TCP connection.
#[derive(Debug)]
pub struct Connection {
    framing: Framing,
    /// Largest frame body accepted; longer ones are counted as malformed and skipped.
    max_frame: usize,
    /// The incomplete frame at the end of the last read. Invariant: shorter than
    /// `max_frame + MAX_HEADER + 1` = [`Connection::carry_capacity`].
    pending: Vec<u8>,
    discard: Discard,
}

impl Connection {
    pub fn new(framing: Framing, max_frame: usize) -> Self {
        Connection {
            framing,
            max_frame,
            pending: Vec::new(),
            discard: Discard::Nothing,
        }
    }

    /// Room a read buffer must keep in front of the new bytes for the carried partial frame.
    pub fn carry_capacity(max_frame: usize) -> usize {
        max_frame + MAX_HEADER + 1
    }

    /// After new bytes were read into `buf[at..]`, copies the pending partial frame right in front
    /// of them and returns where it starts (`at` is at least [`Connection::carry_capacity`]); the
    /// caller then passes `buf[start..at + n]` to [`Connection::consume`].
    pub fn prepend_pending(&mut self, buf: &mut [u8], at: usize) -> usize {
        let start = at - self.pending.len();
        buf[start..at].copy_from_slice(&self.pending);
        self.pending.clear();
        start
    }

    /// Hands every complete frame in `data` to `tally` and keeps the incomplete tail.
    pub fn consume(&mut self, data: &[u8], tally: &mut impl Frames) {
        match self.framing {
            Framing::Newline => self.consume_lines(data, tally),
            Framing::OctetCounting => self.consume_octets(data, tally),
        }
    }

    /// The peer closed: a partial frame that can no longer complete is malformed. (A new
    /// connection never continues another one's frame.)
    pub fn close(&mut self, tally: &mut impl Frames) {
        if !self.pending.is_empty() {
            tally.cut_short();
            self.pending.clear();
        }
        // A frame being discarded was counted when the discarding began.
        self.discard = Discard::Nothing;
    }

    fn consume_lines(&mut self, data: &[u8], tally: &mut impl Frames) {
        let mut start = 0;
        if self.discard == Discard::ThroughNewline {
            match memchr(b'\n', data) {
                Some(i) => {
                    start = i + 1;
                    self.discard = Discard::Nothing;
                }
                None => return,
            }
        }
        let mut lines = Lines::new(data, start);
        tally.frames(&mut lines);
        self.keep_tail(&data[lines.start..], tally);
    }

    fn consume_octets(&mut self, data: &[u8], tally: &mut impl Frames) {
        let mut pos = 0;
        loop {
            match self.discard {
                Discard::Nothing => {}
                Discard::Bytes(n) => {
                    let avail = (data.len() - pos) as u64;
                    if n > avail {
                        self.discard = Discard::Bytes(n - avail);
                        return;
                    }
                    pos += n as usize;
                    self.discard = Discard::Nothing;
                }
                Discard::ThroughNewline => match memchr(b'\n', &data[pos..]) {
                    Some(i) => {
                        pos += i + 1;
                        self.discard = Discard::Nothing;
                    }
                    None => return,
                },
            }
            // The common case, whole frames one after the other, in one go; the match below
            // sees what stopped them.
            pos = if starts_repeating(&data[pos..]) {
                Octets::<true>::feed(data, pos, self.max_frame, tally)
            } else {
                Octets::<false>::feed(data, pos, self.max_frame, tally)
            };
            let rest = &data[pos..];
            if rest.is_empty() {
                return;
            }
            match octet_header(rest) {
                Header::Incomplete => {
                    self.pending.extend_from_slice(rest);
                    return;
                }
                Header::Invalid => {
                    // Framing is lost; resynchronise at the next newline, the best guess a
                    // receiver has (senders that mix in newline framing end messages with one).
                    tally.malformed();
                    self.discard = Discard::ThroughNewline;
                }
                Header::Frame { header, len } => {
                    if len > self.max_frame as u64 {
                        tally.malformed();
                        pos += header;
                        self.discard = Discard::Bytes(len);
                        continue;
                    }
                    let end = header + len as usize;
                    if rest.len() < end {
                        self.pending.extend_from_slice(rest);
                        return;
                    }
                    tally.frames(std::iter::once((&rest[header..end], end)));
                    pos += end;
                }
            }
        }
    }

    /// Keeps an incomplete line for the next read, or starts discarding it if it is already
    /// longer than any frame may be (memory stays bounded whatever the peer sends).
    fn keep_tail(&mut self, tail: &[u8], tally: &mut impl Frames) {
        if tail.len() > self.max_frame {
            tally.malformed();
            self.discard = Discard::ThroughNewline;
        } else {
            self.pending.extend_from_slice(tail);
        }
    }
}

/// The complete lines in `data` from a start on, as (body, bytes on the wire); when it is done,
/// `start` is where the incomplete tail begins.
struct Lines<'a> {
    data: &'a [u8],
    /// Where the next line starts.
    start: usize,
    /// Where the search for newlines began: their positions are relative to it.
    base: usize,
    newlines: Memchr<'a>,
}

impl<'a> Lines<'a> {
    fn new(data: &'a [u8], start: usize) -> Self {
        Lines {
            data,
            start,
            base: start,
            newlines: memchr_iter(b'\n', &data[start..]),
        }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = (&'a [u8], usize);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let end = self.base + self.newlines.next()?;
        let frame = (&self.data[self.start..end], end + 1 - self.start);
        self.start = end + 1;
        Some(frame)
    }
}

/// The octet-counted frames in `data` from `pos` on, as (message, bytes on the wire), as long as
/// they are complete and within `max_frame`; it stops at anything else (an incomplete or invalid
/// header, an oversized or incomplete message), with `pos` at its start.
///
/// With `REPEATS`, for frames of one size run after run: a header is first compared with the
/// previous one, as one word, and read digit by digit only if it differs. That costs a little
/// on frames whose size varies: [`starts_repeating`] chooses.
struct Octets<'a, const REPEATS: bool> {
    data: &'a [u8],
    pos: usize,
    max_frame: usize,
    last: LastHeader,
}

/// The previous frame's header, if it fit in a word.
#[derive(Debug, Clone, Copy)]
struct LastHeader {
    /// Its bytes, as a little-endian word with the bytes past it zero.
    bytes: u64,
    /// Ones over its bytes.
    mask: u64,
    header: usize,
    len: usize,
}

/// Whether `data` starts with two frames whose headers are the same. A guess, to choose between
/// `Octets<true>` and `Octets<false>`, which give the same frames.
fn starts_repeating(data: &[u8]) -> bool {
    let Header::Frame { header, len } = octet_header(data) else {
        return false;
    };
    let next = usize::try_from(len).map_or(usize::MAX, |len| len.saturating_add(header));
    data.get(next..)
        .is_some_and(|next| next.starts_with(&data[..header]))
}

impl<'a, const REPEATS: bool> Octets<'a, REPEATS> {
    fn new(data: &'a [u8], pos: usize, max_frame: usize) -> Self {
        Octets {
            data,
            pos,
            max_frame,
            // Nothing equals 1 under a mask of 0: no header matches until one is remembered.
            last: LastHeader {
                bytes: 1,
                mask: 0,
                header: 0,
                len: 0,
            },
        }
    }

    /// Hands the frames of `data` from `pos` on to `tally`; returns where they stop.
    fn feed(data: &'a [u8], pos: usize, max_frame: usize, tally: &mut impl Frames) -> usize {
        let mut frames = Self::new(data, pos, max_frame);
        tally.frames(&mut frames);
        frames.pos
    }
}

impl<'a, const REPEATS: bool> Iterator for Octets<'a, REPEATS> {
    type Item = (&'a [u8], usize);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let rest = &self.data[self.pos..];
        let first_word = rest.first_chunk().map(|w| u64::from_le_bytes(*w));
        let last = self.last;
        // A header that equals the previous one reads the same: octet_header looks no further
        // than the space that ends it.
        let (header, len) = match first_word {
            Some(w) if REPEATS && w & last.mask == last.bytes => (last.header, last.len),
            _ => {
                let Header::Frame { header, len } = octet_header(rest) else {
                    return None;
                };
                if len > self.max_frame as u64 {
                    return None;
                }
                // At most max_frame: no truncation.
                let len = len as usize;
                if let Some(w) = first_word.filter(|_| REPEATS && header <= 8) {
                    let mask = u64::MAX >> (64 - 8 * header);
                    self.last = LastHeader {
                        bytes: w & mask,
                        mask,
                        header,
                        len,
                    };
                }
                (header, len)
            }
        };
        // At most max_frame + MAX_HEADER: no overflow.
        let end = header + len;
        let message = rest.get(header..end)?;
        self.pos += end;
        Some((message, end))
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Header {
    Incomplete,
    Invalid,
    /// `header` bytes of `LEN SP`, then a `len`-byte message.
    Frame {
        header: usize,
        len: u64,
    },
}

/// Reads an RFC 6587 `MSG-LEN SP` prefix (`MSG-LEN = NONZERO-DIGIT *DIGIT`).
fn octet_header(data: &[u8]) -> Header {
    let mut len = 0u64;
    for (i, &b) in data.iter().take(MAX_HEADER).enumerate() {
        match b {
            b' ' if i > 0 => return Header::Frame { header: i + 1, len },
            b'1'..=b'9' => len = len * 10 + u64::from(b - b'0'),
            b'0' if i > 0 => len *= 10,
            _ => return Header::Invalid,
        }
    }
    if data.len() >= MAX_HEADER {
        Header::Invalid
    } else {
        Header::Incomplete
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::line::{format_line, MIN_LINE_SIZE};

    const MAX: usize = 1000;

    fn lines(seqs: std::ops::Range<u64>, size: usize) -> Vec<u8> {
        let mut buf = Vec::new();
        for seq in seqs {
            format_line(&mut buf, seq, 9, 0, size);
        }
        buf
    }

    fn octets(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for line in data.split_inclusive(|&b| b == b'\n') {
            let msg = line.strip_suffix(b"\n").unwrap_or(line);
            out.extend_from_slice(format!("{} ", msg.len()).as_bytes());
            out.extend_from_slice(msg);
        }
        out
    }

    /// Feeds `data` through one connection in reads of the given sizes (cycled), the way the
    /// receive loop does, then closes it.
    fn run(framing: Framing, data: &[u8], reads: &[usize]) -> Tally {
        let mut tally = Tally::new();
        let mut conn = Connection::new(framing, MAX);
        let at = Connection::carry_capacity(MAX);
        let mut buf = vec![0; at + 4096];
        let mut pos = 0;
        for &r in reads.iter().cycle() {
            if pos >= data.len() {
                break;
            }
            let n = r.min(data.len() - pos);
            buf[at..at + n].copy_from_slice(&data[pos..pos + n]);
            let start = conn.prepend_pending(&mut buf, at);
            conn.consume(&buf[start..at + n], &mut tally);
            pos += n;
        }
        conn.close(&mut tally);
        tally
    }

    const SPLITS: &[&[usize]] = &[&[4096], &[1], &[7, 13, 1, 200], &[127], &[128], &[129]];

    #[test]
    fn newline_frames_survive_any_read_boundary() {
        let data = lines(0..100, 128);
        for reads in SPLITS {
            let s = run(Framing::Newline, &data, reads).summary(Some(100));
            assert_eq!((s.unique, s.missing, s.malformed), (100, 0, 0), "{reads:?}");
            assert_eq!(s.streams["0"].bytes, 12_800);
        }
    }

    #[test]
    fn octet_frames_survive_any_read_boundary() {
        let data = octets(&lines(0..100, 128));
        for reads in SPLITS {
            let s = run(Framing::OctetCounting, &data, reads).summary(Some(100));
            assert_eq!((s.unique, s.missing, s.malformed), (100, 0, 0), "{reads:?}");
            assert_eq!(s.streams["0"].bytes, 100 * (127 + 4));
        }
    }

    #[test]
    fn partial_line_at_close_is_malformed() {
        let mut data = lines(0..10, 64);
        data.truncate(data.len() - 5);
        for reads in SPLITS {
            let s = run(Framing::Newline, &data, reads).summary(None);
            assert_eq!((s.unique, s.malformed), (9, 1), "{reads:?}");
        }
        let mut data = octets(&lines(0..10, 64));
        data.truncate(data.len() - 5);
        let s = run(Framing::OctetCounting, &data, &[10]).summary(None);
        assert_eq!((s.unique, s.malformed), (9, 1));
    }

    #[test]
    fn next_connection_does_not_continue_a_cut_line() {
        let data = lines(0..4, 64);
        let mut tally = Tally::new();
        let at = Connection::carry_capacity(MAX);
        let mut buf = vec![0; at + 4096];
        for part in [&data[..100], &data[100..]] {
            let mut conn = Connection::new(Framing::Newline, MAX);
            buf[at..at + part.len()].copy_from_slice(part);
            let start = conn.prepend_pending(&mut buf, at);
            conn.consume(&buf[start..at + part.len()], &mut tally);
            conn.close(&mut tally);
        }
        // Line 1 is split over the two connections: its head is cut at close, its tail is junk.
        let s = tally.summary(None);
        assert_eq!((s.unique, s.missing, s.malformed), (3, 1, 2));
    }

    #[test]
    fn oversized_lines_are_skipped_with_bounded_memory() {
        let mut data = lines(0..2, 64);
        data.extend(std::iter::repeat_n(b'y', 5 * MAX));
        data.push(b'\n');
        data.extend(lines(2..4, 64));
        for reads in SPLITS {
            let s = run(Framing::Newline, &data, reads).summary(None);
            assert_eq!((s.unique, s.missing, s.malformed), (4, 0, 1), "{reads:?}");
        }
        let mut data = octets(&lines(0..2, 64));
        data.extend(format!("{} ", 5 * MAX).as_bytes());
        data.extend(std::iter::repeat_n(b'\n', 5 * MAX));
        data.extend(octets(&lines(2..4, 64)));
        for reads in SPLITS {
            let s = run(Framing::OctetCounting, &data, reads).summary(None);
            assert_eq!((s.unique, s.missing, s.malformed), (4, 0, 1), "{reads:?}");
        }
    }

    #[test]
    fn bad_octet_header_resynchronises_at_newline() {
        let mut data = octets(&lines(0..2, 64));
        data.extend_from_slice(b"012 garbage\n");
        data.extend(octets(&lines(2..4, 64)));
        data.extend_from_slice(b"xyz\n");
        data.extend(octets(&lines(4..5, 64)));
        for reads in SPLITS {
            let s = run(Framing::OctetCounting, &data, reads).summary(None);
            assert_eq!((s.unique, s.malformed), (5, 2), "{reads:?}");
        }
    }

    /// What `Octets` gives: the frames and where they stop.
    fn all_octets<const REPEATS: bool>(data: &[u8], pos: usize) -> (Vec<(&[u8], usize)>, usize) {
        let mut octets = Octets::<REPEATS>::new(data, pos, MAX);
        (octets.by_ref().collect(), octets.pos)
    }

    /// Octet-counted frames read the plain way, every header digit by digit: the frames and
    /// where they stop.
    fn octets_plainly(data: &[u8], mut pos: usize) -> (Vec<(&[u8], usize)>, usize) {
        let mut frames = Vec::new();
        loop {
            let rest = &data[pos..];
            let Header::Frame { header, len } = octet_header(rest) else {
                break;
            };
            let end = header + len as usize;
            if len > MAX as u64 || rest.len() < end {
                break;
            }
            frames.push((&rest[header..end], end));
            pos += end;
        }
        (frames, pos)
    }

    #[test]
    fn octets_agree_with_a_plain_reading_whatever_the_headers() {
        let mut rng = fastrand::Rng::with_seed(12);
        // Lengths on either side of a change in digit count, so that one header is a prefix of
        // the next ("10 " and "100 "), and one that is too long.
        let lens = [1, 9, 10, 11, 99, 100, 101, 127, 999, MAX, MAX + 1];
        for _ in 0..200 {
            let mut data = Vec::new();
            while data.len() < 20_000 {
                let len = lens[rng.usize(..lens.len())];
                for _ in 0..rng.usize(1..100) {
                    data.extend(format!("{len} ").as_bytes());
                    data.extend(std::iter::repeat_n(b'm', len));
                }
            }
            match rng.u8(..4) {
                0 => data.extend_from_slice(b"012 bad header"),
                1 => data.extend_from_slice(b"50 cut short"),
                2 => data.extend_from_slice(b"123"),
                _ => {}
            }
            // Start on a header, as the decoder does: that of the first, second or third frame.
            let (frames, _) = octets_plainly(&data, 0);
            let start = frames
                .iter()
                .take(rng.usize(..3))
                .map(|&(_, end)| end)
                .sum();
            let want = octets_plainly(&data, start);
            assert_eq!(all_octets::<true>(&data, start), want);
            assert_eq!(all_octets::<false>(&data, start), want);
        }
    }

    #[test]
    fn runs_of_lines_of_varying_size_survive_any_read_boundary() {
        let mut rng = fastrand::Rng::with_seed(13);
        let mut data = Vec::new();
        let mut seq = 0;
        let mut bytes = 0;
        while seq < 3000 {
            let size = rng.usize(MIN_LINE_SIZE..300);
            for _ in 0..rng.usize(1..300) {
                format_line(&mut data, seq, 9, 0, size);
                seq += 1;
                bytes += size as u64;
            }
        }
        let reads: Vec<usize> = (0..50).map(|_| rng.usize(1..=4096)).collect();
        for reads in [&reads[..], &[1], &[4096], &[129]] {
            let s = run(Framing::Newline, &data, reads).summary(Some(seq));
            assert_eq!((s.unique, s.missing, s.malformed), (seq, 0, 0), "{reads:?}");
            assert_eq!(s.streams["0"].bytes, bytes);
            let framed = octets(&data);
            let s = run(Framing::OctetCounting, &framed, reads).summary(Some(seq));
            assert_eq!((s.unique, s.missing, s.malformed), (seq, 0, 0), "{reads:?}");
            assert_eq!(s.streams["0"].bytes, framed.len() as u64);
        }
    }

    #[test]
    fn the_guess_chooses_the_fast_path_for_frames_of_one_size() {
        assert!(starts_repeating(&octets(&lines(0..10, 128))));
        let mut varied = lines(0..1, 100);
        varied.extend(lines(1..10, 128));
        assert!(!starts_repeating(&octets(&varied)));
        assert!(!starts_repeating(b"5 hello"));
        assert!(!starts_repeating(b"junk"));
    }

    #[test]
    fn octet_header_grammar() {
        assert_eq!(
            octet_header(b"5 hello"),
            Header::Frame { header: 2, len: 5 }
        );
        assert_eq!(octet_header(b"10 "), Header::Frame { header: 3, len: 10 });
        assert_eq!(octet_header(b"123"), Header::Incomplete);
        assert_eq!(octet_header(b""), Header::Incomplete);
        assert_eq!(octet_header(b"0 "), Header::Invalid);
        assert_eq!(octet_header(b" 5"), Header::Invalid);
        assert_eq!(octet_header(b"5x"), Header::Invalid);
        assert_eq!(octet_header(b"12345678901 "), Header::Invalid);
        assert_eq!(
            octet_header(b"9999999999 "),
            Header::Frame {
                header: 11,
                len: 9_999_999_999
            }
        );
    }
}
