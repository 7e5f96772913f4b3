//! Sinks: where events leave the agent.
//!
//! Every sink runs the same transaction loop ([`run`]): take up to `batch-size` events from its
//! channel, hand them to its [`Deliver`] implementation, and commit the take only when delivery
//! succeeded. A failed delivery keeps the same batches and retries them after a back-off, so
//! nothing is skipped and order is kept; the channel stays full meanwhile, which stops the source.
//! The sink kinds differ only in `Deliver`.

pub mod avro;
pub mod group;
pub mod logger;
pub mod null;
pub mod tcp;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{info, warn};

use crate::component::{Channel, LocalFuture, Sink};
use crate::event::Batch;
use crate::lifecycle::{Control, Phase, Report};
use crate::metrics::{DeliveryState, SinkCounters};

/// How a sink type delivers batches: what each sink type implements. The agent holds sinks as
/// [`Sink`] trait objects, which every `Deliver` is (one boxed future per delivery, that is per
/// take, never per event).
pub trait Deliver {
    /// As [`Sink::deliver`].
    fn deliver(
        &mut self,
        batches: &[Batch],
    ) -> impl std::future::Future<Output = std::io::Result<()>>;

    /// As [`Sink::holding_back`].
    fn holding_back(&self) -> bool {
        false
    }

    /// As [`Sink::idle`].
    fn idle(&mut self) {}

    /// As [`Sink::retry_delay`].
    fn retry_delay(&mut self) -> Duration {
        Duration::from_millis(100)
    }

    /// As [`Sink::succeeded`].
    fn succeeded(&mut self) {}
}

impl<D: Deliver> Sink for D {
    fn deliver<'a>(&'a mut self, batches: &'a [Batch]) -> LocalFuture<'a, std::io::Result<()>> {
        Box::pin(Deliver::deliver(self, batches))
    }

    fn holding_back(&self) -> bool {
        Deliver::holding_back(self)
    }

    fn idle(&mut self) {
        Deliver::idle(self);
    }

    fn retry_delay(&mut self) -> Duration {
        Deliver::retry_delay(self)
    }

    fn succeeded(&mut self) {
        Deliver::succeeded(self);
    }
}

/// The reconnect back-off of the network sinks: doubling from 100 ms up to a maximum, back
/// to 100 ms after a delivery.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    const MIN: Duration = Duration::from_millis(100);

    /// A back-off growing up to `max` (at least 100 ms).
    pub(crate) fn new(max: Duration) -> Self {
        Backoff {
            next: Self::MIN,
            max: max.max(Self::MIN),
        }
    }

    /// The wait before the next retry; the one after is twice as long.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        delay
    }

    /// A delivery succeeded: the next failure waits the least again.
    pub(crate) fn reset(&mut self) {
        self.next = Self::MIN;
    }
}

/// Runs a sink: takes from `channel`, delivers with `deliver`, until the lifecycle ends it.
pub async fn run(
    name: String,
    channel: Arc<dyn Channel>,
    batch_size: usize,
    mut deliver: Box<dyn Sink>,
    counters: Arc<SinkCounters>,
    state: Arc<DeliveryState>,
    mut control: Control,
) {
    let batch_size = batch_size.max(1);
    let mut taken: Vec<Batch> = Vec::new();
    let mut failures = 0u64;
    let mut yielded = false;
    // The sink's clock, read once per take: at the commit before it, or after a wait.
    let mut now = Instant::now();
    'sink: loop {
        let events = channel.take(batch_size, &mut taken);
        if events == 0 {
            if deliver.holding_back() && !yielded {
                // The source said its next batch was ready; on this worker it runs now, put
                // there by our commit, and the held-back write then continues into its batch.
                yielded = true;
                tokio::task::yield_now().await;
                continue;
            }
            yielded = false;
            counters.batch_empty.add(1);
            deliver.idle();
            if control.phase() >= Phase::Drain && channel.is_drained() {
                break;
            }
            tokio::select! {
                _ = crate::channel::wait_for_events(&*channel) => {}
                _ = control.reached(Phase::Drain) => {}
            }
            now = Instant::now();
            continue;
        }
        yielded = false;
        if events >= batch_size {
            counters.batch_complete.add(1);
        } else {
            counters.batch_underflow.add(1);
        }
        counters.event_drain_attempt.add(events as u64);
        state.taken(now);
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
                    now = Instant::now();
                    let mut bytes = 0;
                    for b in &taken {
                        bytes += b.body_bytes() as u64;
                        if let Some(at) = b.read_at() {
                            state.latency.record(now.duration_since(at), b.len() as u64);
                        }
                    }
                    counters.bytes_delivered.add(bytes);
                    channel.commit(&mut taken);
                    state.done();
                    break;
                }
                Some(Err(e)) => {
                    counters.event_write_fail.add(1);
                    if failures == 0 {
                        warn!(sink = %name, "delivery failed: {e}; retrying the take with back-off, until it is delivered or the agent stops (then it is read again at the next start)");
                    }
                    failures += 1;
                    state.consecutive_failures.set(failures);
                    let delay = deliver.retry_delay();
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = control.reached(Phase::Finish) => {
                            give_back(&name, &*channel, &mut taken, &counters);
                            break 'sink;
                        }
                    }
                }
                None => {
                    give_back(&name, &*channel, &mut taken, &counters);
                    break 'sink;
                }
            }
        }
    }
    state.done();
    control.report(Report::SinkDrained(name));
}

