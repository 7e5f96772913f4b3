//! A batch as a file channel record's payload, and back.
//!
//! ```text
//! u32 count                      events (at least 1)
//! u8  layout                     0: bodies are newline-terminated lines; 1: explicit ends
//! [u32; count] ends              with layout 1 only: each body's end offset
//! headers                        shared by every event
//! u8  per_event                  1 if per-event headers follow
//! [headers; count]               with per_event 1 only
//! u32 data_len, data             the bodies, as the batch holds them
//!
//! headers = u32 n, then n times: u32 key_len, key (UTF-8), u32 value_len, value (UTF-8)
//! ```
//!
//! Integers are little-endian. The bodies are written as the batch holds them, so a decoded
//! batch is a slice of the record's bytes, not a copy. [`decode`] checks everything a batch
//! requires of its parts and returns an error, never panics, on bytes that do not hold one
//! (a record's CRC makes that rare; a bug or a format change would not be).

use std::sync::Arc;

use bytes::Bytes;

use crate::event::{Batch, Headers, Layout};

/// Why a payload is not a batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a batch: {0}")]
pub struct DecodeError(&'static str);

/// Appends `batch` to `out`.
pub fn encode(batch: &Batch, out: &mut Vec<u8>) {
    encode_meta(batch, out);
    out.extend_from_slice(batch.data());
}

/// The payload of `batch` as two parts to write one after the other: what describes the events
/// (encoded here), then the bodies, the batch's own bytes (not copied).
pub fn encode_parts(batch: &Batch) -> [Bytes; 2] {
    let mut meta = Vec::with_capacity(64);
    encode_meta(batch, &mut meta);
    [Bytes::from(meta), batch.data().clone()]
}

/// Appends everything of `batch`'s payload but its bodies (which follow it) to `out`.
fn encode_meta(batch: &Batch, out: &mut Vec<u8>) {
    let count = batch.len() as u32;
    out.extend_from_slice(&count.to_le_bytes());
    match batch.layout() {
        Layout::Lines => out.push(0),
        Layout::Ends(ends) => {
            out.push(1);
            for e in ends.iter() {
                out.extend_from_slice(&e.to_le_bytes());
            }
        }
    }
    put_headers(out, batch.headers());
    match batch.event_headers() {
        Some(each) => {
            out.push(1);
            for h in each {
                put_headers(out, Some(h));
            }
        }
        None => out.push(0),
    }
    out.extend_from_slice(&(batch.data().len() as u32).to_le_bytes());
}

fn put_headers(out: &mut Vec<u8>, headers: Option<&Headers>) {
    let n = headers.map_or(0, Headers::len) as u32;
    out.extend_from_slice(&n.to_le_bytes());
    for (k, v) in headers.into_iter().flat_map(Headers::iter) {
        out.extend_from_slice(&(k.len() as u32).to_le_bytes());
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
        out.extend_from_slice(v.as_bytes());
    }
}

/// Reads bytes off the front of a payload.
struct Reader {
    bytes: Bytes,
    pos: usize,
}

impl Reader {
    fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        let stop = self
            .pos
            .checked_add(n)
            .filter(|&s| s <= self.bytes.len())
            .ok_or(DecodeError("cut short"))?;
        let out = &self.bytes[self.pos..stop];
        self.pos = stop;
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn string(&mut self) -> Result<String, DecodeError> {
        let len = self.u32()? as usize;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError("a header is not UTF-8"))
    }

    fn headers(&mut self) -> Result<Headers, DecodeError> {
        let n = self.u32()?;
        // Each header takes at least 8 bytes: a count beyond what is left is damage, not a
        // reason to allocate.
        if n as usize > (self.bytes.len() - self.pos) / 8 {
            return Err(DecodeError("more headers than bytes"));
        }
        let mut h = Headers::new();
        for _ in 0..n {
            let k = self.string()?;
            let v = self.string()?;
            h.insert(k, v);
        }
        Ok(h)
    }

    fn bytes(&mut self, n: usize) -> Result<Bytes, DecodeError> {
        let start = self.pos;
        self.take(n)?;
        Ok(self.bytes.slice(start..self.pos))
    }
}

