//! The component model: what the agent needs to know of each component type, and nothing more.
//!
//! A component type is one module holding its configuration struct (keys, defaults, parsing
//! with the shared error reporting, `spate check`'s description) beside its runtime code, plus
//! one line in [`crate::registry`] naming it as Flume does. The configuration implements the
//! trait of its kind:
//!
//! * [`SourceSpec`]: how many events it puts per transaction, on how many workers it runs, and
//!   how it starts (every check that can fail at start is made before any worker runs);
//! * [`ChannelSpec`]: its capacities, and the [`Channel`] it builds;
//! * [`SinkSpec`]: its batch size, and the [`Sink`] it builds on its worker;
//! * [`InterceptorSpec`]: the [`Interceptor`] it builds, which changes or drops the events of a
//!   batch between a source and its channels.
//!
//! The data path stays statically typed where it is hot: a source's read loop, a channel's
//! queue and a sink's delivery are plain code; the agent reaches them through these traits once
//! per batch (a channel put or take, a sink delivery), never per event.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::config::Props;
use crate::event::Batch;
use crate::lifecycle::Lifecycle;
use crate::metrics::{ChannelCounters, FileFigures, SinkCounters, SourceCounters};
use crate::runtime::{Backend, TaskFactory};
use crate::source::Output;

/// A future a sink returns through a trait object: awaited on the worker that asked for it.
pub type LocalFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// Equality across trait objects: two configurations are equal when they are of one type and
/// equal as such. Implemented for every `PartialEq` type.
pub trait DynEq {
    /// Whether `other` is a `Self` equal to `self`.
    fn dyn_eq(&self, other: &dyn Any) -> bool;
}

impl<T: PartialEq + Any> DynEq for T {
    fn dyn_eq(&self, other: &dyn Any) -> bool {
        other.downcast_ref::<T>() == Some(self)
    }
}

/// What every configured component is, whatever its kind.
pub trait Component: Any + DynEq + fmt::Debug + Send + Sync {
    /// The type's name, as the registry lists it first (`TAILDIR`, `memory`, `tcp`).
    fn type_name(&self) -> &'static str;

    /// Whether the type is spate's own, not Flume's (said by `spate check`).
    fn spate_extension(&self) -> bool {
        false
    }

    /// Every effective setting, defaults included, in the order `spate check` shows them.
    fn describe(&self) -> Vec<Setting>;
}

/// One effective setting of a component, for `spate check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The property (`batchSize`, `filegroups.f1`).
    pub key: String,
    /// Its effective value.
    pub value: String,
    /// A note, shown after `#`; empty for none.
    pub note: &'static str,
}

impl Setting {
    /// `key = value`.
    pub fn new(key: impl Into<String>, value: impl ToString) -> Self {
        Setting {
            key: key.into(),
            value: value.to_string(),
            note: "",
        }
    }

    /// `key = value` in milliseconds.
    pub fn millis(key: impl Into<String>, value: Duration) -> Self {
        Setting::new(key, value.as_millis())
    }

    /// Adds a note.
    pub fn note(mut self, note: &'static str) -> Self {
        self.note = note;
        self
    }

    /// Marks the key as a spate extension (Flume has no such key).
    pub fn extension(self) -> Self {
        self.note("spate extension")
    }
}

/// What a component type's parser gets beside its properties.
#[derive(Debug, Clone, Copy, Default)]
pub struct ParseContext<'a> {
    /// The directory relative paths are resolved against; `None` requires absolute paths, as
    /// Flume does (only spate's built-in pipeline has relative ones).
    pub base: Option<&'a Path>,
}

/// A type's parser: reads its keys from `Props` (reporting every problem there, unknown keys
/// included) and returns its configuration when it is valid.
pub type Parse<T> = fn(&mut Props<'_>, &ParseContext<'_>) -> Option<Arc<T>>;

// ---------------------------------------------------------------------------------------------
// Sources

