//! Flume's agent-to-agent protocol: Avro IPC over Avro's Netty transport, as Apache Flume's
//! `avro` source and sink speak it (`AvroSourceProtocol`).
//!
//! - [`frame`]: the transport's framing (serial number, buffers), with a frame limit checked
//!   before any byte of a frame is awaited.
//! - [`wire`]: the few Avro binary encodings the protocol needs, without an allocation per
//!   field.
//! - [`protocol`]: the handshake, the `append` and `appendBatch` calls and their `Status`
//!   replies, and `AvroFlumeEvent` batches.
//!
//! The byte layouts are checked against frames captured from Apache Flume 1.11
//! (`tests/fixtures/avro/`).

pub mod deflate;
pub mod frame;
pub mod protocol;
pub mod wire;

#[cfg(test)]
mod tests;
