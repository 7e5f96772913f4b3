//! The file channel's log records: how a committed put is framed on disk, and how a log is read
//! back whatever happened to it.
//!
//! A record is a fixed 32-byte header and a payload:
//!
//! ```text
//! offset size field
//!      0    4 magic          b"SPR1"
//!      4    1 kind           what the payload is (RecordKind)
//!      5    3 reserved       zero
//!      8    8 seq            the record's sequence number, increasing through the log
//!     16    4 len            payload bytes
//!     20    4 payload_crc    CRC32C of the payload
//!     24    4 log_id         the log's random identity (its segments' headers hold it)
//!     28    4 header_crc     CRC32C of bytes 0..28
//! ```
//!
//! All integers are little-endian. The header's CRC covers the payload's, so the two together
//! check header and payload; kept apart, they tell a damaged payload (its header is sound, so
//! the record's length is known and the reader steps over it) from a damaged header (the
//! length cannot be trusted: the reader looks for the next sound header). The log's identity
//! keeps a record carried inside a payload (a body that is itself a spate log, read from disk
//! by a source) from passing for one of the log's own when the reader looks for a header
//! within damaged bytes.
//!
//! [`scan`] reads a log image and never fails: it reports every sound record, every stretch of
//! bytes it had to step over and why, and whether the log ends in a torn record (a write that
//! did not complete before a crash), which the caller truncates away.

use std::fmt;

/// A record header's size.
pub const HEADER_LEN: usize = 32;

/// What starts every record.
pub const MAGIC: [u8; 4] = *b"SPR1";

/// The largest payload a record may carry (a batch bigger than this is a bug upstream, and a
/// length above it in a header is damage).
pub const MAX_PAYLOAD: u32 = 1 << 30;

/// What a record's payload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum RecordKind {
    /// A committed put: one batch of events.
    Put = 1,
    /// Committed takes: the sequence numbers (u64, little-endian, one after the other) of put
    /// records taken and delivered, which a replay no longer queues.
    Take = 2,
}

impl RecordKind {
    fn from_u8(b: u8) -> Option<RecordKind> {
        match b {
            1 => Some(RecordKind::Put),
            2 => Some(RecordKind::Take),
            _ => None,
        }
    }
}

/// Appends one record of log `log_id`, of `kind`, with sequence number `seq` and `payload`, to
/// `out`.
///
/// # Panics
/// When `payload` is longer than [`MAX_PAYLOAD`]: the channel never builds such a record.
pub fn encode(out: &mut Vec<u8>, log_id: u32, kind: RecordKind, seq: u64, payload: &[u8]) {
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|&l| l <= MAX_PAYLOAD)
        .expect("a record's payload is at most MAX_PAYLOAD bytes");
    let header = header(log_id, kind, seq, len, crc32c::crc32c(payload));
    out.reserve(HEADER_LEN + payload.len());
    out.extend_from_slice(&header);
    out.extend_from_slice(payload);
}

/// The header of a record of log `log_id`, of `kind`, with sequence number `seq`, for a payload
/// of `len` bytes whose CRC32C is `payload_crc`.
pub fn header(
    log_id: u32,
    kind: RecordKind,
    seq: u64,
    len: u32,
    payload_crc: u32,
) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    header[0..4].copy_from_slice(&MAGIC);
    header[4] = kind as u8;
    header[8..16].copy_from_slice(&seq.to_le_bytes());
    header[16..20].copy_from_slice(&len.to_le_bytes());
    header[20..24].copy_from_slice(&payload_crc.to_le_bytes());
    header[24..28].copy_from_slice(&log_id.to_le_bytes());
    let header_crc = crc32c::crc32c(&header[..28]);
    header[28..32].copy_from_slice(&header_crc.to_le_bytes());
    header
}

/// A sound record found in a log image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Where its header starts.
    pub offset: usize,
    /// Its kind.
    pub kind: RecordKind,
    /// Its sequence number.
    pub seq: u64,
    /// Where its payload lies in the image.
    pub payload: std::ops::Range<usize>,
}

