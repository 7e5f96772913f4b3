//! Avro's binary encoding, the part Flume's protocol uses: longs and ints as zig-zag varints,
//! strings and bytes as a length and the bytes, unions as a branch index, maps and arrays as
//! blocks of items ended by an empty block.
//!
//! Written by hand rather than with the `apache-avro` crate: its `Value` model allocates for
//! every field of every event, where a sink frames a whole batch into one buffer and a source
//! reads bodies as slices of the received frame. The reader never trusts a length: each is
//! checked against the bytes actually left before anything is sliced or allocated.

use bytes::{BufMut, Bytes};

/// Why bytes are not the Avro data they should be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The data ends inside a value.
    #[error("truncated {0}")]
    Truncated(&'static str),
    /// A varint longer than 10 bytes.
    #[error("a varint runs past 64 bits")]
    VarintTooLong,
    /// A negative or too large length, count or index.
    #[error("invalid {what}: {value}")]
    Invalid {
        /// What was read.
        what: &'static str,
        /// Its value.
        value: i64,
    },
    /// A string that is not UTF-8.
    #[error("a {0} is not UTF-8")]
    NotUtf8(&'static str),
}

/// Appends `v` as a zig-zag varint.
pub fn put_long(out: &mut impl BufMut, v: i64) {
    let mut n = ((v << 1) ^ (v >> 63)) as u64;
    while n >= 0x80 {
        out.put_u8((n as u8) | 0x80);
        n >>= 7;
    }
    out.put_u8(n as u8);
}

/// Appends `b` as Avro `bytes` (or `string`): its length, then the bytes.
pub fn put_bytes(out: &mut impl BufMut, b: &[u8]) {
    put_long(out, b.len() as i64);
    out.put_slice(b);
}

/// Reads Avro data from a buffer, in order.
#[derive(Debug, Clone)]
pub struct Reader {
    buf: Bytes,
    pos: usize,
}

impl Reader {
    /// A reader at the start of `buf`.
    pub fn new(buf: Bytes) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// A zig-zag varint.
    pub fn long(&mut self, what: &'static str) -> Result<i64, WireError> {
        let mut n: u64 = 0;
        for i in 0..10 {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(WireError::Truncated(what));
            };
            self.pos += 1;
            n |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(((n >> 1) as i64) ^ -((n & 1) as i64));
            }
        }
        Err(WireError::VarintTooLong)
    }

    /// A length, count or index: a long in `0..=max`.
    pub fn count(&mut self, what: &'static str, max: usize) -> Result<usize, WireError> {
        let v = self.long(what)?;
        if v < 0 || v as u64 > max as u64 {
            return Err(WireError::Invalid { what, value: v });
        }
        Ok(v as usize)
    }

    /// Avro `boolean`: one byte, 0 or 1.
    pub fn boolean(&mut self, what: &'static str) -> Result<bool, WireError> {
        let Some(&b) = self.buf.get(self.pos) else {
            return Err(WireError::Truncated(what));
        };
        self.pos += 1;
        match b {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(WireError::Invalid {
                what,
                value: i64::from(b),
            }),
        }
    }

    /// `n` raw bytes (Avro `fixed`).
    pub fn fixed(&mut self, n: usize, what: &'static str) -> Result<Bytes, WireError> {
        if self.remaining() < n {
            return Err(WireError::Truncated(what));
        }
        let b = self.buf.slice(self.pos..self.pos + n);
        self.pos += n;
        Ok(b)
    }

    /// Avro `bytes`: a slice of the buffer, not a copy.
    pub fn bytes(&mut self, what: &'static str) -> Result<Bytes, WireError> {
        let n = self.count(what, self.remaining())?;
        self.fixed(n, what)
    }

    /// Avro `string`.
    pub fn string(&mut self, what: &'static str) -> Result<String, WireError> {
        let b = self.bytes(what)?;
        String::from_utf8(b.to_vec()).map_err(|_| WireError::NotUtf8(what))
    }

    /// The count of the next block of a map or an array: 0 ends it. A negative count is
    /// followed by the block's size in bytes (which is skipped: the items are read anyway).
    /// A count larger than the bytes left is refused, as every item takes a byte at least.
    pub fn block(&mut self, what: &'static str) -> Result<usize, WireError> {
        let n = self.long(what)?;
        let n = if n < 0 {
            self.long(what)?; // the block's byte size
            n.checked_neg()
                .ok_or(WireError::Invalid { what, value: n })?
        } else {
            n
        };
        if n as u64 > self.remaining() as u64 {
            return Err(WireError::Invalid { what, value: n });
        }
        Ok(n as usize)
    }

    /// A union's branch index, at most `max`.
    pub fn branch(&mut self, what: &'static str, max: usize) -> Result<usize, WireError> {
        self.count(what, max)
    }

    /// Whatever was not read.
    pub fn rest(&mut self) -> Bytes {
        let b = self.buf.slice(self.pos..);
        self.pos = self.buf.len();
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn longs_are_zig_zag_varints() {
        for (v, enc) in [
            (0i64, &[0x00u8][..]),
            (-1, &[0x01]),
            (1, &[0x02]),
            (-64, &[0x7f]),
            (64, &[0x80, 0x01]),
            (1334, &[0xec, 0x14]),
        ] {
            let mut out = Vec::new();
            put_long(&mut out, v);
            assert_eq!(out, enc, "{v}");
            assert_eq!(Reader::new(Bytes::from(out)).long("x"), Ok(v));
        }
    }

    #[test]
    fn lengths_past_the_data_are_refused_without_allocating() {
        let mut out = Vec::new();
        put_long(&mut out, 1 << 40);
        out.extend_from_slice(b"abc");
        let mut r = Reader::new(Bytes::from(out));
        assert!(matches!(r.bytes("body"), Err(WireError::Invalid { .. })));
        let mut r = Reader::new(Bytes::from_static(&[0x01]));
        assert!(matches!(r.bytes("body"), Err(WireError::Invalid { .. })));
        let mut r = Reader::new(Bytes::from_static(&[0xff; 11]));
        assert_eq!(r.long("x"), Err(WireError::VarintTooLong));
    }

    proptest! {
        #[test]
        fn longs_and_bytes_round_trip(v in any::<i64>(), b in prop::collection::vec(any::<u8>(), 0..300)) {
            let mut out = Vec::new();
            put_long(&mut out, v);
            put_bytes(&mut out, &b);
            let mut r = Reader::new(Bytes::from(out));
            prop_assert_eq!(r.long("v")?, v);
            prop_assert_eq!(&r.bytes("b")?[..], &b[..]);
            prop_assert_eq!(r.remaining(), 0);
        }
    }
}
