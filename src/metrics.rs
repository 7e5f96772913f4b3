//! Component counters, named as Flume names them (`EventReceivedCount`, ...), so a Flume
//! dashboard reads spate's figures unchanged.
//!
//! Each component owns its counters and is their only writer; they are updated once per batch,
//! never per event. Readers (shutdown summary, monitoring) load them relaxed: figures may be a
//! batch behind, never torn.

use std::sync::atomic::{AtomicU64, Ordering};

/// A count; monotonically increasing except for gauges such as `OpenConnectionCount`.
#[derive(Debug, Default)]
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

    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

macro_rules! counters {
    ($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $field:ident => $flume:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Default)]
        pub struct $name {
            $($(#[$fdoc])* pub $field: Counter,)*
        }

        impl $name {
            /// Every counter as `(Flume name, value)`, in declaration order.
            pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
                vec![$(($flume, self.$field.get()),)*]
            }
        }
    };
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
        /// Reads that failed (I/O errors on a file).
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
    }
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