impl Record {
    /// Where the next record starts.
    pub fn end(&self) -> usize {
        self.payload.end
    }
}

/// Why bytes of a log were stepped over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    /// A sound header whose payload fails its CRC: the record is skipped whole.
    Payload,
    /// Bytes that do not start a sound header, up to the next one.
    Header,
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Damage::Payload => "a record whose payload fails its checksum",
            Damage::Header => "bytes that are not a sound record header",
        })
    }
}

/// A stretch of a log image that holds no sound record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Skipped {
    /// Where it starts.
    pub offset: usize,
    /// Its length.
    pub len: usize,
    /// Why.
    pub damage: Damage,
}

/// One finding of [`scan`], in log order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// A sound record.
    Record(Record),
    /// Damaged bytes, stepped over.
    Skipped(Skipped),
}

/// What [`scan`] found in a log image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    /// Records and damage, in order.
    pub found: Vec<Found>,
    /// Where the log's sound part ends: after the last sound record, or after damage followed
    /// by sound records. Bytes past it are a torn tail (a record cut short, or the start of one,
    /// with no sound record after it): truncating the log here loses nothing that was whole.
    pub end: usize,
}

impl Scan {
    /// The sound records.
    pub fn records(&self) -> impl Iterator<Item = &Record> {
        self.found.iter().filter_map(|f| match f {
            Found::Record(r) => Some(r),
            Found::Skipped(_) => None,
        })
    }

    /// Adds `by` to every offset (the image scanned started `by` bytes into its file).
    pub fn shift(&mut self, by: usize) {
        for f in &mut self.found {
            match f {
                Found::Record(r) => {
                    r.offset += by;
                    r.payload = r.payload.start + by..r.payload.end + by;
                }
                Found::Skipped(s) => s.offset += by,
            }
        }
        self.end += by;
    }

    /// The damaged stretches (not counting the torn tail).
    pub fn skipped(&self) -> impl Iterator<Item = &Skipped> {
        self.found.iter().filter_map(|f| match f {
            Found::Skipped(s) => Some(s),
            Found::Record(_) => None,
        })
    }
}

/// A header of log `log_id` read from `bytes` (at least [`HEADER_LEN`] long), if it is sound:
/// magic, known kind, zero reserved bytes, the log's identity, length within bounds, and its
/// own CRC.
fn read_header(bytes: &[u8], log_id: u32) -> Option<(RecordKind, u64, u32, u32)> {
    let h = &bytes[..HEADER_LEN];
    let word = |at: usize| u32::from_le_bytes(h[at..at + 4].try_into().expect("4 bytes"));
    if h[0..4] != MAGIC || h[5..8] != [0; 3] || word(24) != log_id {
        return None;
    }
    if crc32c::crc32c(&h[..28]) != word(28) {
        return None;
    }
    let kind = RecordKind::from_u8(h[4])?;
    let seq = u64::from_le_bytes(h[8..16].try_into().expect("8 bytes"));
    let len = word(16);
    (len <= MAX_PAYLOAD).then_some((kind, seq, len, word(20)))
}

/// Reads every record of log `log_id` in a log image.
///
/// Never fails and never panics, whatever the bytes: a record is returned only if its header
/// and payload pass their CRCs. A record whose header is sound but whose payload is not is
/// skipped whole; bytes that are not a sound header are skipped up to the next sound header
/// (found by its magic and CRC). Damage followed by no sound record, or a record cut short at
/// the end, is the torn tail, left out of [`Scan::end`].
pub fn scan(image: &[u8], log_id: u32) -> Scan {
    let mut found = Vec::new();
    let mut end = 0;
    let mut pos = 0;
    // Where damaged bytes began, while looking for the next sound header.
    let mut damaged_from: Option<usize> = None;
    while pos + HEADER_LEN <= image.len() {
        let Some((kind, seq, len, payload_crc)) = read_header(&image[pos..], log_id) else {
            damaged_from.get_or_insert(pos);
            // The next place a header may start: the next magic.
            pos = next_magic(image, pos + 1);
            continue;
        };
        let start = pos + HEADER_LEN;
        let Some(stop) = start
            .checked_add(len as usize)
            .filter(|&s| s <= image.len())
        else {
            // Cut short: the tail, unless a sound record follows (then its length lied).
            damaged_from.get_or_insert(pos);
            pos = next_magic(image, pos + 1);
            continue;
        };
        if let Some(from) = damaged_from.take() {
            found.push(Found::Skipped(Skipped {
                offset: from,
                len: pos - from,
                damage: Damage::Header,
            }));
        }
        if crc32c::crc32c(&image[start..stop]) == payload_crc {
            found.push(Found::Record(Record {
                offset: pos,
                kind,
                seq,
                payload: start..stop,
            }));
        } else {
            found.push(Found::Skipped(Skipped {
                offset: pos,
                len: stop - pos,
                damage: Damage::Payload,
            }));
        }
        pos = stop;
        end = stop;
    }
    Scan { found, end }
}

