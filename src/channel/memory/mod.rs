//! Flume's memory channel: a bounded, lock-free queue of batches with transactional put and take.
//!
//! # Algorithm
//!
//! Batches sit in a crossbeam [`ArrayQueue`] (Vyukov's bounded MPMC ring). Capacity is counted in
//! events and in body bytes, as Flume counts it, with two atomic counters reserved by a CAS before
//! a batch enters the ring and released when a sink commits its take. A batch therefore occupies
//! capacity from its put until its commit, so a sink holding an unacknowledged batch still pushes
//! back on the source. Every operation touches the counters once per batch, never per event.
//!
//! # Transactions
//!
//! * Put is all-or-nothing because a batch is put whole: a source's transaction is one batch of at
//!   most `transactionCapacity` events (the configuration checks it).
//! * Take hands whole batches to the sink, which keeps them until it [commits](MemoryChannel::commit)
//!   (capacity released, acknowledgements delivered to the source) or [rolls
//!   back](MemoryChannel::rollback) (batches returned to the head of the channel, in order, so the
//!   next take redelivers them before anything newer).
//!
//! # Waiting
//!
//! A full channel makes [`crate::channel::put`] wait, up to `keep-alive`, for a commit to free
//! space; a source that gets its batch back waits again and reads nothing meanwhile. Sinks wait
//! for data with [`crate::channel::wait_for_events`]. Both use the channel's
//! `tokio::sync::Notify`s, which wake a task on another worker thread without a lock on the fast
//! path.

mod config;

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_queue::ArrayQueue;
use tokio::sync::Notify;

pub use self::config::{parse, MemoryChannelConfig, DEFAULT_BYTE_CAPACITY};

use crate::ack::Ack;
use crate::component::Channel;
use crate::event::Batch;
use crate::metrics::ChannelCounters;

/// Most batches a channel's ring holds, whatever its event capacity: the ring is allocated up
/// front, and batches from a file source carry many events each.
pub const MAX_BATCH_SLOTS: usize = 16 * 1024;

/// A bounded in-memory channel; see the module documentation.
pub struct MemoryChannel {
    name: String,
    ring: ArrayQueue<Batch>,
    /// Batches rolled back by a sink, taken before the ring. Touched only on rollback.
    returned: Mutex<VecDeque<Batch>>,
    has_returned: AtomicBool,
    /// Events put and not yet committed by a sink (Flume's `ChannelSize` counts the same).
    events: AtomicUsize,
    /// Body bytes put and not yet committed.
    bytes: AtomicUsize,
    capacity: usize,
    byte_capacity: usize,
    keep_alive: Duration,
    not_empty: Notify,
    not_full: Notify,
    counters: Arc<ChannelCounters>,
}

impl MemoryChannel {
    /// A channel named `name` with Flume's memory channel settings.
    pub fn new(name: impl Into<String>, config: &MemoryChannelConfig) -> Self {
        Self::with_counters(name, config, Arc::default())
    }

    /// A channel counting into `counters` (which outlive it across a configuration reload).
    pub fn with_counters(
        name: impl Into<String>,
        config: &MemoryChannelConfig,
        counters: Arc<ChannelCounters>,
    ) -> Self {
        let pct = u64::from(config.byte_capacity_buffer_percentage.min(100));
        // Flume keeps `byteCapacityBufferPercentage` of the byte capacity free for headers.
        let byte_capacity = config.byte_capacity.saturating_mul(100 - pct) / 100;
        MemoryChannel {
            name: name.into(),
            ring: ArrayQueue::new(config.capacity.clamp(1, MAX_BATCH_SLOTS)),
            returned: Mutex::new(VecDeque::new()),
            has_returned: AtomicBool::new(false),
            events: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
            capacity: config.capacity.max(1),
            byte_capacity: usize::try_from(byte_capacity).unwrap_or(usize::MAX).max(1),
            keep_alive: config.keep_alive,
            not_empty: Notify::new(),
            not_full: Notify::new(),
            counters,
        }
    }

    /// The channel's name in the configuration.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Capacity in events.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Events in the channel, including those taken but not yet committed.
    pub fn size(&self) -> usize {
        self.events.load(Ordering::Relaxed)
    }

