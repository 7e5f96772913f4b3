//! Avro's Netty transport framing, as Flume's avro source and sink speak it.
//!
//! A frame is a serial number (big-endian u32, which the response repeats), a count of buffers
//! (u32), then each buffer as a length (u32) and its bytes. The buffers of a frame, one after
//! the other, are one Avro IPC message; how the sender split it carries no meaning (Flume's
//! client sends the handshake and call name in one buffer and the parameters in another).
//!
//! The decoder checks every claimed length against the frame limit before it waits for the
//! bytes, so a peer that claims a huge frame is refused at once, and nothing is allocated for
//! bytes that have not arrived.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Flume's receivers have no frame limit; spate's default: a batch of 10,000 events of 100 KiB
/// fits, with room.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 1 << 30;

/// Most buffers in one frame (Avro's encoder fills 8 KiB buffers: a 1 GiB frame needs 131,072).
const MAX_BUFFERS: u32 = 1 << 20;

/// One frame: its serial number and its buffers, joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The serial number, which the answer repeats.
    pub serial: u32,
    /// The message.
    pub message: Bytes,
}

/// Why a byte stream is not a sequence of frames this side accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The frame claims more bytes than the limit.
    #[error("a frame of at least {claimed} bytes, over the limit of {max}")]
    TooLarge {
        /// Bytes claimed so far.
        claimed: u64,
        /// The limit.
        max: usize,
    },
    /// The frame claims more buffers than any sender makes.
    #[error("a frame of {0} buffers")]
    TooManyBuffers(u32),
}

/// Appends a frame holding `parts` (one buffer each) to `out`.
pub fn encode(serial: u32, parts: &[&[u8]], out: &mut BytesMut) {
    out.reserve(8 + parts.iter().map(|p| 4 + p.len()).sum::<usize>());
    out.put_u32(serial);
    out.put_u32(parts.len() as u32);
    for p in parts {
        out.put_u32(p.len() as u32);
        out.put_slice(p);
    }
}

/// Takes the first whole frame out of `buf`: `Ok(None)` when more bytes are needed.
///
/// A frame of one buffer is handed over without a copy; the buffers of a larger one are
/// joined.
pub fn decode(buf: &mut BytesMut, max_frame_bytes: usize) -> Result<Option<Frame>, FrameError> {
    if buf.len() < 8 {
        return Ok(None);
    }
    let count = u32::from_be_bytes(buf[4..8].try_into().expect("4 bytes"));
    if count > MAX_BUFFERS {
        return Err(FrameError::TooManyBuffers(count));
    }
    // Walk the buffer headers that have arrived, checking the total as it grows.
    let mut at = 8usize;
    let mut total = 0u64;
    for _ in 0..count {
        let Some(len) = buf.get(at..at + 4) else {
            return Ok(None);
        };
        let len = u32::from_be_bytes(len.try_into().expect("4 bytes"));
        total += u64::from(len);
        if total > max_frame_bytes as u64 {
            return Err(FrameError::TooLarge {
                claimed: total,
                max: max_frame_bytes,
            });
        }
        at += 4 + len as usize;
        if at > buf.len() {
            return Ok(None);
        }
    }
    let mut frame = buf.split_to(at).freeze();
    let serial = frame.get_u32();
    frame.advance(4);
    let message = if count == 1 {
        frame.advance(4);
        frame
    } else {
        let mut joined = BytesMut::with_capacity(total as usize);
        for _ in 0..count {
            let len = frame.get_u32() as usize;
            joined.put_slice(&frame[..len]);
            frame.advance(len);
        }
        joined.freeze()
    };
    Ok(Some(Frame { serial, message }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn frames_round_trip_whole_and_in_pieces() {
        let mut out = BytesMut::new();
        encode(7, &[b"hello ", b"", b"world"], &mut out);
        encode(8, &[b"x"], &mut out);
        let bytes = out.freeze();
        for cut in 0..bytes.len() {
            let mut buf = BytesMut::from(&bytes[..cut]);
            let mut got = Vec::new();
            while let Some(f) = decode(&mut buf, 1024).unwrap() {
                got.push(f);
            }
            buf.extend_from_slice(&bytes[cut..]);
            while let Some(f) = decode(&mut buf, 1024).unwrap() {
                got.push(f);
            }
            assert_eq!(
                got,
                [
                    Frame {
                        serial: 7,
                        message: Bytes::from_static(b"hello world")
                    },
                    Frame {
                        serial: 8,
                        message: Bytes::from_static(b"x")
                    }
                ],
                "cut at {cut}"
            );
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn a_claimed_size_over_the_limit_is_refused_before_its_bytes_arrive() {
        let mut buf = BytesMut::new();
        buf.put_u32(1);
        buf.put_u32(2);
        buf.put_u32(600);
        buf.put_slice(&[0; 600]);
        buf.put_u32(600); // 1200 bytes claimed, 1000 allowed; none of the second sent
        assert_eq!(
            decode(&mut buf, 1000),
            Err(FrameError::TooLarge {
                claimed: 1200,
                max: 1000
            })
        );
        let mut buf = BytesMut::from(&[0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff][..]);
        assert_eq!(
            decode(&mut buf, 1000),
            Err(FrameError::TooManyBuffers(u32::MAX))
        );
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic_nor_pass_the_limit(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let mut buf = BytesMut::from(&bytes[..]);
            while let Ok(Some(f)) = decode(&mut buf, 64) {
                prop_assert!(f.message.len() <= 64);
            }
        }
    }
}
