//! Flume's `compression-type = deflate`: each direction of the connection is one zlib stream
//! (Netty's `ZlibEncoder` and `ZlibDecoder`), flushed (`Z_SYNC_FLUSH`) after every frame so
//! that the other side can read it whole.
//!
//! Memory: deflate expands at most about 1,032 to 1, so inflating one read of the socket
//! (64 KiB at most) yields at most about 66 MB, and the frame decoder that reads the output
//! refuses a frame over its limit before waiting for the rest of it.

use bytes::{BufMut, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// Why a compressed stream cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the deflate stream is corrupt: {0}")]
pub struct InflateError(String);

/// One direction's compressor.
#[derive(Debug)]
pub struct Deflater {
    z: Compress,
}

impl Deflater {
    /// A compressor at `level` (0–9; Flume's `compression-level`, default 6).
    pub fn new(level: u32) -> Self {
        Deflater {
            z: Compress::new(Compression::new(level.min(9)), true),
        }
    }

    /// Appends `input` compressed to `out`, flushed so that the other side can read all of it.
    pub fn deflate(&mut self, input: &[u8], out: &mut BytesMut) {
        let mut consumed = 0usize;
        loop {
            out.reserve(input.len() / 2 + 64);
            let before_in = self.z.total_in();
            let before_out = self.z.total_out();
            let spare = out.spare_capacity_mut();
            // SAFETY: flate2 writes only initialised bytes into the slice it is given and
            // reports how many; `spare` is `out`'s reserved capacity, which only those bytes
            // are committed from (`advance_mut` below).
            let dst = unsafe {
                std::slice::from_raw_parts_mut(spare.as_mut_ptr().cast::<u8>(), spare.len())
            };
            let status = self
                .z
                .compress(&input[consumed..], dst, FlushCompress::Sync)
                .expect("compressing into a buffer with room cannot fail");
            let written = (self.z.total_out() - before_out) as usize;
            consumed += (self.z.total_in() - before_in) as usize;
            // SAFETY: flate2 initialised `written` bytes at the start of the spare capacity.
            unsafe { out.advance_mut(written) };
            // Done when all input went in and the flush did not stop for room.
            if consumed == input.len() && written < dst.len() && status != Status::BufError {
                return;
            }
        }
    }
}

/// One direction's decompressor.
#[derive(Debug)]
pub struct Inflater {
    z: Decompress,
}

impl Default for Inflater {
    fn default() -> Self {
        Inflater {
            z: Decompress::new(true),
        }
    }
}

impl Inflater {
    /// Appends what `input` decompresses to to `out`.
    pub fn inflate(&mut self, input: &[u8], out: &mut BytesMut) -> Result<(), InflateError> {
        let mut consumed = 0usize;
        loop {
            out.reserve((input.len() - consumed).max(1024) * 4);
            let before_in = self.z.total_in();
            let before_out = self.z.total_out();
            let spare = out.spare_capacity_mut();
            // SAFETY: as in `Deflater::deflate`.
            let dst = unsafe {
                std::slice::from_raw_parts_mut(spare.as_mut_ptr().cast::<u8>(), spare.len())
            };
            let status = self
                .z
                .decompress(&input[consumed..], dst, FlushDecompress::Sync)
                .map_err(|e| InflateError(e.to_string()))?;
            let written = (self.z.total_out() - before_out) as usize;
            consumed += (self.z.total_in() - before_in) as usize;
            // SAFETY: flate2 initialised `written` bytes at the start of the spare capacity.
            unsafe { out.advance_mut(written) };
            if status == Status::StreamEnd {
                return Ok(()); // the peer ended its stream; what follows is not read
            }
            if consumed == input.len() && written < dst.len() {
                return Ok(());
            }
            if written == 0 && consumed == input.len() {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLUME: &[u8] =
        include_bytes!("../../tests/fixtures/avro/flume-sink-to-flume-source-deflate.request");

    fn inflate_all(chunks: &[&[u8]]) -> Vec<u8> {
        let mut z = Inflater::default();
        let mut out = BytesMut::new();
        for c in chunks {
            z.inflate(c, &mut out).unwrap();
        }
        out.to_vec()
    }

    #[test]
    fn flumes_stream_inflates_whole_or_byte_by_byte() {
        let whole = inflate_all(&[FLUME]);
        let mut frames = BytesMut::from(&whole[..]);
        let mut calls = 0;
        while super::super::frame::decode(&mut frames, 1 << 20)
            .unwrap()
            .is_some()
        {
            calls += 1;
        }
        assert_eq!((calls, frames.len()), (2, 0), "two whole calls");
        let bytes: Vec<&[u8]> = FLUME.chunks(1).collect();
        assert_eq!(inflate_all(&bytes), whole);
    }

    #[test]
    fn each_deflated_frame_is_readable_at_once() {
        let mut d = Deflater::new(6);
        let mut i = Inflater::default();
        let mut wire = BytesMut::new();
        let mut plain = BytesMut::new();
        let big: Vec<u8> = (0..300_000u32).flat_map(|n| n.to_le_bytes()).collect();
        for msg in [&b"first frame"[..], b"", &big, b"last"] {
            let start = wire.len();
            d.deflate(msg, &mut wire);
            let before = plain.len();
            i.inflate(&wire[start..], &mut plain).unwrap();
            assert_eq!(&plain[before..], msg, "readable before the next frame");
        }
        assert_eq!(&wire[..2], &[0x78, 0x9c], "a zlib header, as Flume's");
    }

    #[test]
    fn a_corrupt_stream_is_an_error() {
        let mut bad = FLUME.to_vec();
        bad[0] = 0x00;
        let mut out = BytesMut::new();
        assert!(Inflater::default().inflate(&bad, &mut out).is_err());
    }
}
