//! The protocol against bytes Apache Flume 1.11 wrote (`tests/fixtures/avro/`).

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::frame::{self, Frame, DEFAULT_MAX_FRAME_BYTES};
use super::protocol::*;
use super::wire::Reader;
use crate::event::{Batch, Headers};

const FLUME_REQUEST: &[u8] =
    include_bytes!("../../tests/fixtures/avro/flume-sink-to-flume-source.request");
const FLUME_RESPONSE: &[u8] =
    include_bytes!("../../tests/fixtures/avro/flume-sink-to-flume-source.response");
const DEFLATE_REQUEST: &[u8] =
    include_bytes!("../../tests/fixtures/avro/flume-sink-to-flume-source-deflate.request");
const DEFLATE_RESPONSE: &[u8] =
    include_bytes!("../../tests/fixtures/avro/flume-sink-to-flume-source-deflate.response");
const UNKNOWN_REQUEST: &[u8] = include_bytes!("../../tests/fixtures/avro/unknown-hash.request");
const UNKNOWN_RESPONSE: &[u8] = include_bytes!("../../tests/fixtures/avro/unknown-hash.response");
const CLIENT_REQUEST: &[u8] = include_bytes!("../../tests/fixtures/avro/client-protocol.request");
const CLIENT_RESPONSE: &[u8] = include_bytes!("../../tests/fixtures/avro/client-protocol.response");

fn frames(stream: &[u8]) -> Vec<Frame> {
    let mut buf = BytesMut::from(stream);
    let mut out = Vec::new();
    while let Some(f) = frame::decode(&mut buf, DEFAULT_MAX_FRAME_BYTES).unwrap() {
        out.push(f);
    }
    assert!(buf.is_empty(), "bytes left after the last frame");
    out
}

fn inflate(stream: &[u8]) -> Vec<u8> {
    let mut z = flate2::Decompress::new(true);
    let mut out = Vec::with_capacity(stream.len() * 8);
    z.decompress_vec(stream, &mut out, flate2::FlushDecompress::Sync)
        .unwrap();
    out
}

/// The events Flume's sink sent in its first call: an empty body (a bare newline to its
/// netcat source), then `event 0` and `event 1`, each with `origin=edge`.
fn first_call_events() -> Batch {
    let data = Bytes::from_static(b"event 0event 1");
    let mut origin = Headers::new();
    origin.insert("origin", "edge");
    Batch::from_ends(data, Arc::from([0u32, 7, 14])).with_headers(Arc::new(origin))
}

fn bodies(b: &Batch) -> Vec<String> {
    b.bodies()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect()
}

#[test]
fn the_hash_is_the_one_flume_sends() {
    let first = &frames(FLUME_REQUEST)[0];
    assert_eq!(first.message[..16], PROTOCOL_HASH);
}

#[test]
fn a_flume_sinks_calls_read_as_their_events() {
    let calls = frames(FLUME_REQUEST);
    assert_eq!(calls.len(), 2);
    let mut r = Reader::new(calls[0].message.clone());
    let accepted = accept_handshake(&mut r).unwrap();
    assert!(accepted.proceed);
    assert_eq!(accepted.response, handshake_response(Match::Both));
    assert_eq!(read_call(&mut r).unwrap(), APPEND_BATCH);
    let batch = read_events(&mut r).unwrap().unwrap();
    assert_eq!(bodies(&batch), ["", "event 0", "event 1"]);
    assert_eq!(batch.header(0, "origin"), Some("edge"));
    assert_eq!(r.remaining(), 0);
    // The second call on the connection has no handshake.
    let mut r = Reader::new(calls[1].message.clone());
    assert_eq!(read_call(&mut r).unwrap(), APPEND_BATCH);
    let batch = read_events(&mut r).unwrap().unwrap();
    assert_eq!(bodies(&batch), ["event 2", "event 3", "event 4"]);
    assert_eq!(calls[1].serial, 2);
}

#[test]
fn spates_client_writes_the_bytes_flumes_does() {
    let mut ours = BytesMut::new();
    put_handshake_request(&mut ours, false);
    put_call(&mut ours, APPEND_BATCH);
    put_events(&mut ours, &first_call_events());
    assert_eq!(ours.freeze(), frames(FLUME_REQUEST)[0].message);
}

#[test]
fn spates_server_answers_the_bytes_flumes_does() {
    let replies = frames(FLUME_RESPONSE);
    let mut ours = handshake_response(Match::Both);
    put_status(&mut ours, Status::Ok);
    assert_eq!(ours, replies[0].message);
    let mut ours = Vec::new();
    put_status(&mut ours, Status::Ok);
    assert_eq!(ours, replies[1].message);
    // And spate's client reads Flume's replies.
    let mut r = Reader::new(replies[0].message.clone());
    assert_eq!(read_handshake_response(&mut r).unwrap(), Match::Both);
    assert_eq!(read_status(&mut r).unwrap(), Status::Ok);
}