    /// Body bytes in the channel, including those taken but not yet committed.
    pub fn byte_size(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// The channel's counters.
    pub fn counters(&self) -> &ChannelCounters {
        &self.counters
    }

    /// Puts `batch` if there is room now; hands it back otherwise.
    pub fn put_now(&self, batch: Batch) -> Result<(), Batch> {
        let (events, bytes) = (batch.len(), batch.body_bytes());
        if !self.reserve(events, bytes) {
            return Err(batch);
        }
        if let Err(batch) = self.ring.push(batch) {
            self.release(events, bytes);
            return Err(batch);
        }
        self.counters.put_success.add(events as u64);
        self.not_empty.notify_one();
        Ok(())
    }

    /// Takes whole batches into `into` until they hold at least `max_events` events or the
    /// channel is empty; returns the number of events taken. A take never splits a batch, so it
    /// may exceed `max_events` by less than one batch.
    pub fn take(&self, max_events: usize, into: &mut Vec<Batch>) -> usize {
        self.counters.take_attempt.add(max_events as u64);
        let mut taken = 0;
        while taken < max_events {
            let Some(batch) = self.pop() else { break };
            taken += batch.len();
            into.push(batch);
        }
        taken
    }

    /// Commits a take: the batches were delivered. Releases their capacity and delivers their
    /// acknowledgements. Empties `batches`.
    pub fn commit(&self, batches: &mut Vec<Batch>) {
        let (mut events, mut bytes) = (0, 0);
        for batch in batches.iter_mut() {
            events += batch.len();
            bytes += batch.body_bytes();
            if let Some(ack) = batch.take_ack() {
                Ack::deliver(ack);
            }
        }
        batches.clear();
        if events > 0 {
            self.release(events, bytes);
            self.counters.take_success.add(events as u64);
            self.not_full.notify_one();
        }
    }

    /// Rolls back a take: the batches go back to the head of the channel, in their order, to be
    /// taken again before anything newer. Empties `batches`.
    pub fn rollback(&self, batches: &mut Vec<Batch>) {
        if batches.is_empty() {
            return;
        }
        let mut returned = self.returned.lock().unwrap_or_else(|e| e.into_inner());
        for batch in batches.drain(..).rev() {
            returned.push_front(batch);
        }
        self.has_returned.store(true, Ordering::Release);
        drop(returned);
        self.not_empty.notify_one();
    }

    /// Whether no batch is waiting to be taken (taken but uncommitted batches don't count).
    pub fn is_drained(&self) -> bool {
        self.ring.is_empty() && !self.has_returned.load(Ordering::Acquire)
    }

    fn pop(&self) -> Option<Batch> {
        if self.has_returned.load(Ordering::Acquire) {
            let mut returned = self.returned.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(batch) = returned.pop_front() {
                if returned.is_empty() {
                    self.has_returned.store(false, Ordering::Release);
                }
                return Some(batch);
            }
            self.has_returned.store(false, Ordering::Release);
        }
        self.ring.pop()
    }

    /// Reserves room for a batch. An empty channel admits any batch, so a batch larger than the
    /// byte capacity still flows instead of blocking forever.
    fn reserve(&self, events: usize, bytes: usize) -> bool {
        let admit = |used: usize, n: usize, cap: usize| {
            (used == 0 || used.saturating_add(n) <= cap).then(|| used.saturating_add(n))
        };
        if self
            .events
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                admit(u, events, self.capacity)
            })
            .is_err()
        {
            return false;
        }
        if self
            .bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                admit(u, bytes, self.byte_capacity)
            })
            .is_err()
        {
            self.events.fetch_sub(events, Ordering::AcqRel);
            return false;
        }
        true
    }

    fn release(&self, events: usize, bytes: usize) {
        self.events.fetch_sub(events, Ordering::AcqRel);
        self.bytes.fetch_sub(bytes, Ordering::AcqRel);
    }
}

impl fmt::Debug for MemoryChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryChannel")
            .field("name", &self.name)
            .field("size", &self.size())
            .field("capacity", &self.capacity)
            .field("bytes", &self.byte_size())
            .field("byte_capacity", &self.byte_capacity)
            .finish()
    }
}

impl Channel for MemoryChannel {
    fn name(&self) -> &str {
        &self.name
    }

    fn try_put(&self, batch: Batch) -> Result<(), Batch> {
        self.put_now(batch)
    }

    fn take(&self, max_events: usize, into: &mut Vec<Batch>) -> usize {
        MemoryChannel::take(self, max_events, into)
    }

    fn commit(&self, taken: &mut Vec<Batch>) {
        MemoryChannel::commit(self, taken);
    }

    fn rollback(&self, taken: &mut Vec<Batch>) {
        MemoryChannel::rollback(self, taken);
    }

    fn is_drained(&self) -> bool {
        MemoryChannel::is_drained(self)
    }

    fn size(&self) -> usize {
        MemoryChannel::size(self)
    }

    fn keep_alive(&self) -> Duration {
        self.keep_alive
    }

    fn room(&self) -> &Notify {
        &self.not_full
    }

    fn arrivals(&self) -> &Notify {
        &self.not_empty
    }

    fn counters(&self) -> &ChannelCounters {
        &self.counters
    }
}

#[cfg(test)]
mod tests {

