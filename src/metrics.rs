//! Component counters, named as Flume names them (`EventReceivedCount`, ...), so a Flume
//! dashboard reads spate's figures unchanged.
//!
//! Each component owns its counters and is their only writer; they are updated once per batch,
//! never per event. Readers (shutdown summary, monitoring) load them relaxed: figures may be a
//! batch behind, never torn.

use std::sync::atomic::{AtomicU64, Ordering};

/// A count; monotonically increasing except for gauges such as `OpenConnectionCount`.
///
/// Each counter has a cache line pair of its own (128 bytes, what x86's adjacent-line
/// prefetcher moves together): a channel's put counters, written by its sources' workers, and
/// its take counters, written by its sinks', never share one.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`.
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// Subtracts `n` (gauges only).
    #[inline]
    pub fn sub(&self, n: u64) {
        self.0.fetch_sub(n, Ordering::Relaxed);
    }

    /// Sets the value (gauges only).
    #[inline]
    pub fn set(&self, n: u64) {
        self.0.store(n, Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

macro_rules! counters {
    ($(#[$doc:meta])* $name:ident { $($(#[doc = $fdoc:literal])* $field:ident => $flume:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Default)]
        pub struct $name {
            $($(#[doc = $fdoc])* pub $field: Counter,)*
        }

        impl $name {
            /// Every counter as `(Flume name, what it counts)`, in declaration order.
            pub const DESCRIPTIONS: &'static [(&'static str, &'static str)] =
                &[$(($flume, concat!($($fdoc),*)),)*];

            /// Every counter as `(Flume name, value)`, in declaration order.
            pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
                vec![$(($flume, self.$field.get()),)*]
            }

            /// Every counter summed over `parts` (the shards of one component), as
            /// [`Self::snapshot`] lists them.
            pub fn sum(parts: &[std::sync::Arc<Self>]) -> Vec<(&'static str, u64)> {
                vec![$(($flume, parts.iter().map(|p| p.$field.get()).sum()),)*]
            }

            /// Adds `other`'s counts to these (when a component keeps fewer parts).
            pub fn absorb(&self, other: &Self) {
                $(self.$field.add(other.$field.get());)*
            }
        }
    };
}

/// What the counter named `flume` of `descriptions` counts, on one line.
pub fn describe(descriptions: &[(&'static str, &'static str)], flume: &str) -> String {
    descriptions
        .iter()
        .find(|(n, _)| *n == flume)
        .map(|(_, d)| d.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

counters! {
    /// Counters of a source (Flume's `SourceCounter`), plus spate's line-length counts.
    SourceCounters {
        /// Events read from the input.
        event_received => "EventReceivedCount",
        /// Events put into every required channel.
        event_accepted => "EventAcceptedCount",
        /// Batches read from the input.
        append_batch_received => "AppendBatchReceivedCount",
        /// Batches put into every required channel.
        append_batch_accepted => "AppendBatchAcceptedCount",
        /// Files currently open (TAILDIR) or connections (network sources).
        open_connection => "OpenConnectionCount",
        /// Reads that failed: I/O errors on a file; for netcat, lines over `max-line-length`
        /// and partial lines left when a client closed.
        event_read_fail => "EventReadFail",
        /// Puts that waited longer than the channel's keep-alive (the source keeps waiting).
        channel_write_fail => "ChannelWriteFail",
        /// Other failures: position file writes, directory scans.
        generic_processing_fail => "GenericProcessingFail",
        /// Failed writes of the position file (also counted in `GenericProcessingFail`).
        position_write_fail => "PositionWriteFailCount",
        /// Lines longer than `maxLineLength` split into several events.
        lines_split => "LinesSplitCount",
        /// Lines longer than `maxLineLength` truncated (bytes past the limit dropped).
        lines_truncated => "LinesTruncatedCount",
        /// Bytes dropped by truncation.
        bytes_truncated => "BytesTruncatedCount",
        /// Events an interceptor dropped (`regex_filter`).
        event_filtered => "EventFilteredCount",
        /// Events the channel selector sent to no channel (multiplexing, a value not mapped and
        /// no default).
        event_unrouted => "EventUnroutedCount",
        /// Bytes of the events read (their bodies, before interceptors).
        bytes_received => "BytesReceivedCount",
    }
}

counters! {
    /// Counters of a channel (Flume's `ChannelCounter`); size and capacity are read from the
    /// channel itself.
    ChannelCounters {
        /// Events offered to the channel.
        put_attempt => "EventPutAttemptCount",
        /// Events accepted by the channel.
        put_success => "EventPutSuccessCount",
        /// Take attempts, in events asked for.
        take_attempt => "EventTakeAttemptCount",
        /// Events taken and committed.
        take_success => "EventTakeSuccessCount",
        /// Records a file channel skipped as damaged (at a start) or unreadable (at a take):
        /// their events are lost, and the log says where.
        record_skipped => "RecordSkippedCount",
    }
}

counters! {
    /// Counters of a sink (Flume's `SinkCounter`).
    SinkCounters {
        /// Connections opened.
        connection_created => "ConnectionCreatedCount",
        /// Connections closed, orderly or after an error.
        connection_closed => "ConnectionClosedCount",
        /// Connection attempts that failed.
        connection_failed => "ConnectionFailedCount",
        /// Takes that found the channel empty.
        batch_empty => "BatchEmptyCount",
        /// Takes that returned fewer events than the batch size.
        batch_underflow => "BatchUnderflowCount",
        /// Takes that returned a full batch.
        batch_complete => "BatchCompleteCount",
        /// Events taken for delivery.
        event_drain_attempt => "EventDrainAttemptCount",
        /// Events delivered and committed.
        event_drain_success => "EventDrainSuccessCount",
        /// Writes that failed (the batch is kept and retried).
        event_write_fail => "EventWriteFail",
        /// Takes that failed.
        channel_read_fail => "ChannelReadFail",
        /// Transactions rolled back.
        rollback => "RollbackCount",
        /// Bytes written into a connection that the collector's TCP had not acknowledged when
        /// the connection failed or was found closed (spate's own): those of committed takes may
        /// be lost. Bytes the collector's kernel acknowledged but it never read cannot be counted.
        bytes_unconfirmed => "BytesUnconfirmedCount",
        /// Bytes of the events delivered and committed (their bodies).
        bytes_delivered => "BytesDeliveredCount",
    }
}

/// What a sink's transaction loop is doing, for `/health` and the status line: written once per
/// take, by the sink's worker only.
#[derive(Debug, Default)]
pub struct DeliveryState {
    /// When the take being delivered was taken, in [`mono_ms`]; 0 while the sink has nothing
    /// taken.
    pub delivering_since_ms: Counter,
    /// Failed attempts at the take being delivered (0 after a success).
    pub consecutive_failures: Counter,
    /// How long its events took from their source to the sink's commit.
    pub latency: LatencyHistogram,
}

/// Upper bounds of [`LatencyHistogram`]'s buckets, in seconds (the last one catches the rest).
pub const LATENCY_BOUNDS: [f64; 16] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

/// Delivery latency of events, in fixed buckets: per committed batch (its events all fall in
/// one bucket), one bucket and the sum are updated. Written by one sink's task only (its
/// [`DeliveryState`] is its own), so an update is a relaxed load and store, without the
/// locked read-modify-write a shared counter needs; scrapes read it.
#[derive(Debug, Default)]
pub struct LatencyHistogram {
    /// Events per bucket of [`LATENCY_BOUNDS`], then those above the last bound.
    buckets: [Counter; LATENCY_BOUNDS.len() + 1],
    /// Sum of the events' latencies, in microseconds.
    sum_us: Counter,
}

impl LatencyHistogram {
    /// Records `events` events that took `latency`.
    #[inline]
    pub fn record(&self, latency: std::time::Duration, events: u64) {
        let secs = latency.as_secs_f64();
        let i = LATENCY_BOUNDS
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(LATENCY_BOUNDS.len());
        let add = |c: &Counter, n: u64| c.set(c.get().wrapping_add(n));
        add(&self.buckets[i], events);
        add(
            &self.sum_us,
            (latency.as_micros() as u64).saturating_mul(events),
        );
    }

    /// (events per bucket, not cumulative, the last above every bound; sum in seconds).
    pub fn read(&self) -> (Vec<u64>, f64) {
        let counts = self.buckets.iter().map(Counter::get).collect();
        (counts, self.sum_us.get() as f64 / 1e6)
    }
}

impl DeliveryState {
    /// A take of events begins its delivery, at `at`.
    #[inline]
    pub fn taken(&self, at: std::time::Instant) {
        self.delivering_since_ms.set(mono_ms(at).max(1));
    }

    /// The take was delivered, or given back: nothing is being delivered.
    #[inline]
    pub fn done(&self) {
        self.delivering_since_ms.set(0);
        self.consecutive_failures.set(0);
    }
}

/// Milliseconds from a process-wide monotonic origin to `at`: a time sinks record cheaply (from
/// an `Instant` they read anyway) and readers compare across threads.
pub fn mono_ms(at: std::time::Instant) -> u64 {
    static ORIGIN: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let origin = *ORIGIN.get_or_init(|| {
        // Before any `Instant` a sink reads: the first caller is the agent's start.
        std::time::Instant::now() - std::time::Duration::from_secs(1)
    });
    at.saturating_duration_since(origin).as_millis() as u64
}

/// The files a source reads, as it last published them: what its lag is made of. TAILDIR
/// publishes each file's delivered offset when it records positions (and about once a second
/// when idle), only while someone reads them (monitoring is served); the reader looks at the
/// files' sizes, so that the lag stays true while the source cannot publish (waiting for room
/// in a full channel).
#[derive(Debug, Default)]
pub struct FileFigures {
    wanted: std::sync::atomic::AtomicBool,
    /// The files of each shard, replaced whole at each publication.
    shards: std::sync::Mutex<Vec<Vec<FileFigure>>>,
}

/// A file a source reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFigure {
    /// Its path.
    pub path: std::path::PathBuf,
    /// Its inode: the path may name another file by the time it is read (rotation).
    pub ino: u64,
    /// Its size: as published, then as [`FileFigures::all`] finds it.
    pub size: u64,
    /// How much of it was delivered.
    pub delivered: u64,
}

impl FileFigure {
    /// Bytes not yet delivered.
    pub fn lag(&self) -> u64 {
        self.size.saturating_sub(self.delivered)
    }
}

impl FileFigures {
    /// Figures that are published only if `wanted`.
    pub fn new(wanted: bool) -> Self {
        FileFigures {
            wanted: wanted.into(),
            shards: Default::default(),
        }
    }

    /// Whether a source should publish its files.
    pub fn wanted(&self) -> bool {
        self.wanted.load(Ordering::Relaxed)
    }

    /// Replaces the files of `shard`.
    pub fn publish(&self, shard: usize, files: Vec<FileFigure>) {
        let mut shards = self.shards.lock().unwrap_or_else(|e| e.into_inner());
        if shards.len() <= shard {
            shards.resize_with(shard + 1, Vec::new);
        }
        shards[shard] = files;
    }

    /// Every file of every shard, as last published, with its size now (when its path still
    /// names it).
    pub fn all(&self) -> Vec<FileFigure> {
        let mut files: Vec<FileFigure> = {
            let shards = self.shards.lock().unwrap_or_else(|e| e.into_inner());
            shards.iter().flatten().cloned().collect()
        };
        for f in &mut files {
            if let Ok(st) = crate::runtime::io::stat_path(&f.path) {
                if st.ino == f.ino {
                    f.size = f.size.max(st.size);
                }
            }
        }
        files
    }
}

/// Milliseconds since the UNIX epoch (Flume's `StartTime` and `StopTime` unit).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_uses_flume_names() {
        let c = SinkCounters::default();
        c.event_drain_success.add(5);
        let snap = c.snapshot();
        assert!(snap.contains(&("EventDrainSuccessCount", 5)));
        assert!(snap.contains(&("ConnectionFailedCount", 0)));
    }
}
