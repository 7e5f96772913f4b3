//! Sinks: where events leave the agent.
//!
//! Every sink runs the same transaction loop ([`run`]): take up to `batch-size` events from its
//! channel, hand them to its [`Deliver`] implementation, and commit the take only when delivery
//! succeeded. A failed delivery keeps the same batches and retries them after a back-off, so
//! nothing is skipped and order is kept; the channel stays full meanwhile, which stops the source.
//! The sink kinds differ only in `Deliver`.

pub mod logger;
pub mod null;
pub mod tcp;

use std::sync::Arc;
use std::time::Duration;

use tracing::{info, warn};

use crate::channel::MemoryChannel;
use crate::event::Batch;
use crate::lifecycle::{Control, Phase, Report};
use crate::metrics::SinkCounters;

/// How a sink kind delivers batches.
pub trait Deliver {
    /// Delivers `batches` in order. On error nothing is committed and the same batches are
    /// offered again after [`Deliver::retry_delay`].
    fn deliver(
        &mut self,
        batches: &[Batch],
    ) -> impl std::future::Future<Output = std::io::Result<()>>;

    /// The channel was empty and the sink waited: a chance to check a connection before the
    /// next delivery.
    fn idle(&mut self) {}

    /// How long to wait before retrying after a failed delivery (growing with each failure).
    fn retry_delay(&mut self) -> Duration {
        Duration::from_millis(100)
    }

    /// Called after a successful delivery.
    fn succeeded(&mut self) {}
}

/// Runs a sink: takes from `channel`, delivers with `deliver`, until the lifecycle ends it.
pub async fn run<D: Deliver>(
    name: String,
    channel: Arc<MemoryChannel>,
    batch_size: usize,
    mut deliver: D,
    counters: Arc<SinkCounters>,
    mut control: Control,
) {
    let batch_size = batch_size.max(1);
    let mut taken: Vec<Batch> = Vec::new();
    let mut failures = 0u64;
    'sink: loop {
        let events = channel.take(batch_size, &mut taken);
        if events == 0 {
            counters.batch_empty.add(1);
            if control.phase() >= Phase::Drain && channel.is_drained() {
                break;
            }
            deliver.idle();
            tokio::select! {
                _ = channel.wait_for_events() => {}
                _ = control.reached(Phase::Drain) => {}
            }
            continue;
        }
        if events >= batch_size {
            counters.batch_complete.add(1);
        } else {
            counters.batch_underflow.add(1);
        }
        counters.event_drain_attempt.add(events as u64);
        loop {
            let outcome = tokio::select! {
                biased;
                res = deliver.deliver(&taken) => Some(res),
                _ = control.reached(Phase::Finish) => None,
            };
            match outcome {
                Some(Ok(())) => {
                    if failures > 0 {
                        info!(sink = %name, failures, "delivery resumed");
                        failures = 0;
                    }
                    deliver.succeeded();
                    counters.event_drain_success.add(events as u64);
                    channel.commit(&mut taken);
                    break;
                }
                Some(Err(e)) => {
                    counters.event_write_fail.add(1);
                    if failures == 0 {
                        warn!(sink = %name, "delivery failed: {e}; retrying with back-off, nothing is dropped");
                    }
                    failures += 1;
                    let delay = deliver.retry_delay();
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = control.reached(Phase::Finish) => {
                            give_back(&name, &channel, &mut taken, &counters);
                            break 'sink;
                        }
                    }
                }
                None => {
                    give_back(&name, &channel, &mut taken, &counters);
                    break 'sink;
                }
            }
        }
    }
    control.report(Report::SinkDrained(name));
}

/// The agent is finishing with batches undelivered: roll them back. They are not acknowledged,
/// so their source reads them again at the next start.
fn give_back(name: &str, channel: &MemoryChannel, taken: &mut Vec<Batch>, counters: &SinkCounters) {
    let events: usize = taken.iter().map(Batch::len).sum();
    warn!(sink = %name, events, "stopping with undelivered events; they will be read again at the next start");
    counters.rollback.add(1);
    channel.rollback(taken);
}
