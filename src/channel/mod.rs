//! Channels: where sources put batches and sinks take them, transactionally (see
//! [`crate::component::Channel`]), and the waits every channel type shares.
//!
//! spate implements Flume's `memory` channel and its durable `file` channel ([`file`]).

pub mod file;
pub mod memory;

pub use memory::{MemoryChannel, MAX_BATCH_SLOTS};

use crate::component::Channel;
use crate::config::Props;
use crate::event::Batch;

/// Reads a channel's `capacity` and `transactionCapacity` (with these defaults), and reports a
/// transaction capacity larger than the capacity, at whichever of the two was set.
pub(crate) fn capacities(p: &mut Props<'_>, capacity: usize, transaction: usize) -> (usize, usize) {
    let capacity = p.positive("capacity", capacity, "events");
    let transaction_capacity = p.positive("transactionCapacity", transaction, "events");
    let both_valid = !p.failed("capacity") && !p.failed("transactionCapacity");
    if both_valid && transaction_capacity > capacity {
        let (prop, entry) = match p.get("transactionCapacity") {
            Some(e) => ("transactionCapacity", Some(e)),
            None => ("capacity", p.get("capacity")),
        };
        let err = p
            .error(
                prop,
                entry,
                format!(
                    "transactionCapacity {transaction_capacity} is larger than capacity {capacity}"
                ),
            )
            .hint(format!(
                "raise `{}` to at least {transaction_capacity} or lower `{}` to at most {capacity}",
                p.shown("capacity"),
                p.shown("transactionCapacity")
            ));
        p.push(err);
    }
    (capacity, transaction_capacity)
}

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
