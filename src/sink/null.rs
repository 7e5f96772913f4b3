//! Flume's `null` sink: takes events and discards them (for benchmarks and tests).

use super::Deliver;
use crate::event::Batch;

/// Discards every batch.
#[derive(Debug, Default)]
pub struct NullSink;

impl Deliver for NullSink {
    async fn deliver(&mut self, _batches: &[Batch]) -> std::io::Result<()> {
        Ok(())
    }
}
