//! Flume's UUID interceptor (`org.apache.flume.sink.solr.morphline.UUIDInterceptor$Builder`,
//! shipped with Flume's morphline sink; it has no short name there): gives each event a header
//! holding a random (version 4) UUID, after an optional prefix.

use std::sync::Arc;

use crate::component::{
    Component, Interceptor, InterceptorSpec, ParseContext, Setting, StartError,
};
use crate::config::Props;
use crate::event::Batch;

/// Settings of the UUID interceptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UuidConfig {
    /// Flume key `headerName`, default `id`.
    pub header_name: String,
    /// Flume key `preserveExisting`, default true.
    pub preserve_existing: bool,
    /// Flume key `prefix`, default empty.
    pub prefix: String,
}

const KEYS: &[&str] = &["type", "headerName", "preserveExisting", "prefix"];

/// Reads a UUID interceptor's settings (the registry's parser).
pub fn parse(p: &mut Props<'_>, _: &ParseContext<'_>) -> Option<Arc<dyn InterceptorSpec>> {
    let config = UuidConfig {
        header_name: p.string("headerName", "id"),
        preserve_existing: p.bool("preserveExisting", true),
        prefix: p
            .get("prefix")
            .map_or_else(String::new, |e| e.value.clone()),
    };
    p.finish("a UUID interceptor", KEYS);
    Some(Arc::new(config))
}

impl Component for UuidConfig {
    fn type_name(&self) -> &'static str {
        "org.apache.flume.sink.solr.morphline.UUIDInterceptor$Builder"
    }

    fn describe(&self) -> Vec<Setting> {
        vec![
            Setting::new("headerName", &self.header_name),
            Setting::new("preserveExisting", self.preserve_existing),
            Setting::new("prefix", &self.prefix),
        ]
    }
}

impl InterceptorSpec for UuidConfig {
    fn build(&self) -> Result<Arc<dyn Interceptor>, StartError> {
        Ok(Arc::new(self.clone()))
    }
}

impl Interceptor for UuidConfig {
    fn intercept(&self, mut batch: Batch) -> Option<Batch> {
        // Each event its own value: one header per event, unlike the shared ones.
        let preserved: Vec<bool> = (0..batch.len())
            .map(|i| self.preserve_existing && batch.header(i, &self.header_name).is_some())
            .collect();
        let mut value = String::with_capacity(self.prefix.len() + 36);
        batch.modify_event_headers(|i, h| {
            if !preserved[i] {
                value.clear();
                value.push_str(&self.prefix);
                value.push_str(
                    uuid::Uuid::new_v4()
                        .hyphenated()
                        .encode_lower(&mut uuid::Uuid::encode_buffer()),
                );
                h.insert(self.header_name.as_str(), value.as_str());
            }
        });
        Some(batch)
    }
}
