//! Sources: where events come from.
//!
//! spate implements Flume's `TAILDIR`, `netcat` and `avro`. A source hands each batch to its
//! [`Output`]: the interceptors, then the channel selector, then the channels.

pub mod avro;
pub mod listener;
pub mod netcat;
pub mod taildir;

use std::sync::Arc;

use tracing::{info, warn};

use crate::component::Channel;
use crate::event::Batch;
use crate::interceptor::Chain;
use crate::metrics::SourceCounters;
use crate::selector::Selector;

/// Where a source's batches go: Flume's channel processor. Each batch passes the source's
/// interceptors, then its channel selector splits it by route and puts each part into its
/// channels.
#[derive(Debug, Clone)]
pub struct Output {
    channels: Vec<Arc<dyn Channel>>,
    interceptors: Chain,
    selector: Selector,
    counters: Arc<SourceCounters>,
}

impl Output {
    /// An output writing to `channels` (in the source's order) through `interceptors` and
    /// `selector`, whose routes index `channels`.
    pub fn new(
        channels: Vec<Arc<dyn Channel>>,
        interceptors: Chain,
        selector: Selector,
        counters: Arc<SourceCounters>,
    ) -> Self {
        assert!(
            !channels.is_empty(),
            "a source writes to at least one channel"
        );
        Output {
            channels,
            interceptors,
            selector,
            counters,
        }
    }

    /// The same output counting into `counters` (a shard's own).
    pub fn with_counters(&self, counters: Arc<SourceCounters>) -> Output {
        Output {
            counters,
            ..self.clone()
        }
    }

    /// Puts `batch` where its events go, waiting as long as a required channel is full: a full
    /// channel stops the source, it never drops (each keep-alive expiry is counted as a
    /// `ChannelWriteFail`). Returns how many copies of the batch's acknowledgement were put, one
    /// per part put into a required channel: its source waits for that many. 0 when every event
    /// was filtered out or went only to optional channels or nowhere.
    pub async fn put(&self, batch: Batch) -> u32 {
        self.put_within(batch, true)
            .await
            .expect("a patient put always ends with the batch put")
    }

    /// Puts `batch` as [`Output::put`], but gives up when a required channel stays full for
    /// its keep-alive, as Flume's channel processor does: `None`, and the source tells its
    /// client to send the batch again (the avro source answers FAILED). Parts already put into
    /// other required channels stay there: the batch sent again duplicates them, it never
    /// loses them.
    pub async fn try_put(&self, batch: Batch) -> Option<u32> {
        self.put_within(batch, false).await
    }

    async fn put_within(&self, batch: Batch, patient: bool) -> Option<u32> {
        let events = batch.len() as u64;
        self.counters.append_batch_received.add(1);
        self.counters.event_received.add(events);
        self.counters.bytes_received.add(batch.body_bytes() as u64);
        let mut batch = batch;
        batch.set_read_at(std::time::Instant::now());
        let batch = if self.interceptors.is_empty() {
            batch
        } else {
            match self.interceptors.apply(batch) {
                Some(b) => {
                    self.counters.event_filtered.add(events - b.len() as u64);
                    b
                }
                None => {
                    self.counters.event_filtered.add(events);
                    return Some(0);
                }
            }
        };
        let mut copies = 0;
        let mut accepted = 0;
        for (part, route) in self.selector.route(batch) {
            if route.required.is_empty() {
                self.counters.event_unrouted.add(part.len() as u64);
            } else {
                accepted += part.len() as u64;
            }
            for &c in &route.optional {
                let mut copy = part.clone();
                drop(copy.take_ack());
                let channel = &self.channels[c];
                channel.counters().put_attempt.add(copy.len() as u64);
                if channel.try_put(copy).is_err() {
                    self.counters.channel_write_fail.add(1);
                    warn_optional_full(channel.name());
                }
            }
            let last = route.required.len().saturating_sub(1);
            let mut part = Some(part);
            for (i, &c) in route.required.iter().enumerate() {
                let copy = if i == last {
                    part.take().expect("moved once, at the last channel")
                } else {
                    part.clone().expect("present until the last channel")
                };
                let channel = &*self.channels[c];
                if patient {
                    self.put_required(channel, copy).await;
                } else if crate::channel::put(channel, copy).await.is_err() {
                    self.counters.channel_write_fail.add(1);
                    return None;
                }
                copies += 1;
            }
        }
        self.counters.append_batch_accepted.add(1);
        self.counters.event_accepted.add(accepted);
        Some(copies)
    }

    /// Puts `batch` into a required channel, waiting as long as it takes.
    async fn put_required(&self, channel: &dyn Channel, mut batch: Batch) {
        let mut waits = 0u64;
        loop {
            match crate::channel::put(channel, batch).await {
                Ok(()) => break,
                Err(back) => {
                    self.counters.channel_write_fail.add(1);
                    if waits == 0 {
                        warn!(
                            channel = channel.name(),
                            "channel full for longer than its keep-alive; the source waits \
                             and reads nothing meanwhile (check the channel's sinks, or raise \
                             its capacity)"
                        );
                    }
                    waits += 1;
                    batch = back;
                }
            }
        }
        if waits > 0 {
            info!(
                channel = channel.name(),
                keep_alive_periods = waits,
                "channel has room again; the source reads on"
            );
        }
    }
}

/// Says, at most once a minute per process, that an optional channel was full.
fn warn_optional_full(channel: &str) {
    static GATE: crate::throttle::Throttle = crate::throttle::Throttle::per_minute();
    if !GATE.ready() {
        return;
    }
    warn!(
        channel,
        "optional channel full: its copy of a batch was dropped (ChannelWriteFail); the \
         required channels are not held back for it (said at most once a minute)"
    );
}
