//! Flume's `timestamp` interceptor: sets a header to the time the event passed, in
//! milliseconds since the epoch.
//!
//! Flume reads the clock once per event; spate once per batch, so the events of a batch share
//! the value (they pass within microseconds of one another) and the header is stored once.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::component::{
    Component, Interceptor, InterceptorSpec, ParseContext, Setting, StartError,
};
use crate::config::Props;
use crate::event::Batch;

/// Settings of the `timestamp` interceptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampConfig {
    /// Flume key `headerName`, default `timestamp`.
    pub header_name: String,
    /// Flume key `preserveExisting`, default false.
    pub preserve_existing: bool,
}

const KEYS: &[&str] = &["type", "headerName", "preserveExisting"];

/// Reads a `timestamp` interceptor's settings (the registry's parser).
pub fn parse(p: &mut Props<'_>, _: &ParseContext<'_>) -> Option<Arc<dyn InterceptorSpec>> {
    let config = TimestampConfig {
        header_name: p.string("headerName", "timestamp"),
        preserve_existing: p.bool("preserveExisting", false),
    };
    p.finish("a timestamp interceptor", KEYS);
    Some(Arc::new(config))
}

impl Component for TimestampConfig {
    fn type_name(&self) -> &'static str {
        "timestamp"
    }

    fn describe(&self) -> Vec<Setting> {
        vec![
            Setting::new("headerName", &self.header_name),
            Setting::new("preserveExisting", self.preserve_existing),
        ]
    }
}

impl InterceptorSpec for TimestampConfig {
    fn build(&self) -> Result<Arc<dyn Interceptor>, StartError> {
        Ok(Arc::new(self.clone()))
    }
}

impl Interceptor for TimestampConfig {
    fn intercept(&self, mut batch: Batch) -> Option<Batch> {
        // A clock before 1970 is a broken host; 0 then, as Java's would be negative.
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        batch.set_header(
            &self.header_name,
            &millis.to_string(),
            self.preserve_existing,
        );
        Some(batch)
    }
}