/// A configured source type.
pub trait SourceSpec: Component {
    /// The most events the source puts in one channel transaction, checked against the
    /// channels' `transactionCapacity`.
    fn batch_size(&self) -> usize;

    /// The properties the batch size may have been read from (the first one set is named in
    /// errors).
    fn batch_keys(&self) -> &'static [&'static str] {
        &["batchSize"]
    }

    /// On how many of `workers` workers the source runs (one task each).
    fn shards(&self, workers: usize) -> usize {
        let _ = workers;
        1
    }

    /// Files or other resources only one component of an agent may use, each with the
    /// property that names it: two components naming one are a configuration error.
    fn exclusive(&self) -> Vec<(&'static str, PathBuf)> {
        Vec::new()
    }

    /// Sets the source up before any worker starts, and returns its tasks: one per shard,
    /// in shard order. What can fail at start (a locked position file, a bad pattern) fails
    /// here.
    fn start(&self, ctx: SourceContext<'_>) -> Result<Started, StartError>;
}

/// What the agent gives a source at start.
#[derive(Debug)]
pub struct SourceContext<'a> {
    /// The source's name.
    pub name: &'a str,
    /// The channels it writes to.
    pub output: Output,
    /// Its counters, one set per shard (`shards` of them): each task counts into its own, and
    /// readers sum them, so that shards on different workers share no cache line.
    pub counters: Vec<Arc<SourceCounters>>,
    /// Where it publishes the files it reads, if it reads files (monitoring's lag).
    pub files: Arc<FileFigures>,
    /// Its number of tasks ([`SourceSpec::shards`] of the agent's workers).
    pub shards: usize,
    /// The I/O backend of every worker.
    pub backend: Backend,
    /// The agent's lifecycle, for each task's [`crate::lifecycle::Control`].
    pub lifecycle: &'a Lifecycle,
}

/// A started source: its tasks, and what must finish after its workers end.
pub struct Started {
    /// One task per shard.
    pub tasks: Vec<TaskFactory>,
    /// Run once the workers have ended (a position file's last write, which the lock is held
    /// for until then).
    pub finish: Option<Box<dyn Finish>>,
}

impl fmt::Debug for Started {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Started")
            .field("tasks", &self.tasks.len())
            .field("finish", &self.finish.is_some())
            .finish()
    }
}

/// Work left when the workers have ended.
pub trait Finish: Send + fmt::Debug {
    /// Completes it; an error says what the next start will do differently (it is logged, and
    /// the agent's exit status says the stop was not clean).
    fn finish(self: Box<Self>) -> Result<(), Box<dyn std::error::Error + Send + Sync>>;
}

/// A component could not start.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartError(pub Box<dyn std::error::Error + Send + Sync>);

impl StartError {
    /// Wraps `error`.
    pub fn new(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        StartError(Box::new(error))
    }
}

// ---------------------------------------------------------------------------------------------
// Channels

/// A configured channel type.
pub trait ChannelSpec: Component {
    /// The most events one put or take transaction may carry (`transactionCapacity`).
    fn transaction_capacity(&self) -> usize;

    /// The most events it holds.
    fn capacity(&self) -> usize;

    /// When a source's batch put into the channel counts as acknowledged, which is what the
    /// source's position follows.
    fn acknowledges(&self) -> Acknowledges;

    /// Whether the channel delivers its events itself, so that it needs no sink (Flume's Kafka
    /// channel, written to by a source and read by Kafka consumers).
    fn delivers_itself(&self) -> bool {
        false
    }

    /// Builds the channel (what can fail at start, such as a durable channel's directories,
    /// fails here, before any worker runs).
    fn build(&self, ctx: ChannelContext<'_>) -> Result<Arc<dyn Channel>, StartError>;
}

/// What the agent gives a channel at start.
#[derive(Debug)]
pub struct ChannelContext<'a> {
    /// The channel's name.
    pub name: &'a str,
    /// Its counters.
    pub counters: Arc<ChannelCounters>,
    /// The agent's I/O backend (for a channel's own I/O thread).
    pub backend: Backend,
}

