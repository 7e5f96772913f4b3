//! End-to-end acknowledgements: how a sink's commit travels back to the source that read the data.
//!
//! A source that can re-read its input (TAILDIR) must not record a position until the batches
//! before it were delivered, or a crash loses what was still in the memory channel. Each batch the
//! source puts carries an [`Ack`]: a token and the source's [`AckQueue`]. When a sink commits the
//! batch, the channel delivers the ack, which pushes the token onto the lock-free queue. The
//! source, the only owner of its position state, drains the queue on its own thread and feeds a
//! [`Tracker`], which releases entries strictly in the order they were read, however the acks
//! arrive (several sinks on one channel commit out of order).
//!
//! Costs: one queue push, one fence and one relaxed load per batch per channel, one drain per
//! source turn. Nothing per event.
//!
//! A source that is idle can ask to be woken by the next ack ([`AckQueue::arrival`]), to record a
//! position as soon as it is delivered; it asks at most once per position write, so a sink pays
//! for a cross-core wake-up at most that often.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::Arc;

use crossbeam_queue::SegQueue;
use tokio::sync::Notify;

/// The queue on which sinks return tokens to a source. Unbounded in type, bounded in practice by
/// the number of batches in flight, which the channels' capacities bound.
#[derive(Default)]
pub struct AckQueue {
    tokens: SegQueue<u64>,
    /// Whether the source waits in [`AckQueue::arrival`].
    armed: AtomicBool,
    wake: Notify,
}

impl AckQueue {
    /// An empty queue.
    pub fn new() -> Arc<Self> {
        Arc::new(AckQueue::default())
    }

    /// Calls `f` with every token delivered so far, in arrival order.
    pub fn drain(&self, mut f: impl FnMut(u64)) {
        while let Some(token) = self.tokens.pop() {
            f(token);
        }
    }

    /// Resolves once a token is in the queue (at once if one already is). Cancel-safe: a
    /// cancelled wait leaves at most one spurious wake-up behind.
    pub async fn arrival(&self) {
        struct Disarm<'a>(&'a AtomicBool);
        impl Drop for Disarm<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::Relaxed);
            }
        }
        self.armed.store(true, Ordering::Relaxed);
        let _disarm = Disarm(&self.armed);
        // Pairs with the fence in `Ack::deliver`: either the sender sees `armed`, or this sees
        // its token (Dekker's pattern; the queue's own orderings are not sequentially consistent).
        fence(Ordering::SeqCst);
        if self.tokens.is_empty() {
            // A wake-up sent between the check and this wait is kept as a permit.
            self.wake.notified().await;
        }
    }
}

impl fmt::Debug for AckQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AckQueue")
            .field("pending", &self.tokens.len())
            .finish()
    }
}

/// Proof that one copy of a batch was delivered, redeemed with [`Ack::deliver`]. Dropping it
/// without delivering means "not delivered": the source will not advance past it.
#[derive(Clone)]
pub struct Ack {
    queue: Arc<AckQueue>,
    token: u64,
}

impl Ack {
    /// An ack that returns `token` to `queue` when delivered.
    pub fn new(queue: Arc<AckQueue>, token: u64) -> Self {
        Ack { queue, token }
    }

    /// Its token (what [`Ack::deliver`] returns to its queue).
    pub fn token(&self) -> u64 {
        self.token
    }

    /// Reports the batch delivered.
    pub fn deliver(self) {
        let queue = &self.queue;
        queue.tokens.push(self.token);
        fence(Ordering::SeqCst);
        if queue.armed.load(Ordering::Relaxed) {
            queue.wake.notify_one();
        }
    }
}

impl fmt::Debug for Ack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ack({})", self.token)
    }
}

/// Batches in flight, in the order they were read, released in that order once acknowledged.
///
/// Each entry expects `copies` acks (one per channel it was put into). Sequence numbers are
/// dense: entry `i` of the deque has sequence `base + i`, so an ack is O(1).
#[derive(Debug)]
pub struct Tracker<T> {
    /// Sequence number of `entries[0]`.
    base: u64,
    entries: VecDeque<Entry<T>>,
}

#[derive(Debug)]
struct Entry<T> {
    /// Acks still expected; 0 means delivered everywhere. Until the number of copies is known
    /// ([`Tracker::expect`]), the acks that came in already.
    pending: u32,
    /// Whether the number of copies is known.
    known: bool,
    value: T,
}

impl<T> Default for Tracker<T> {
    fn default() -> Self {
        Tracker {
            base: 0,
            entries: VecDeque::new(),
        }
    }
}

impl<T> Tracker<T> {
    /// Records a batch that will be acknowledged `copies` times; returns its token.
    pub fn push(&mut self, copies: u32, value: T) -> u64 {
        let seq = self.push_unknown(value);
        self.expect(seq, copies);
        seq
    }

