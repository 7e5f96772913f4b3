//! Channels: where sources put batches and sinks take them, transactionally (see
//! [`crate::component::Channel`]), and the waits every channel type shares.
//!
//! spate implements Flume's `memory` channel; the durable `file` channel is being built in
//! [`file`] (its on-disk format is there; the channel is not registered yet).

pub mod file;
pub mod memory;

pub use memory::{MemoryChannel, MAX_BATCH_SLOTS};

use crate::component::Channel;
use crate::event::Batch;

/// Puts `batch` into `channel`, waiting up to the channel's keep-alive for room. On timeout the
/// batch is handed back and nothing was put: the caller keeps it and tries again. Counted as one
/// put attempt.
pub async fn put(channel: &dyn Channel, batch: Batch) -> Result<(), Batch> {
    channel.counters().put_attempt.add(batch.len() as u64);
    let mut batch = match channel.try_put(batch) {
        Ok(()) => return Ok(()),
        Err(batch) => batch,
    };
    let deadline = tokio::time::Instant::now() + channel.keep_alive();
    loop {
        let notified = channel.room().notified();
        tokio::pin!(notified);
        // Register before the second look, so a commit in between is not missed.
        notified.as_mut().enable();
        batch = match channel.try_put(batch) {
            Ok(()) => return Ok(()),
            Err(batch) => batch,
        };
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return Err(batch);
        }
    }
}

/// Waits until `channel` holds a batch to take. May return spuriously; callers take and wait
/// again when the take came back empty.
pub async fn wait_for_events(channel: &dyn Channel) {
    let notified = channel.arrivals().notified();
    tokio::pin!(notified);
    notified.as_mut().enable();
    if !channel.is_drained() {
        return;
    }
    notified.await;
}