/// When a channel acknowledges a source's batch: the moment after which the source may forget
/// it (record a position past it) because a crash can no longer lose it.
///
/// The channel fires the acknowledgement itself: the batch carries it ([`Batch::take_ack`]),
/// and dropping it undelivered means "not delivered".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acknowledges {
    /// When a sink commits the batch (the memory channel: nothing survives a crash before).
    AtSinkCommit,
    /// When the put is durable (a file channel, once on disk; a Kafka channel, once the
    /// brokers have it), before any sink takes it.
    AtDurablePut,
}

impl fmt::Display for Acknowledges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Acknowledges::AtSinkCommit => "when a sink commits them",
            Acknowledges::AtDurablePut => "once they are stored durably",
        })
    }
}

/// A channel: sources put batches, sinks take them in transactions.
///
/// A batch is put whole or not at all. A take moves batches out in order (up to a number of
/// events); the taker then commits them (they are gone, and their sources' acks fire as the
/// batches drop) or rolls them back (they are taken again first, in the same order).
///
/// Every method returns at once; waiting for room or for events is done by
/// [`crate::channel::put`] and [`crate::channel::wait_for_events`] on the channel's two
/// signals, so that neither a put nor a take costs an allocation through the trait object.
pub trait Channel: fmt::Debug + Send + Sync {
    /// The channel's name.
    fn name(&self) -> &str;

    /// Puts `batch` if there is room now; gives it back otherwise. Counts nothing: the put
    /// attempt is counted once by [`crate::channel::put`], however often it tries.
    fn try_put(&self, batch: Batch) -> Result<(), Batch>;

    /// Moves whole batches of up to `max_events` events (at least one batch if any is there)
    /// into `into`; returns the number of events taken.
    fn take(&self, max_events: usize, into: &mut Vec<Batch>) -> usize;

    /// Ends a take: the batches in `taken` are delivered and dropped.
    fn commit(&self, taken: &mut Vec<Batch>);

    /// Ends a take without delivery: the batches in `taken` go back to the front, in order.
    fn rollback(&self, taken: &mut Vec<Batch>);

    /// Whether no batch waits to be taken (taken and uncommitted ones do not count).
    fn is_drained(&self) -> bool;

    /// Events held (taken and not committed included).
    fn size(&self) -> usize;

    /// How long a put waits for room before its batch is handed back (Flume's `keep-alive`).
    fn keep_alive(&self) -> Duration;

    /// Notified (one waiter) when a commit frees room.
    fn room(&self) -> &Notify;

    /// Notified (one waiter) when a batch arrives: a put, or a rollback.
    fn arrivals(&self) -> &Notify;

    /// Its counters.
    fn counters(&self) -> &ChannelCounters;
}

// ---------------------------------------------------------------------------------------------
// Sinks

/// A configured sink type.
pub trait SinkSpec: Component {
    /// The most events the sink takes in one channel transaction.
    fn batch_size(&self) -> usize;

    /// The properties the batch size may have been read from (the first one set is named in
    /// errors); none when the batch size is not configurable.
    fn batch_keys(&self) -> &'static [&'static str] {
        &["batchSize"]
    }

    /// Builds the sink on its worker.
    fn build(&self, ctx: &SinkContext) -> Box<dyn Sink>;
}

/// What the agent gives a sink when it builds it.
#[derive(Debug, Clone)]
pub struct SinkContext {
    /// The I/O backend of the sink's worker.
    pub backend: Backend,
    /// The sink's counters.
    pub counters: Arc<SinkCounters>,
    /// Whether every source feeding its channel runs on the sink's worker: a batch a source
    /// announces ([`Batch::more_ready`]) is then put within one turn of that worker, and the
    /// sink may hold a write back for it.
    pub sources_on_this_worker: bool,
}

