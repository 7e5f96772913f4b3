//! Channels: where sources put batches and sinks take them, transactionally.
//!
//! spate implements Flume's `memory` channel; the durable file channel comes later.

mod memory;

pub use memory::{MemoryChannel, MAX_BATCH_SLOTS};
