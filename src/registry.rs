//! Every component type spate implements: one line each, with the names a Flume configuration
//! may give it in `type` (the short name first, then Flume's class name), and the parser of its
//! module. Adding a type is its module (configuration beside runtime code, see
//! [`crate::component`]) plus its line here.

use crate::component::{ChannelSpec, InterceptorSpec, SinkSpec, SourceSpec, Type};
use crate::{channel, interceptor, sink, source};

/// Source types.
#[rustfmt::skip]
pub static SOURCES: &[Type<dyn SourceSpec>] = &[
    Type { name: "TAILDIR", aliases: &["org.apache.flume.source.taildir.TaildirSource"], parse: source::taildir::parse },
    Type { name: "netcat", aliases: &["org.apache.flume.source.NetcatSource"], parse: source::netcat::parse },
    Type { name: "avro", aliases: &["org.apache.flume.source.AvroSource"], parse: source::avro::parse },
];

/// Channel types.
#[rustfmt::skip]
pub static CHANNELS: &[Type<dyn ChannelSpec>] = &[
    Type { name: "memory", aliases: &["org.apache.flume.channel.MemoryChannel"], parse: channel::memory::parse },
    Type { name: "file", aliases: &["org.apache.flume.channel.file.FileChannel"], parse: channel::file::parse },
];

/// Channel types of unit tests only: a channel that delivers by itself (as Flume's Kafka
/// channel does), for the wiring checks.
#[cfg(test)]
#[rustfmt::skip]
pub(crate) static TEST_CHANNELS: &[Type<dyn ChannelSpec>] = &[
    Type { name: "test_self_delivering", aliases: &[], parse: tests::self_delivering },
];
#[cfg(not(test))]
pub(crate) static TEST_CHANNELS: &[Type<dyn ChannelSpec>] = &[];

/// Sink types. `tcp` is spate's own.
#[rustfmt::skip]
pub static SINKS: &[Type<dyn SinkSpec>] = &[
    Type { name: "avro", aliases: &["org.apache.flume.sink.AvroSink"], parse: sink::avro::parse },
    Type { name: "logger", aliases: &["org.apache.flume.sink.LoggerSink"], parse: sink::logger::parse },
    Type { name: "null", aliases: &["org.apache.flume.sink.NullSink"], parse: sink::null::parse },
    Type { name: "tcp", aliases: &[], parse: sink::tcp::parse },
];

/// Interceptor types. Flume knows the UUID interceptor by its class name only.
#[rustfmt::skip]
pub static INTERCEPTORS: &[Type<dyn InterceptorSpec>] = &[
    Type { name: "timestamp", aliases: &["org.apache.flume.interceptor.TimestampInterceptor$Builder"], parse: interceptor::timestamp::parse },
    Type { name: "host", aliases: &["org.apache.flume.interceptor.HostInterceptor$Builder"], parse: interceptor::host::parse },
    Type { name: "static", aliases: &["org.apache.flume.interceptor.StaticInterceptor$Builder"], parse: interceptor::static_header::parse },
    Type { name: "remove_header", aliases: &["org.apache.flume.interceptor.RemoveHeaderInterceptor$Builder"], parse: interceptor::remove_header::parse },
    Type { name: "search_replace", aliases: &["org.apache.flume.interceptor.SearchAndReplaceInterceptor$Builder"], parse: interceptor::search_replace::parse },
    Type { name: "regex_filter", aliases: &["org.apache.flume.interceptor.RegexFilteringInterceptor$Builder"], parse: interceptor::regex_filter::parse },
    Type { name: "regex_extractor", aliases: &["org.apache.flume.interceptor.RegexExtractorInterceptor$Builder"], parse: interceptor::regex_extractor::parse },
    Type { name: "org.apache.flume.sink.solr.morphline.UUIDInterceptor$Builder", aliases: &[], parse: interceptor::uuid::parse },
];

/// Flume's source types that spate does not implement yet: named as such in errors (any
/// `org.apache.flume.` class name is too).
pub const FLUME_ONLY_SOURCES: &[&str] = &[
    "thrift",
    "exec",
    "jms",
    "spooldir",
    "seq",
    "netcatudp",
    "syslogtcp",
    "multiport_syslogtcp",
    "syslogudp",
    "http",
    "kafka",
];

/// Flume's channel types that spate does not implement yet.
pub const FLUME_ONLY_CHANNELS: &[&str] = &["jdbc", "kafka", "spillablememory"];

/// Flume's sink types that spate does not implement yet.
pub const FLUME_ONLY_SINKS: &[&str] = &[
    "thrift",
    "hdfs",
    "file_roll",
    "irc",
    "hbase",
    "hbase2",
    "asynchbase",
    "elasticsearch",
    "morphline_solr",
    "hive",
    "http",
    "kafka",
];

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::component::{Acknowledges, Channel, Component, ParseContext, Setting};
    use crate::config::Props;

    /// A memory channel that says it delivers its events itself.
    #[derive(Debug, PartialEq)]
    struct SelfDelivering(channel::memory::MemoryChannelConfig);

    pub(super) fn self_delivering(
        p: &mut Props<'_>,
        ctx: &ParseContext<'_>,
    ) -> Option<Arc<dyn ChannelSpec>> {
        let memory = channel::memory::parse(p, ctx)?;
        let memory = memory.get::<channel::memory::MemoryChannelConfig>()?;
        Some(Arc::new(SelfDelivering(memory.clone())))
    }

    impl Component for SelfDelivering {
        fn type_name(&self) -> &'static str {
            "test_self_delivering"
        }

        fn describe(&self) -> Vec<Setting> {
            self.0.describe()
        }
    }

    impl ChannelSpec for SelfDelivering {
        fn transaction_capacity(&self) -> usize {
            self.0.transaction_capacity
        }

        fn capacity(&self) -> usize {
            self.0.capacity
        }

        fn acknowledges(&self) -> Acknowledges {
            Acknowledges::AtDurablePut
        }

        fn delivers_itself(&self) -> bool {
            true
        }

        fn build(
            &self,
            ctx: crate::component::ChannelContext<'_>,
        ) -> Result<Arc<dyn Channel>, crate::component::StartError> {
            self.0.build(ctx)
        }
    }

    /// Every spelling of every kind, lowercased, with the Flume-only names.
    fn spellings<T: ?Sized>(types: &[Type<T>], flume_only: &[&str]) -> Vec<String> {
        types
            .iter()
            .flat_map(|t| std::iter::once(t.name).chain(t.aliases.iter().copied()))
            .chain(flume_only.iter().copied())
            .map(str::to_ascii_lowercase)
            .collect()
    }

    #[test]
    fn each_name_means_one_type() {
        for names in [
            spellings(SOURCES, FLUME_ONLY_SOURCES),
            spellings(CHANNELS, FLUME_ONLY_CHANNELS),
            spellings(SINKS, FLUME_ONLY_SINKS),
            spellings(INTERCEPTORS, &[]),
        ] {
            let unique: std::collections::HashSet<&String> = names.iter().collect();
            assert_eq!(unique.len(), names.len(), "a name twice in {names:?}");
        }
    }
}