    use bytes::Bytes;

    use super::*;
    use crate::ack::{AckQueue, Tracker};

    fn config(capacity: usize, byte_capacity: u64) -> MemoryChannelConfig {
        MemoryChannelConfig {
            capacity,
            transaction_capacity: capacity,
            keep_alive: Duration::from_millis(20),
            byte_capacity,
            byte_capacity_buffer_percentage: 0,
        }
    }

    fn lines(n: u32) -> Batch {
        let text: String = (0..n).map(|i| format!("line{i}\n")).collect();
        Batch::from_lines(Bytes::from(text), n)
    }

    #[test]
    fn full_channel_refuses_and_hands_the_batch_back() {
        let ch = MemoryChannel::new("c1", &config(10, 1 << 20));
        ch.put_now(lines(6)).unwrap();
        let back = ch.put_now(lines(6)).unwrap_err();
        assert_eq!(back.len(), 6, "the refused batch comes back whole");
        assert_eq!(ch.size(), 6);
        ch.put_now(lines(4)).unwrap();
        assert_eq!(ch.size(), 10);
    }

    #[test]
    fn byte_capacity_counts_bodies_and_keeps_the_buffer_percentage_free() {
        let mut cfg = config(100, 100);
        cfg.byte_capacity_buffer_percentage = 20; // 80 bytes of bodies
        let ch = MemoryChannel::new("c1", &cfg);
        let body = Bytes::from(
            vec![b'x'; 50]
                .into_iter()
                .chain([b'\n'])
                .collect::<Vec<_>>(),
        );
        ch.put_now(Batch::from_lines(body.clone(), 1)).unwrap();
        assert!(ch.put_now(Batch::from_lines(body, 1)).is_err());
        assert_eq!(ch.byte_size(), 50);
    }

    #[test]
    fn capacity_is_held_until_commit_and_acks_delivered_then() {
        let ch = MemoryChannel::new("c1", &config(4, 1 << 20));
        let queue = AckQueue::new();
        let mut tracker = Tracker::default();
        let token = tracker.push(1, "batch");
        ch.put_now(lines(4).with_ack(Ack::new(queue.clone(), token)))
            .unwrap();
        let mut taken = Vec::new();
        assert_eq!(ch.take(100, &mut taken), 4);
        assert!(
            ch.put_now(lines(1)).is_err(),
            "taken, not committed: still full"
        );
        queue.drain(|t| tracker.ack(t));
        assert_eq!(tracker.in_flight(), 1, "no ack before commit");
        ch.commit(&mut taken);
        queue.drain(|t| tracker.ack(t));
        let mut released = Vec::new();
        tracker.release(|v| released.push(v));
        assert_eq!(released, ["batch"]);
        assert_eq!(ch.size(), 0);
        assert_eq!(ch.counters().take_success.get(), 4);
    }

    #[test]
    fn rollback_redelivers_in_order_before_newer_batches() {
        let ch = MemoryChannel::new("c1", &config(100, 1 << 20));
        for n in 1..=3 {
            ch.put_now(lines(n)).unwrap();
        }
        let mut taken = Vec::new();
        ch.take(3, &mut taken); // batches of 1 and 2 events
        assert_eq!(taken.len(), 2);
        ch.rollback(&mut taken);
        ch.put_now(lines(4)).unwrap();
        let mut again = Vec::new();
        ch.take(100, &mut again);
        let sizes: Vec<usize> = again.iter().map(Batch::len).collect();
        assert_eq!(sizes, [1, 2, 3, 4]);
    }

    #[test]
    fn an_oversized_batch_enters_an_empty_channel() {
        let ch = MemoryChannel::new("c1", &config(100, 10));
        ch.put_now(lines(50)).unwrap();
        assert!(ch.put_now(lines(1)).is_err());
    }

    #[test]
    fn put_waits_for_a_commit_on_another_thread() {
        let ch = Arc::new(MemoryChannel::new("c1", &config(2, 1 << 20)));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        ch.put_now(lines(2)).unwrap();
        let sink = {
            let ch = ch.clone();
            std::thread::spawn(move || {
                let mut received = 0;
                let mut taken = Vec::new();
                while received < 2 + 2 * 50 {
                    received += ch.take(10, &mut taken);
                    ch.commit(&mut taken);
                    std::thread::yield_now();
                }
                received
            })
        };
        rt.block_on(async {
            for _ in 0..50 {
                let mut batch = lines(2);
                loop {
                    match crate::channel::put(&*ch, batch).await {
                        Ok(()) => break,
                        Err(back) => batch = back,
                    }
                }
            }
        });
        assert_eq!(sink.join().unwrap(), 102);
        assert_eq!(ch.counters().put_success.get(), 102);
    }
}
