//! Sources: where events come from.
//!
//! spate implements Flume's `TAILDIR`. A source puts each batch into every channel it is wired
//! to (Flume's default replicating selector), all of them or, if stopped, none of the rest.

pub mod taildir;

use std::sync::Arc;

use tracing::{info, warn};

use crate::component::Channel;
use crate::event::Batch;
use crate::metrics::SourceCounters;

/// The channels a source writes to.
#[derive(Debug, Clone)]
pub struct Output {
    channels: Vec<Arc<dyn Channel>>,
    counters: Arc<SourceCounters>,
}

impl Output {
    /// An output replicating to `channels`.
    pub fn new(channels: Vec<Arc<dyn Channel>>, counters: Arc<SourceCounters>) -> Self {
        assert!(
            !channels.is_empty(),
            "a source writes to at least one channel"
        );
        Output { channels, counters }
    }

    /// Number of channels, hence of copies of each batch.
    pub fn copies(&self) -> u32 {
        self.channels.len() as u32
    }

    /// Puts `batch` into every channel, waiting as long as a channel is full: a full channel
    /// stops the source, it never drops. Each keep-alive expiry is counted as a
    /// `ChannelWriteFail`.
    pub async fn put(&self, batch: Batch) {
        let events = batch.len() as u64;
        self.counters.append_batch_received.add(1);
        self.counters.event_received.add(events);
        let last = self.channels.len() - 1;
        let mut batch = Some(batch);
        for (i, channel) in self.channels.iter().enumerate() {
            let mut copy = if i == last {
                batch.take().expect("moved once, at the last channel")
            } else {
                batch.clone().expect("present until the last channel")
            };
            let mut waits = 0u64;
            loop {
                match crate::channel::put(&**channel, copy).await {
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
                        copy = back;
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
        self.counters.append_batch_accepted.add(1);
        self.counters.event_accepted.add(events);
    }
}
