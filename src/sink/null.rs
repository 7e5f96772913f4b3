//! Flume's `null` sink: takes events and discards them (for benchmarks and tests).

use std::sync::Arc;

use super::Deliver;
use crate::component::{Component, ParseContext, Setting, Sink, SinkContext, SinkSpec};
use crate::config::Props;
use crate::event::Batch;

/// Settings of the null sink (drops every event).
#[derive(Debug, Clone, PartialEq)]
pub struct NullSinkConfig {
    /// Flume key `batchSize`, default 100.
    pub batch_size: usize,
}

/// Every property a null sink accepts.
const KEYS: &[&str] = &["type", "channel", "batchSize"];

/// Reads a null sink's settings (the registry's parser).
pub fn parse(p: &mut Props<'_>, _: &ParseContext<'_>) -> Option<Arc<dyn SinkSpec>> {
    let config = NullSinkConfig {
        batch_size: p.positive("batchSize", 100, "events"),
    };
    p.finish("a null sink", KEYS);
    Some(Arc::new(config))
}

impl Component for NullSinkConfig {
    fn type_name(&self) -> &'static str {
        "null"
    }

    fn describe(&self) -> Vec<Setting> {
        vec![Setting::new("batchSize", self.batch_size)]
    }
}

impl SinkSpec for NullSinkConfig {
    fn batch_size(&self) -> usize {
        self.batch_size
    }

    fn build(&self, _: &SinkContext) -> Box<dyn Sink> {
        Box::new(NullSink)
    }
}

/// Discards every batch.
#[derive(Debug, Default)]
pub struct NullSink;

impl Deliver for NullSink {
    async fn deliver(&mut self, _batches: &[Batch]) -> std::io::Result<()> {
        Ok(())
    }
}