/// How a sink delivers what it took: the part that differs between sink types (the
/// transaction loop around it is [`crate::sink::run`]). Object-safe, so that a sink group can
/// hold sinks of different types; one delivery is one call, whatever the number of events.
pub trait Sink {
    /// Delivers `batches` in order. On error nothing is committed and the same batches are
    /// offered again after [`Sink::retry_delay`].
    fn deliver<'a>(&'a mut self, batches: &'a [Batch]) -> LocalFuture<'a, std::io::Result<()>>;

    /// The last delivery held data back in the expectation of the next batch (see
    /// [`Batch::more_ready`]); [`Sink::idle`] must then send it.
    fn holding_back(&self) -> bool {
        false
    }

    /// The channel is empty and the sink is about to wait: send anything held back, and a
    /// chance to check a connection before the next delivery.
    fn idle(&mut self) {}

    /// How long to wait before retrying after a failed delivery (growing with each failure).
    fn retry_delay(&mut self) -> Duration {
        Duration::from_millis(100)
    }

    /// Called after a successful delivery.
    fn succeeded(&mut self) {}
}

// ---------------------------------------------------------------------------------------------
// Interceptors

/// A configured interceptor type.
pub trait InterceptorSpec: Component {
    /// Builds the interceptor, once per source (its shards share it).
    fn build(&self) -> Result<Arc<dyn Interceptor>, StartError>;
}

/// Changes or drops the events of a batch between a source and its channels, as Flume's
/// interceptors do event by event. It works on the whole batch: a header every event gets the
/// same value of is set once, as a shared header; bodies are copied only by an interceptor that
/// changes them or drops some of them.
pub trait Interceptor: fmt::Debug + Send + Sync {
    /// The batch, changed; `None` when no event is left. The batch's acknowledgement stays with
    /// it (a dropped batch's is not delivered: its source is told it went into no channel).
    fn intercept(&self, batch: Batch) -> Option<Batch>;
}

// ---------------------------------------------------------------------------------------------
// Registry entries

/// One component type in [`crate::registry`]: its names and its parser.
#[derive(Debug)]
pub struct Type<T: ?Sized + 'static> {
    /// The name `spate check` shows, and the first accepted spelling.
    pub name: &'static str,
    /// Other accepted spellings, such as Flume's class name. Matched without regard to case.
    pub aliases: &'static [&'static str],
    /// Reads a configuration of this type.
    pub parse: Parse<T>,
}

impl<T: ?Sized> Type<T> {
    /// Whether `value` (a `type` property) names this type.
    pub fn is(&self, value: &str) -> bool {
        self.name.eq_ignore_ascii_case(value)
            || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(value))
    }
}

/// Downcasting, for tests and callers that know the type.
impl dyn SourceSpec {
    /// The configuration as a `T`, if it is one.
    pub fn get<T: Any>(&self) -> Option<&T> {
        (self as &dyn Any).downcast_ref()
    }
}

impl dyn ChannelSpec {
    /// The configuration as a `T`, if it is one.
    pub fn get<T: Any>(&self) -> Option<&T> {
        (self as &dyn Any).downcast_ref()
    }
}

impl dyn SinkSpec {
    /// The configuration as a `T`, if it is one.
    pub fn get<T: Any>(&self) -> Option<&T> {
        (self as &dyn Any).downcast_ref()
    }
}

impl dyn InterceptorSpec {
    /// The configuration as a `T`, if it is one.
    pub fn get<T: Any>(&self) -> Option<&T> {
        (self as &dyn Any).downcast_ref()
    }
}

macro_rules! dyn_partial_eq {
    ($($t:ident),*) => {$(
        impl PartialEq for dyn $t {
            fn eq(&self, other: &Self) -> bool {
                self.dyn_eq(other as &dyn Any)
            }
        }
    )*};
}
dyn_partial_eq!(SourceSpec, ChannelSpec, SinkSpec, InterceptorSpec);
