//! Avro IPC as Flume's `AvroSourceProtocol` uses it: the handshake, the `append` and
//! `appendBatch` calls, their `Status` replies, and `AvroFlumeEvent`s.
//!
//! A request is, on a connection not yet handshaken, a `HandshakeRequest`, then the call's
//! metadata (a map, empty), the message's name and its parameters. A reply is (while
//! handshaking) a `HandshakeResponse`, then metadata, an error flag, and the result (`Status`) or
//! the error (a string). A server that does not know the client's protocol hash answers `NONE`
//! with its own protocol and nothing else; the client then sends its protocol's text.

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};

use super::wire::{put_bytes, put_long, Reader, WireError};
use crate::event::{Batch, Headers};

/// Flume's protocol as its Avro serialises it: what a server sends a client that does not know
/// it (`AvroSourceProtocol.PROTOCOL.toString()` of Flume 1.11).
pub const PROTOCOL: &str = include_str!("AvroSourceProtocol.json");

/// The MD5 of [`PROTOCOL`]: the hash both sides of a Flume connection send.
pub const PROTOCOL_HASH: [u8; 16] = [
    0x86, 0xaa, 0xda, 0xe2, 0xc4, 0x54, 0x74, 0xc0, 0xfe, 0x93, 0xff, 0xd0, 0xf2, 0x35, 0x0a, 0x65,
];

/// The calls of Flume's protocol.
pub const APPEND: &str = "append";
/// A batch of events.
pub const APPEND_BATCH: &str = "appendBatch";

/// Why a message is not one this side can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// Its Avro data is malformed.
    #[error("malformed message: {0}")]
    Wire(#[from] WireError),
    /// A call Flume's protocol does not have.
    #[error("unknown message `{0}`")]
    UnknownMessage(String),
    /// The other side answered with an error.
    #[error("the server answered with an error: {0}")]
    Remote(String),
    /// The server does not know Flume's protocol even with its text.
    #[error("the server refused the protocol handshake twice")]
    HandshakeRefused,
}

/// How a handshake ended (`HandshakeMatch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// Each side knows the other's protocol.
    Both,
    /// The server knows the client's protocol; the client had the server's wrong.
    Client,
    /// The server does not know the client's protocol: send its text again.
    None,
}

/// `Status` of Flume's protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Committed to the receiver's channels.
    Ok,
    /// Not taken (a full channel, for example): send again.
    Failed,
    /// Not known.
    Unknown,
}

/// What a server makes of a handshake request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The `HandshakeResponse` to begin the reply with.
    pub response: Vec<u8>,
    /// Whether the call that follows is to be answered (not after `NONE`: the client sends it
    /// again with its protocol).
    pub proceed: bool,
}

/// Reads a `HandshakeRequest` and answers it as Avro's responder does. A client protocol this
/// side does not know by hash is accepted when its text is Flume's `AvroSourceProtocol` (other
/// Flume versions serialise it differently; its messages and records have not changed).
pub fn accept_handshake(r: &mut Reader) -> Result<Accepted, ProtocolError> {
    let client_hash = r.fixed(16, "handshake client hash")?;
    let client_protocol = match r.branch("handshake client protocol", 1)? {
        0 => None,
        _ => Some(r.string("handshake client protocol")?),
    };
    let server_hash = r.fixed(16, "handshake server hash")?;
    skip_meta(r, "handshake meta")?;
    let known = client_hash[..] == PROTOCOL_HASH
        || client_protocol
            .as_deref()
            .is_some_and(|p| p.contains("\"AvroSourceProtocol\""));
    let matched = if !known {
        Match::None
    } else if server_hash[..] == PROTOCOL_HASH {
        Match::Both
    } else {
        Match::Client
    };
    Ok(Accepted {
        response: handshake_response(matched),
        proceed: matched != Match::None,
    })
}

/// A `HandshakeResponse`: with the server's protocol and hash unless both sides match.
pub fn handshake_response(matched: Match) -> Vec<u8> {
    let mut out = Vec::new();
    put_long(
        &mut out,
        match matched {
            Match::Both => 0,
            Match::Client => 1,
            Match::None => 2,
        },
    );
    if matched == Match::Both {
        out.put_slice(&[0, 0]); // serverProtocol, serverHash: null
    } else {
        put_long(&mut out, 1);
        put_bytes(&mut out, PROTOCOL.as_bytes());
        put_long(&mut out, 1);
        out.put_slice(&PROTOCOL_HASH);
    }
    out.put_u8(0); // meta: null
    out
}

/// Skips a `union {null, map<bytes>}`.
fn skip_meta(r: &mut Reader, what: &'static str) -> Result<(), WireError> {
    if r.branch(what, 1)? == 1 {
        skip_map(r, what)?;
    }
    Ok(())
}

/// Skips a `map<bytes>` (or `map<string>`).
fn skip_map(r: &mut Reader, what: &'static str) -> Result<(), WireError> {
    loop {
        let n = r.block(what)?;
        if n == 0 {
            return Ok(());
        }
        for _ in 0..n {
            r.bytes(what)?;
            r.bytes(what)?;
        }
    }
}

/// Appends a `HandshakeRequest` as Flume's client sends it: its hash, its protocol's text only
/// when the server asked for it, the server's hash as it expects it, and empty metadata.
pub fn put_handshake_request(out: &mut impl BufMut, with_protocol: bool) {
    out.put_slice(&PROTOCOL_HASH);
    if with_protocol {
        put_long(out, 1);
        put_bytes(out, PROTOCOL.as_bytes());
    } else {
        put_long(out, 0);
    }
    out.put_slice(&PROTOCOL_HASH);
    out.put_slice(&[2, 0]); // meta: an empty map
}

