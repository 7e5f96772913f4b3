//! Flume's `static` interceptor: sets one header to a fixed value on every event.

use std::sync::Arc;

use crate::component::{
    Component, Interceptor, InterceptorSpec, ParseContext, Setting, StartError,
};
use crate::config::Props;
use crate::event::Batch;

/// Settings of the `static` interceptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticConfig {
    /// Flume key `key`, default `key`.
    pub key: String,
    /// Flume key `value`, default `value`.
    pub value: String,
    /// Flume key `preserveExisting`, default true: an event that has the header keeps it.
    pub preserve_existing: bool,
}

const KEYS: &[&str] = &["type", "key", "value", "preserveExisting"];

/// Reads a `static` interceptor's settings (the registry's parser).
pub fn parse(p: &mut Props<'_>, _: &ParseContext<'_>) -> Option<Arc<dyn InterceptorSpec>> {
    let config = StaticConfig {
        key: p.string("key", "key"),
        value: p.string("value", "value"),
        preserve_existing: p.bool("preserveExisting", true),
    };
    p.finish("a static interceptor", KEYS);
    Some(Arc::new(config))
}

impl Component for StaticConfig {
    fn type_name(&self) -> &'static str {
        "static"
    }

    fn describe(&self) -> Vec<Setting> {
        vec![
            Setting::new("key", &self.key),
            Setting::new("value", &self.value),
            Setting::new("preserveExisting", self.preserve_existing),
        ]
    }
}

impl InterceptorSpec for StaticConfig {
    fn build(&self) -> Result<Arc<dyn Interceptor>, StartError> {
        Ok(Arc::new(self.clone()))
    }
}

impl Interceptor for StaticConfig {
    fn intercept(&self, mut batch: Batch) -> Option<Batch> {
        batch.set_header(&self.key, &self.value, self.preserve_existing);
        Some(batch)
    }
}
