//! Channels: where sources put batches and sinks take them, transactionally (see
//! [`crate::component::Channel`]).
//!
//! spate implements Flume's `memory` channel; the durable file channel comes later.

pub mod memory;

pub use memory::{MemoryChannel, MAX_BATCH_SLOTS};