    /// Records a batch whose number of copies is not known yet (the channel selector decides
    /// it as the batch is put); returns its token. It is not released before
    /// [`Tracker::expect`] says how many acks to wait for: a put cut short by a stop keeps it,
    /// and everything after it, unreleased.
    pub fn push_unknown(&mut self, value: T) -> u64 {
        let seq = self.base + self.entries.len() as u64;
        self.entries.push_back(Entry {
            pending: 0,
            known: false,
            value,
        });
        seq
    }

    /// Says how many acks the batch of `token` waits for: 0 when it went into no channel
    /// (every event filtered out, or only optional channels).
    pub fn expect(&mut self, token: u64, copies: u32) {
        if let Some(entry) = self.entry(token) {
            if !entry.known {
                entry.pending = copies.saturating_sub(entry.pending);
                entry.known = true;
            }
        }
    }

    /// Counts one ack for `token`. Unknown or already released tokens are ignored (a stale ack
    /// from before a restart of the component cannot corrupt the order).
    pub fn ack(&mut self, token: u64) {
        if let Some(entry) = self.entry(token) {
            if entry.known {
                entry.pending = entry.pending.saturating_sub(1);
            } else {
                entry.pending += 1;
            }
        }
    }

    fn entry(&mut self, token: u64) -> Option<&mut Entry<T>> {
        let index = token.checked_sub(self.base)?;
        self.entries.get_mut(usize::try_from(index).ok()?)
    }

    /// Removes the delivered entries at the front, oldest first, handing each to `f`.
    pub fn release(&mut self, mut f: impl FnMut(T)) {
        while self
            .entries
            .front()
            .is_some_and(|e| e.known && e.pending == 0)
        {
            let entry = self.entries.pop_front().expect("front checked");
            self.base += 1;
            f(entry.value);
        }
    }

    /// Number of batches not yet released.
    pub fn in_flight(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_in_read_order_whatever_the_ack_order() {
        let mut tracker = Tracker::default();
        let a = tracker.push(1, "a");
        let b = tracker.push(1, "b");
        let c = tracker.push(1, "c");
        let mut out = Vec::new();
        tracker.ack(c);
        tracker.release(|v| out.push(v));
        assert!(out.is_empty(), "c may not pass a and b");
        tracker.ack(a);
        tracker.release(|v| out.push(v));
        assert_eq!(out, ["a"]);
        tracker.ack(b);
        tracker.release(|v| out.push(v));
        assert_eq!(out, ["a", "b", "c"]);
        assert_eq!(tracker.in_flight(), 0);
    }

    #[test]
    fn waits_for_every_copy() {
        let mut tracker = Tracker::default();
        let t = tracker.push(2, 7);
        tracker.ack(t);
        let mut out = Vec::new();
        tracker.release(|v| out.push(v));
        assert!(out.is_empty());
        tracker.ack(t);
        tracker.release(|v| out.push(v));
        assert_eq!(out, [7]);
        tracker.ack(t); // stale: ignored
        assert_eq!(tracker.in_flight(), 0);
    }

    #[test]
    fn acks_cross_threads_through_the_queue() {
        let queue = AckQueue::new();
        let mut tracker = Tracker::default();
        let acks: Vec<Ack> = (0..100)
            .map(|i| Ack::new(queue.clone(), tracker.push(1, i)))
            .collect();
        std::thread::spawn(move || acks.into_iter().rev().for_each(Ack::deliver))
            .join()
            .unwrap();
        queue.drain(|t| tracker.ack(t));
        let mut out = Vec::new();
        tracker.release(|v| out.push(v));
        assert_eq!(out, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn a_waiting_source_is_woken_by_an_ack_from_another_thread() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let queue = AckQueue::new();
        let ack = Ack::new(queue.clone(), 1);
        rt.block_on(async {
            let sender = std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(50));
                ack.deliver();
            });
            tokio::time::timeout(std::time::Duration::from_secs(10), queue.arrival())
                .await
                .expect("woken by the ack");
            sender.join().unwrap();
            // Already queued: no wait.
            tokio::time::timeout(std::time::Duration::from_millis(100), queue.arrival())
                .await
                .expect("a queued token resolves at once");
        });
        let mut tokens = Vec::new();
        queue.drain(|t| tokens.push(t));
        assert_eq!(tokens, [1]);
    }

    #[test]
    fn a_batch_waits_for_the_copies_its_put_made_even_if_acks_came_first() {
        let mut t: Tracker<u32> = Tracker::default();
        let a = t.push_unknown(1);
        let b = t.push_unknown(2);
        t.ack(a); // a sink committed before the put told how many copies there are
        let mut out = Vec::new();
        t.release(|v| out.push(v));
        assert!(out.is_empty(), "unknown copies: nothing released");
        t.expect(a, 2);
        t.expect(b, 0); // every event filtered out
        t.release(|v| out.push(v));
        assert!(out.is_empty(), "a waits for its second ack, b for a");
        t.ack(a);
        t.release(|v| out.push(v));
        assert_eq!(out, [1, 2]);
    }
}
