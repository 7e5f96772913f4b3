//! Channel configurations: the memory channel.

use std::time::Duration;

use super::props::{Props, JAVA_INT_MAX};

/// One configured channel.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelConfig {
    /// The component name, as listed in `<agent>.channels`.
    pub name: String,
    /// Flume key `type` and the type's own settings.
    pub kind: ChannelKind,
}

/// The channel types spate implements.
#[derive(Debug, Clone, PartialEq)]
pub enum ChannelKind {
    /// `type = memory` (or `org.apache.flume.channel.MemoryChannel`).
    Memory(MemoryChannelConfig),
}

impl ChannelKind {
    /// The most events one transaction may carry (`transactionCapacity`).
    pub fn transaction_capacity(&self) -> usize {
        match self {
            ChannelKind::Memory(m) => m.transaction_capacity,
        }
    }
}

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
pub(crate) const MEMORY_KEYS: &[&str] = &[
    "type",
    "capacity",
    "transactionCapacity",
    "keep-alive",
    "byteCapacity",
    "byteCapacityBufferPercentage",
];

/// Reads a memory channel's settings.
pub(crate) fn parse_memory(p: &mut Props<'_>) -> MemoryChannelConfig {
    let capacity = p.positive("capacity", 100, "events");
    let transaction_capacity = p.positive("transactionCapacity", 100, "events");
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