/// The batch in `payload` (its bodies are a slice of it).
pub fn decode(payload: Bytes) -> Result<Batch, DecodeError> {
    let mut r = Reader {
        bytes: payload,
        pos: 0,
    };
    let count = r.u32()?;
    if count == 0 {
        return Err(DecodeError("no events"));
    }
    // Every event takes at least a byte of the payload (an end, a newline, or a header count).
    if count as usize > r.bytes.len() {
        return Err(DecodeError("more events than bytes"));
    }
    let ends = match r.u8()? {
        0 => None,
        1 => {
            let mut ends = Vec::with_capacity(count as usize);
            for _ in 0..count {
                ends.push(r.u32()?);
            }
            Some(ends)
        }
        _ => return Err(DecodeError("unknown layout")),
    };
    let shared = r.headers()?;
    let per_event = match r.u8()? {
        0 => None,
        1 => {
            let mut each = Vec::with_capacity(count as usize);
            for _ in 0..count {
                each.push(r.headers()?);
            }
            Some(each)
        }
        _ => return Err(DecodeError("unknown per-event flag")),
    };
    let data_len = r.u32()? as usize;
    let data = r.bytes(data_len)?;
    if r.pos != r.bytes.len() {
        return Err(DecodeError("bytes after the bodies"));
    }
    let batch = match ends {
        None => {
            if data.last() != Some(&b'\n') || bytecount::count(&data, b'\n') != count as usize {
                return Err(DecodeError("the lines do not match the count"));
            }
            Batch::from_lines(data, count)
        }
        Some(ends) => {
            let ordered = ends.windows(2).all(|w| w[0] <= w[1]);
            if !ordered || ends.last().map(|&e| e as usize) != Some(data.len()) {
                return Err(DecodeError("the ends do not match the bodies"));
            }
            Batch::from_ends(data, Arc::from(ends))
        }
    };
    let batch = batch.with_headers(Arc::new(shared));
    Ok(match per_event {
        Some(each) => batch.with_event_headers(Arc::from(each)),
        None => batch,
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// An event as its headers (shared and its own, sorted) and its body.
    type Event = (Vec<(String, String)>, Vec<u8>);

    /// Every event of `b`.
    fn events(b: &Batch) -> Vec<Event> {
        b.bodies()
            .enumerate()
            .map(|(i, body)| {
                let mut h: Vec<(String, String)> = b
                    .headers()
                    .into_iter()
                    .flat_map(Headers::iter)
                    .chain(b.event_headers().into_iter().flat_map(|e| e[i].iter()))
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                h.sort();
                (h, body.to_vec())
            })
            .collect()
    }

    fn round_trip(b: &Batch) -> Batch {
        let mut out = Vec::new();
        encode(b, &mut out);
        decode(Bytes::from(out)).expect("a batch reads back")
    }

    #[test]
    fn lines_and_headers_read_back() {
        let b = Batch::from_lines(Bytes::from_static(b"one\ntwo\n"), 2)
            .with_headers(Arc::new([("host", "h1")].into_iter().collect()));
        let back = round_trip(&b);
        assert_eq!(events(&back), events(&b));
        assert_eq!(back.layout(), &Layout::Lines);
        let ends = Batch::from_ends(Bytes::from_static(b"a\nbc"), Arc::from(vec![2u32, 4]))
            .with_event_headers(Arc::from(vec![
                [("k", "1")].into_iter().collect::<Headers>(),
                Headers::new(),
            ]));
        assert_eq!(events(&round_trip(&ends)), events(&ends));
    }

    proptest! {
        #[test]
        fn any_batch_reads_back(
            bodies in proptest::collection::vec(
                proptest::collection::vec(any::<u8>(), 0..40), 1..30),
            shared in proptest::collection::vec(("[a-z]{1,5}", "\\PC{0,8}"), 0..3),
            per_event in any::<bool>(),
        ) {
            let mut data = Vec::new();
            let mut ends = Vec::new();
            for b in &bodies {
                data.extend_from_slice(b);
                ends.push(data.len() as u32);
            }
            let mut batch = Batch::from_ends(Bytes::from(data), Arc::from(ends))
                .with_headers(Arc::new(shared.iter().cloned().collect()));
            if per_event {
                let each: Vec<Headers> = (0..bodies.len())
                    .map(|i| [("n", i.to_string())].into_iter().collect())
                    .collect();
                batch = batch.with_event_headers(Arc::from(each));
            }
            prop_assert_eq!(events(&round_trip(&batch)), events(&batch));
        }

        #[test]
        fn any_bytes_decode_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(Bytes::from(bytes));
        }

        #[test]
        fn a_damaged_payload_is_refused_or_reads_as_a_batch(
            at in any::<usize>(), bit in 0u8..8,
        ) {
            let b = Batch::from_lines(Bytes::from_static(b"alpha\nbeta\ngamma\n"), 3)
                .with_headers(Arc::new([("file", "/var/log/app.log")].into_iter().collect()));
            let mut out = Vec::new();
            encode(&b, &mut out);
            let at = at % out.len();
            out[at] ^= 1 << bit;
            if let Ok(back) = decode(Bytes::from(out)) {
                // Whatever it reads as, it is a well-formed batch.
                prop_assert!(!back.is_empty());
                prop_assert_eq!(back.bodies().count(), back.len());
            }
        }
    }
}