/// Reads a `HandshakeResponse` (its protocol and metadata are not needed: Flume's is known).
pub fn read_handshake_response(r: &mut Reader) -> Result<Match, ProtocolError> {
    let matched = match r.branch("handshake match", 2)? {
        0 => Match::Both,
        1 => Match::Client,
        _ => Match::None,
    };
    if r.branch("handshake server protocol", 1)? == 1 {
        r.bytes("handshake server protocol")?;
    }
    if r.branch("handshake server hash", 1)? == 1 {
        r.fixed(16, "handshake server hash")?;
    }
    skip_meta(r, "handshake meta")?;
    Ok(matched)
}

/// Appends a call's metadata (empty) and name; its parameters follow.
pub fn put_call(out: &mut impl BufMut, message: &str) {
    out.put_u8(0);
    put_bytes(out, message.as_bytes());
}

/// Reads a call's metadata and name, leaving the reader at its parameters.
pub fn read_call(r: &mut Reader) -> Result<String, ProtocolError> {
    skip_map(r, "call metadata")?;
    let name = r.string("message name")?;
    match name.as_str() {
        APPEND | APPEND_BATCH => Ok(name),
        _ => Err(ProtocolError::UnknownMessage(name)),
    }
}

/// Appends a reply's metadata (empty) and its `Status`.
pub fn put_status(out: &mut impl BufMut, status: Status) {
    out.put_slice(&[0, 0]); // metadata, no error
    put_long(
        out,
        match status {
            Status::Ok => 0,
            Status::Failed => 1,
            Status::Unknown => 2,
        },
    );
}

/// Appends a reply that is an error (Avro's system error: a string).
pub fn put_error(out: &mut impl BufMut, message: &str) {
    out.put_slice(&[0, 1, 0]); // metadata, error, union branch 0 (string)
    put_bytes(out, message.as_bytes());
}

/// Reads a reply after its handshake: the `Status`, or the error the server answered.
pub fn read_status(r: &mut Reader) -> Result<Status, ProtocolError> {
    skip_map(r, "reply metadata")?;
    if r.boolean("reply error flag")? {
        r.branch("error union", 1)?;
        return Err(ProtocolError::Remote(r.string("error")?));
    }
    Ok(match r.branch("status", 2)? {
        0 => Status::Ok,
        1 => Status::Failed,
        _ => Status::Unknown,
    })
}

/// Appends `batch` as `array<AvroFlumeEvent>`, the parameter of `appendBatch`: one block of
/// every event, each with its headers (the batch's shared ones under its own) and body. No
/// allocation per event: everything goes straight into `out`.
pub fn put_events(out: &mut BytesMut, batch: &Batch) {
    out.reserve(batch.body_bytes() + batch.len() * 16);
    put_long(out, batch.len() as i64);
    let shared = batch.headers();
    let own = batch.event_headers();
    for (i, body) in batch.bodies().enumerate() {
        let own = own.map(|h| &h[i]);
        let inherited = |k: &str| own.is_none_or(|h| h.get(k).is_none());
        let count = own.map_or(0, Headers::len)
            + shared.map_or(0, |s| s.iter().filter(|(k, _)| inherited(k)).count());
        if count > 0 {
            put_long(out, count as i64);
            for (k, v) in own.into_iter().flat_map(Headers::iter) {
                put_bytes(out, k.as_bytes());
                put_bytes(out, v.as_bytes());
            }
            for (k, v) in shared.into_iter().flat_map(Headers::iter) {
                if inherited(k) {
                    put_bytes(out, k.as_bytes());
                    put_bytes(out, v.as_bytes());
                }
            }
        }
        out.put_u8(0); // end of the headers
        put_bytes(out, body);
    }
    out.put_u8(0); // end of the array
}

/// Reads `array<AvroFlumeEvent>` into a batch (`None` for an empty array): the bodies are
/// copied into one buffer, the headers kept once for the batch when every event has the same.
pub fn read_events(r: &mut Reader) -> Result<Option<Batch>, ProtocolError> {
    let mut data = BytesMut::new();
    let mut ends: Vec<u32> = Vec::new();
    let mut headers: Vec<Headers> = Vec::new();
    loop {
        let n = r.block("event array")?;
        if n == 0 {
            break;
        }
        for _ in 0..n {
            headers.push(read_headers(r)?);
            let body = r.bytes("event body")?;
            data.put_slice(&body);
            let end = u32::try_from(data.len()).map_err(|_| WireError::Invalid {
                what: "batch size",
                value: data.len() as i64,
            })?;
            ends.push(end);
        }
    }
    if ends.is_empty() {
        return Ok(None);
    }
    let batch = Batch::from_ends(data.freeze(), Arc::from(ends));
    Ok(Some(if headers.iter().all(|h| *h == headers[0]) {
        batch.with_headers(Arc::new(headers.swap_remove(0)))
    } else {
        batch.with_event_headers(Arc::from(headers))
    }))
}

/// Reads one `AvroFlumeEvent`, the parameter of `append`.
pub fn read_event(r: &mut Reader) -> Result<Batch, ProtocolError> {
    let headers = read_headers(r)?;
    let body: Bytes = r.bytes("event body")?;
    let len = body.len() as u32;
    Ok(Batch::from_ends(body, Arc::from([len])).with_headers(Arc::new(headers)))
}

fn read_headers(r: &mut Reader) -> Result<Headers, ProtocolError> {
    let mut headers = Headers::new();
    loop {
        let n = r.block("event headers")?;
        if n == 0 {
            return Ok(headers);
        }
        for _ in 0..n {
            let k = r.string("header name")?;
            let v = r.string("header value")?;
            headers.insert(k, v);
        }
    }
}