/// The agent is finishing with batches undelivered: roll them back. They are not acknowledged,
/// so their source reads them again at the next start.
fn give_back(name: &str, channel: &dyn Channel, taken: &mut Vec<Batch>, counters: &SinkCounters) {
    let events: usize = taken.iter().map(Batch::len).sum();
    warn!(sink = %name, events, "stopping with undelivered events; they will be read again at the next start");
    counters.rollback.add(1);
    channel.rollback(taken);
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use bytes::Bytes;

    use super::*;
    use crate::channel::memory::MemoryChannelConfig;
    use crate::channel::MemoryChannel;
    use crate::lifecycle::Lifecycle;
    use crate::runtime::{block_on, test_backends as backends, Backend};

    /// Records what the sink loop asks of its sink, and holds back like the tcp sink does.
    struct Recorder {
        log: Rc<RefCell<Vec<String>>>,
        held: bool,
    }

    impl Deliver for Recorder {
        async fn deliver(&mut self, batches: &[Batch]) -> std::io::Result<()> {
            self.held = batches.last().is_some_and(Batch::more_ready);
            let bodies: Vec<String> = batches
                .iter()
                .flat_map(Batch::bodies)
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .collect();
            self.log.borrow_mut().push(bodies.join(","));
            Ok(())
        }

        fn holding_back(&self) -> bool {
            self.held
        }

        fn idle(&mut self) {
            if std::mem::take(&mut self.held) {
                self.log.borrow_mut().push("flush".into());
            }
        }
    }

    fn batch(text: &'static str, more_ready: bool) -> Batch {
        let lines = text.matches('\n').count() as u32;
        Batch::from_lines(Bytes::from_static(text.as_bytes()), lines).with_more_ready(more_ready)
    }

    /// Runs a sink over a channel of one two-event batch while a source task puts `batches`,
    /// and returns the sink's log once it holds `until`.
    fn sink_log(backend: Backend, batches: Vec<Batch>, until: &'static str) -> Vec<String> {
        let config = MemoryChannelConfig {
            capacity: 2,
            transaction_capacity: 2,
            keep_alive: Duration::from_secs(3),
            byte_capacity: 1 << 20,
            byte_capacity_buffer_percentage: 0,
        };
        let channel = Arc::new(MemoryChannel::new("c1", &config));
        let lifecycle = Lifecycle::default();
        let log = Rc::new(RefCell::new(Vec::new()));
        let recorder = Recorder {
            log: log.clone(),
            held: false,
        };
        let counters = Arc::new(SinkCounters::default());
        block_on(backend, async {
            let source = {
                let channel = channel.clone();
                tokio::task::spawn_local(async move {
                    for b in batches {
                        crate::channel::put(&*channel, b)
                            .await
                            .expect("the sink takes within keep-alive");
                    }
                })
            };
            let sink = tokio::task::spawn_local(run(
                "k1".into(),
                channel,
                2,
                Box::new(recorder),
                counters,
                Arc::default(),
                lifecycle.control(),
            ));
            let waited = tokio::time::timeout(Duration::from_secs(10), async {
                while !log.borrow().iter().any(|l| l == until) {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            })
            .await;
            assert!(
                waited.is_ok(),
                "{backend}: no `{until}` in {:?}",
                log.borrow()
            );
            source.await.unwrap();
            lifecycle.advance(Phase::Drain);
            sink.await.unwrap();
        })
        .unwrap();
        log.take()
    }

    #[test]
    fn a_held_back_delivery_continues_into_the_batch_its_source_had_ready() {
        for backend in backends() {
            let batches = vec![
                batch("a\nb\n", true),
                batch("c\nd\n", true),
                batch("e\n", false),
            ];
            let log = sink_log(backend, batches, "e");
            // The channel holds one batch, so each put waits for the previous commit; the sink
            // lets the source run before it gives up on the batch it was told about.
            assert_eq!(log, ["a,b", "c,d", "e"], "{backend}");
        }
    }

    #[test]
    fn what_a_sink_held_back_is_sent_when_no_batch_follows() {
        for backend in backends() {
            // The source promised more but stopped (say, the rest of its line never came).
            let log = sink_log(backend, vec![batch("a\nb\n", true)], "flush");
            assert_eq!(log, ["a,b", "flush"], "{backend}");
        }
    }

    #[test]
    fn backoff_doubles_up_to_its_maximum_and_resets() {
        let ms = Duration::from_millis;
        let mut b = Backoff::new(ms(500));
        let waits: Vec<_> = (0..5).map(|_| b.next_delay()).collect();
        assert_eq!(waits, [ms(100), ms(200), ms(400), ms(500), ms(500)]);
        b.reset();
        assert_eq!(b.next_delay(), ms(100));
        assert_eq!(
            Backoff::new(ms(10)).next_delay(),
            ms(100),
            "never below 100 ms"
        );
    }
}
