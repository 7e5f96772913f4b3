//! Flume's durable `file` channel, as a write-ahead log: committed puts are appended to segment
//! files as checksummed records ([`record`], [`segment`]) by a group-commit writer
//! ([`writer`]), and acknowledged to their sources only once on disk; takes read the records
//! back ([`channel`]), and commits log what was taken, so that a restart replays exactly what
//! was put and not taken: from a [`checkpoint`] of the queue and the log written after it.

pub mod channel;
pub mod checkpoint;
pub mod codec;
pub mod config;
pub mod record;
pub mod segment;
pub mod writer;

use std::sync::Arc;

pub use channel::FileChannel;
pub use config::FileChannelConfig;

use crate::component::{
    Acknowledges, Channel, ChannelContext, ChannelSpec, Component, ParseContext, Setting,
    StartError,
};
use crate::config::Props;

/// Reads a file channel's settings (the registry's parser).
pub fn parse(p: &mut Props<'_>, ctx: &ParseContext<'_>) -> Option<Arc<dyn ChannelSpec>> {
    let config = config::parse_file_channel(p, ctx.base)?;
    Some(Arc::new(config))
}

impl Component for FileChannelConfig {
    fn type_name(&self) -> &'static str {
        "file"
    }

    fn describe(&self) -> Vec<Setting> {
        self.settings()
    }
}

impl ChannelSpec for FileChannelConfig {
    fn transaction_capacity(&self) -> usize {
        self.transaction_capacity
    }

    fn capacity(&self) -> usize {
        self.capacity
    }

    fn acknowledges(&self) -> Acknowledges {
        Acknowledges::AtDurablePut
    }

    fn build(&self, ctx: ChannelContext<'_>) -> Result<Arc<dyn Channel>, StartError> {
        if !self.inert_keys.is_empty() {
            tracing::info!(
                channel = ctx.name,
                keys = ?self.inert_keys,
                "set, and kept for Flume compatibility, but without effect: spate's file \
                 channel syncs every commit (group commit), has one replay, and copies its \
                 checkpoint uncompressed (only with useDualCheckpoints)"
            );
        }
        let channel = FileChannel::open(ctx.name, self, ctx.counters, ctx.backend)
            .map_err(StartError::new)?;
        Ok(Arc::new(channel))
    }
}
