//! The memory channel's configuration: Flume's keys and defaults.

use std::sync::Arc;
use std::time::Duration;

use super::MemoryChannel;
use crate::component::{
    Acknowledges, Channel, ChannelContext, ChannelSpec, Component, ParseContext, Setting,
    StartError,
};
use crate::config::{Props, JAVA_INT_MAX};

/// Default of `byteCapacity`: Flume uses 80% of the JVM heap, which is 16 MiB under flume-ng's
/// default `-Xmx20m`.
pub const DEFAULT_BYTE_CAPACITY: u64 = 16 * 1024 * 1024;

/// Largest `byteCapacity`: 1 TiB, more memory than a log host has.
pub(crate) const MAX_BYTE_CAPACITY: u64 = 1 << 40;

/// Settings of the memory channel.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryChannelConfig {
    /// Flume key `capacity`, default 100: most events held.
    pub capacity: usize,
    /// Flume key `transactionCapacity`, default 100: most events per put or take transaction;
    /// at most `capacity`.
    pub transaction_capacity: usize,
    /// Flume key `keep-alive` (SECONDS), default 3: how long a put waits for room.
    pub keep_alive: Duration,
    /// Flume key `byteCapacity` (bytes of event bodies), default 16777216
    /// ([`DEFAULT_BYTE_CAPACITY`]: Flume's 80% of the default 20 MiB heap). Must be positive.
    pub byte_capacity: u64,
    /// Flume key `byteCapacityBufferPercentage`, default 20: share of `byteCapacity` kept free
    /// for headers; 0 to 99.
    pub byte_capacity_buffer_percentage: u8,
}

/// Every property a memory channel accepts.
const KEYS: &[&str] = &[
    "type",
    "capacity",
    "transactionCapacity",
    "keep-alive",
    "byteCapacity",
    "byteCapacityBufferPercentage",
];

/// Reads a memory channel's settings (the registry's parser).
pub fn parse(p: &mut Props<'_>, _: &ParseContext<'_>) -> Option<Arc<dyn ChannelSpec>> {
    let config = parse_memory(p);
    p.finish("a memory channel", KEYS);
    Some(Arc::new(config))
}

fn parse_memory(p: &mut Props<'_>) -> MemoryChannelConfig {
    let (capacity, transaction_capacity) = crate::channel::capacities(p, 100, 100);
    let keep_alive = p
        .int("keep-alive", 3, 0, JAVA_INT_MAX, "seconds")
        .unwrap_or(3);
    let byte_capacity = p
        .int(
            "byteCapacity",
            DEFAULT_BYTE_CAPACITY,
            1,
            MAX_BYTE_CAPACITY,
            "bytes",
        )
        .unwrap_or(DEFAULT_BYTE_CAPACITY);
    let pct = p
        .int("byteCapacityBufferPercentage", 20, 0, 99, "percent")
        .unwrap_or(20);
    MemoryChannelConfig {
        capacity,
        transaction_capacity,
        keep_alive: Duration::from_secs(keep_alive),
        byte_capacity,
        byte_capacity_buffer_percentage: pct as u8,
    }
}

impl Component for MemoryChannelConfig {
    fn type_name(&self) -> &'static str {
        "memory"
    }

    fn describe(&self) -> Vec<Setting> {
        let byte_note = if self.byte_capacity == DEFAULT_BYTE_CAPACITY {
            "Flume's default: 80% of flume-ng's default 20 MiB heap"
        } else {
            ""
        };
        vec![
            Setting::new("capacity", self.capacity),
            Setting::new("transactionCapacity", self.transaction_capacity),
            Setting::new("keep-alive", self.keep_alive.as_secs()),
            Setting::new("byteCapacity", self.byte_capacity).note(byte_note),
            Setting::new(
                "byteCapacityBufferPercentage",
                self.byte_capacity_buffer_percentage,
            ),
        ]
    }
}

impl ChannelSpec for MemoryChannelConfig {
    fn transaction_capacity(&self) -> usize {
        self.transaction_capacity
    }

    fn capacity(&self) -> usize {
        self.capacity
    }

    fn acknowledges(&self) -> Acknowledges {
        Acknowledges::AtSinkCommit
    }

    fn build(&self, ctx: ChannelContext<'_>) -> Result<Arc<dyn Channel>, StartError> {
        Ok(Arc::new(MemoryChannel::with_counters(
            ctx.name,
            self,
            ctx.counters,
        )))
    }
}