#[test]
fn an_unknown_client_hash_is_answered_none_with_the_protocol_as_flume_does() {
    let request = &frames(UNKNOWN_REQUEST)[0];
    let accepted = accept_handshake(&mut Reader::new(request.message.clone())).unwrap();
    assert!(!accepted.proceed);
    assert_eq!(accepted.response, frames(UNKNOWN_RESPONSE)[0].message);
    let mut r = Reader::new(frames(UNKNOWN_RESPONSE)[0].message.clone());
    assert_eq!(read_handshake_response(&mut r).unwrap(), Match::None);
    assert_eq!(r.remaining(), 0, "no call reply after NONE");
}

#[test]
fn a_client_that_sends_its_protocol_is_answered_client_as_flume_does() {
    let request = &frames(CLIENT_REQUEST)[0];
    let mut r = Reader::new(request.message.clone());
    let accepted = accept_handshake(&mut r).unwrap();
    assert!(accepted.proceed);
    assert_eq!(read_call(&mut r).unwrap(), APPEND_BATCH);
    assert!(read_events(&mut r).unwrap().is_none(), "no events");
    let mut ours = accepted.response;
    put_status(&mut ours, Status::Ok);
    assert_eq!(ours, frames(CLIENT_RESPONSE)[0].message);
    // A client that sends the protocol's text: the request the probe sent is the one spate's
    // client sends after NONE.
    let mut ours = BytesMut::new();
    put_handshake_request(&mut ours, true);
    let theirs = &request.message;
    assert_eq!(ours[..16], theirs[..16]);
    assert_eq!(
        ours[16..16 + 3 + PROTOCOL.len()],
        theirs[16..16 + 3 + PROTOCOL.len()]
    );
}

#[test]
fn deflate_is_a_zlib_stream_of_the_same_frames() {
    let request = inflate(DEFLATE_REQUEST);
    let call = &frames(&request)[0];
    let mut r = Reader::new(call.message.clone());
    assert!(accept_handshake(&mut r).unwrap().proceed);
    read_call(&mut r).unwrap();
    let batch = read_events(&mut r).unwrap().unwrap();
    assert_eq!(bodies(&batch), ["event 0", "event 1", "event 2"]);
    let response = inflate(DEFLATE_RESPONSE);
    assert_eq!(frames(&response)[0], frames(FLUME_RESPONSE)[0]);
}

#[test]
fn events_round_trip_with_their_own_and_shared_headers() {
    let data = Bytes::from_static(b"a\x00\xffbc");
    let mut shared = Headers::new();
    shared.insert("host", "h1");
    shared.insert("topic", "t");
    let mut one = Headers::new();
    one.insert("topic", "mine");
    let batch = Batch::from_ends(data, Arc::from([1u32, 3, 5]))
        .with_headers(Arc::new(shared))
        .with_event_headers(Arc::from([one, Headers::new(), Headers::new()]));
    let mut out = BytesMut::new();
    put_events(&mut out, &batch);
    let back = read_events(&mut Reader::new(out.freeze()))
        .unwrap()
        .unwrap();
    assert_eq!(back.len(), 3);
    let bodies: Vec<&[u8]> = back.bodies().collect();
    assert_eq!(bodies, [&b"a"[..], b"\x00\xff", b"bc"]);
    assert_eq!(back.header(0, "topic"), Some("mine"));
    assert_eq!(back.header(1, "topic"), Some("t"));
    assert_eq!(back.header(2, "host"), Some("h1"));
}

#[test]
fn remote_errors_are_read() {
    let mut out = Vec::new();
    put_error(&mut out, "channel full");
    assert_eq!(
        read_status(&mut Reader::new(Bytes::from(out))),
        Err(ProtocolError::Remote("channel full".into()))
    );
}

proptest! {
    #[test]
    fn malformed_requests_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let mut r = Reader::new(Bytes::from(bytes.clone()));
        if accept_handshake(&mut r).is_ok() && read_call(&mut r).is_ok() {
            let _ = read_events(&mut r);
        }
        let mut r = Reader::new(Bytes::from(bytes));
        let _ = read_handshake_response(&mut r).and_then(|_| read_status(&mut r));
    }

    #[test]
    fn a_damaged_flume_request_is_refused_or_read_never_panics(
        cut in 0usize..200,
        flips in prop::collection::vec((0usize..200, 0u8..8), 0..3),
    ) {
        let mut message = frames(FLUME_REQUEST)[0].message.to_vec();
        message.truncate(cut.min(message.len()));
        for (at, bit) in flips {
            if !message.is_empty() {
                let i = at % message.len();
                message[i] ^= 1 << bit;
            }
        }
        let mut r = Reader::new(Bytes::from(message));
        if accept_handshake(&mut r).is_ok() && read_call(&mut r).is_ok() {
            if let Ok(Some(b)) = read_events(&mut r) {
                prop_assert!(b.body_bytes() <= 200);
            }
        }
    }
}
