//! Flume's durable `file` channel, as a write-ahead log: committed puts are appended to segment
//! files as checksummed records ([`record`]) and made durable before their sources are
//! acknowledged.
//!
//! Work in progress (issue 12): the record format and its recovery are here; the segments, the
//! checkpoint of takes, group commit and the channel itself follow.

pub mod codec;
pub mod config;
pub mod record;
pub mod segment;
pub mod writer;