/// The first offset at or after `from` where [`MAGIC`] starts, or the image's length.
fn next_magic(image: &[u8], from: usize) -> usize {
    if from >= image.len() {
        return image.len();
    }
    memchr::memmem::find(&image[from..], &MAGIC).map_or(image.len(), |i| from + i)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const ID: u32 = 0x005e_ed1d;

    fn log_of(id: u32, payloads: &[Vec<u8>]) -> (Vec<u8>, Vec<usize>) {
        let mut out = Vec::new();
        let mut offsets = Vec::new();
        for (i, p) in payloads.iter().enumerate() {
            offsets.push(out.len());
            encode(&mut out, id, RecordKind::Put, i as u64 + 1, p);
        }
        (out, offsets)
    }

    fn log(payloads: &[Vec<u8>]) -> (Vec<u8>, Vec<usize>) {
        log_of(ID, payloads)
    }

    fn payloads_of(image: &[u8], scan: &Scan) -> Vec<Vec<u8>> {
        scan.records()
            .map(|r| image[r.payload.clone()].to_vec())
            .collect()
    }

    #[test]
    fn records_read_back_in_order() {
        let payloads = vec![b"one".to_vec(), Vec::new(), vec![7; 5000]];
        let (image, offsets) = log(&payloads);
        let s = scan(&image, ID);
        assert_eq!(payloads_of(&image, &s), payloads);
        let seqs: Vec<u64> = s.records().map(|r| r.seq).collect();
        assert_eq!(seqs, [1, 2, 3]);
        assert_eq!(s.records().next().unwrap().offset, offsets[0]);
        assert_eq!(s.end, image.len());
        assert_eq!(s.skipped().count(), 0);
    }

    #[test]
    fn a_torn_tail_is_left_out_of_the_end() {
        let (image, offsets) = log(&[b"first".to_vec(), b"second".to_vec()]);
        for cut in offsets[1] + 1..image.len() {
            let s = scan(&image[..cut], ID);
            assert_eq!(payloads_of(&image, &s), [b"first".to_vec()], "cut at {cut}");
            assert_eq!(s.end, offsets[1], "cut at {cut}");
            assert_eq!(
                s.skipped().count(),
                0,
                "a torn tail is not damage: cut at {cut}"
            );
        }
    }

    #[test]
    fn a_damaged_payload_is_stepped_over_whole() {
        let (mut image, offsets) = log(&[b"a".to_vec(), b"bbbb".to_vec(), b"c".to_vec()]);
        image[offsets[1] + HEADER_LEN + 2] ^= 0x40;
        let s = scan(&image, ID);
        assert_eq!(payloads_of(&image, &s), [b"a".to_vec(), b"c".to_vec()]);
        let skipped: Vec<_> = s.skipped().copied().collect();
        assert_eq!(
            skipped,
            [Skipped {
                offset: offsets[1],
                len: HEADER_LEN + 4,
                damage: Damage::Payload
            }]
        );
        assert_eq!(s.end, image.len());
    }

    #[test]
    fn a_damaged_header_is_skipped_to_the_next_sound_one() {
        let (mut image, offsets) = log(&[b"a".to_vec(), b"bbbb".to_vec(), b"c".to_vec()]);
        image[offsets[1] + 17] ^= 0x01; // its length
        let s = scan(&image, ID);
        assert_eq!(payloads_of(&image, &s), [b"a".to_vec(), b"c".to_vec()]);
        let skipped: Vec<_> = s.skipped().copied().collect();
        assert_eq!(
            skipped,
            [Skipped {
                offset: offsets[1],
                len: offsets[2] - offsets[1],
                damage: Damage::Header
            }]
        );
    }

    #[test]
    fn a_payload_holding_a_log_is_not_mistaken_for_records() {
        // A payload that is itself a log: sound headers inside a sound record are its bytes.
        let (inner, _) = log_of(7, &[b"x".to_vec(), b"y".to_vec()]);
        let (mut image, offsets) = log(&[inner.clone(), b"z".to_vec()]);
        let s = scan(&image, ID);
        assert_eq!(payloads_of(&image, &s), [inner, b"z".to_vec()]);
        // Its header damaged, the reader looks for the next header of this log: the records
        // of the other log inside are passed over.
        image[offsets[0] + 9] ^= 0x10;
        let s = scan(&image, ID);
        assert_eq!(payloads_of(&image, &s), [b"z".to_vec()]);
        let skipped: Vec<_> = s.skipped().copied().collect();
        assert_eq!(
            skipped,
            [Skipped {
                offset: 0,
                len: offsets[1],
                damage: Damage::Header
            }]
        );
    }

    /// One change to a log image.
    #[derive(Debug, Clone)]
    enum Harm {
        Truncate(usize),
        Flip(usize, u8),
        Zero(usize, usize),
    }

    fn harm() -> impl Strategy<Value = Harm> {
        prop_oneof![
            any::<usize>().prop_map(Harm::Truncate),
            (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Harm::Flip(at, bit)),
            (any::<usize>(), 1usize..200).prop_map(|(at, len)| Harm::Zero(at, len)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Whatever is done to a log: no panic; every record returned is one that was written,
        /// whole; every record that ends before the first harmed byte is returned.
        #[test]
        fn recovery_keeps_what_is_whole(
            payloads in proptest::collection::vec(
                proptest::collection::vec(any::<u8>(), 0..300), 1..20),
            harms in proptest::collection::vec(harm(), 1..4),
        ) {
            let (mut image, offsets) = log(&payloads);
            let mut first_harm = image.len();
            for h in &harms {
                if image.is_empty() {
                    break;
                }
                match *h {
                    Harm::Truncate(at) => {
                        let at = at % image.len();
                        image.truncate(at);
                        first_harm = first_harm.min(at);
                    }
                    Harm::Flip(at, bit) => {
                        let at = at % image.len();
                        image[at] ^= 1 << bit;
                        first_harm = first_harm.min(at);
                    }
                    Harm::Zero(at, len) => {
                        let at = at % image.len();
                        let stop = (at + len).min(image.len());
                        image[at..stop].fill(0);
                        first_harm = first_harm.min(at);
                    }
                }
            }
            let s = scan(&image, ID);
            prop_assert!(s.end <= image.len());
            for r in s.records() {
                let i = (r.seq - 1) as usize;
                prop_assert!(i < payloads.len(), "a record that was never written: {r:?}");
                prop_assert_eq!(r.offset, offsets[i]);
                prop_assert_eq!(&image[r.payload.clone()], &payloads[i][..]);
            }
            let returned: Vec<u64> = s.records().map(|r| r.seq).collect();
            for (i, &offset) in offsets.iter().enumerate() {
                let end = offset + HEADER_LEN + payloads[i].len();
                if end <= first_harm {
                    prop_assert!(returned.contains(&(i as u64 + 1)),
                        "record {} (ends at {end}) lost before the harm at {first_harm}", i + 1);
                }
            }
            // Sound records come in log order.
            prop_assert!(returned.windows(2).all(|w| w[0] < w[1]));
        }
    }
}
