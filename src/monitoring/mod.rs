//! Monitoring: the registry of every component's counters, which outlives configuration
//! reloads, and what reads it: Flume's JSON ([`flume_json`]), Prometheus text
//! ([`prometheus`]), `/health` and `/ready` ([`Health`]), served on a thread of their own
//! ([`server`]), and the periodic status line ([`status`]).
//!
//! Components own their counters (`Arc`s handed out here at start) and update them once per
//! batch with relaxed atomics; nothing on the data path locks or looks anything up. The
//! registry's lock is taken at (re)start and by readers (a scrape, the status line), to list
//! the components.

pub mod flume_json;
pub mod prometheus;
pub mod server;
pub mod stats;
pub mod status;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::component::{Channel, ChannelContext, ChannelSpec, StartError};
use crate::metrics::{
    mono_ms, now_ms, ChannelCounters, DeliveryState, FileFigure, FileFigures, SinkCounters,
    SourceCounters,
};
use crate::runtime::Backend;

/// Every component's counters, kept across configuration reloads: a component that a reload
/// keeps (same name, same type) keeps counting where it was; one the reload removes is gone
/// from the next scrape.
#[derive(Debug)]
pub struct Metrics {
    agent: String,
    started: Instant,
    /// Whether sources publish the files they read (someone reads the lag).
    files_wanted: AtomicBool,
    state: Mutex<State>,
}

/// The components of the running configuration, and the agent's own figures.
#[derive(Debug, Default)]
struct State {
    sources: Vec<SourceEntry>,
    channels: Vec<ChannelEntry>,
    sinks: Vec<SinkEntry>,
    /// Sink groups (Flume's sink processors): their delivery state stands for their sinks'.
    groups: Vec<SinkEntry>,
    /// When the running components stopped (ms since the epoch); `None` while they run.
    stopped_ms: Option<u64>,
    /// Whether components were installed at least once and run now.
    running: bool,
    reloads: u64,
    last_reload: Option<ReloadOutcome>,
}

/// A component's counters, under its name and type.
#[derive(Debug)]
struct Entry<C> {
    name: String,
    type_name: &'static str,
    /// When the counters were created (ms since the epoch): Flume's `StartTime`.
    start_ms: u64,
    counters: Arc<C>,
}

#[derive(Debug)]
struct SourceEntry {
    /// Its first shard's counters, under its name and type.
    entry: Entry<SourceCounters>,
    /// Every shard's, the first included.
    shards: Vec<Arc<SourceCounters>>,
    files: Arc<FileFigures>,
}

#[derive(Debug)]
struct ChannelEntry {
    entry: Entry<ChannelCounters>,
    channel: Arc<dyn Channel>,
    capacity: usize,
}

#[derive(Debug)]
struct SinkEntry {
    entry: Entry<SinkCounters>,
    state: Arc<DeliveryState>,
}

/// How the last configuration reload went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// The new configuration runs.
    Applied,
    /// The new configuration was invalid or could not start; the previous one runs.
    Rejected,
}

impl Metrics {
    /// An empty registry for agent `agent` (the `-n` name).
    pub fn new(agent: impl Into<String>) -> Arc<Metrics> {
        mono_ms(Instant::now()); // sets the origin of sinks' delivery times
        Arc::new(Metrics {
            agent: agent.into(),
            started: Instant::now(),
            files_wanted: AtomicBool::new(false),
            state: Mutex::new(State::default()),
        })
    }

    /// Asks the sources started from now on to publish the files they read (each file's
    /// lag), which costs a look at every file about once a second.
    pub fn want_files(&self) {
        self.files_wanted.store(true, Ordering::Relaxed);
    }

    /// The agent's name.
    pub fn agent(&self) -> &str {
        &self.agent
    }

    /// How long the process has run.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A reader that panicked left nothing half-written: every update is one assignment.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Begins registering the components of a configuration being started; they replace the
    /// current ones at [`Registration::install`].
    pub fn register(self: &Arc<Self>) -> Registration {
        Registration {
            metrics: self.clone(),
            next: State::default(),
        }
    }

    /// The running components stopped (their `StopTime`).
    pub fn stopped(&self) {
        let mut state = self.lock();
        state.stopped_ms = Some(now_ms());
        state.running = false;
    }

    /// Records a reload attempt's outcome.
    pub fn reloaded(&self, outcome: ReloadOutcome) {
        let mut state = self.lock();
        state.reloads += 1;
        state.last_reload = Some(outcome);
    }

    /// A copy of every figure, read now.
    pub fn snapshot(&self) -> Snapshot {
        let state = self.lock();
        let stop_ms = state.stopped_ms.unwrap_or(0);
        let sink = |s: &SinkEntry| SinkSnapshot {
            name: s.entry.name.clone(),
            type_name: s.entry.type_name,
            start_ms: s.entry.start_ms,
            counters: s.entry.counters.snapshot(),
            open_connections: s
                .entry
                .counters
                .connection_created
                .get()
                .saturating_sub(s.entry.counters.connection_closed.get()),
            delivering_since_ms: s.state.delivering_since_ms.get(),
            consecutive_failures: s.state.consecutive_failures.get(),
            latency: s.state.latency.read(),
        };
        Snapshot {
            agent: self.agent.clone(),
            uptime: self.uptime(),
            mono_ms: mono_ms(Instant::now()),
            running: state.running,
            stop_ms,
            reloads: state.reloads,
            last_reload: state.last_reload,
            sources: state
                .sources
                .iter()
                .map(|s| SourceSnapshot {
                    name: s.entry.name.clone(),
                    type_name: s.entry.type_name,
                    start_ms: s.entry.start_ms,
                    counters: SourceCounters::sum(&s.shards),
                    files: s.files.all(),
                })
                .collect(),
            channels: state
                .channels
                .iter()
                .map(|c| ChannelSnapshot {
                    name: c.entry.name.clone(),
                    type_name: c.entry.type_name,
                    start_ms: c.entry.start_ms,
                    size: c.channel.size() as u64,
                    capacity: c.capacity as u64,
                    counters: c.entry.counters.snapshot(),
                })
                .collect(),
            sinks: state.sinks.iter().map(sink).collect(),
            groups: state.groups.iter().map(sink).collect(),
        }
    }
}

/// The components of a configuration being started.
#[derive(Debug)]
pub struct Registration {
    metrics: Arc<Metrics>,
    next: State,
}

/// The counters of `name` among `old` if its type is `type_name`, else new ones.
fn kept<C: Default>(old: &[&Entry<C>], name: &str, type_name: &'static str) -> Entry<C> {
    match old
        .iter()
        .find(|e| e.name == name && e.type_name == type_name)
    {
        Some(e) => Entry {
            name: name.to_string(),
            type_name,
            start_ms: e.start_ms,
            counters: e.counters.clone(),
        },
        None => Entry {
            name: name.to_string(),
            type_name,
            start_ms: now_ms(),
            counters: Arc::default(),
        },
    }
}

impl Registration {
    /// The counters of source `name`, one set per shard (`shards`, at least one), and where
    /// it publishes the files it reads. A kept source keeps its counts whatever its number of
    /// shards: those of shards it no longer has are added to its first.
    pub fn source(
        &mut self,
        name: &str,
        type_name: &'static str,
        shards: usize,
    ) -> (Vec<Arc<SourceCounters>>, Arc<FileFigures>) {
        let state = self.metrics.lock();
        let old = state
            .sources
            .iter()
            .find(|s| s.entry.name == name && s.entry.type_name == type_name);
        let entry = kept(
            &old.iter().map(|s| &s.entry).collect::<Vec<_>>(),
            name,
            type_name,
        );
        let mut counters = vec![entry.counters.clone()];
        let old_shards = old.map_or(&[][..], |s| &s.shards[..]);
        for i in 1..shards.max(1) {
            counters.push(old_shards.get(i).cloned().unwrap_or_default());
        }
        for gone in old_shards.iter().skip(counters.len()) {
            counters[0].absorb(gone);
        }
        drop(state);
        let files = Arc::new(FileFigures::new(
            self.metrics.files_wanted.load(Ordering::Relaxed),
        ));
        self.next.sources.push(SourceEntry {
            entry,
            shards: counters.clone(),
            files: files.clone(),
        });
        (counters, files)
    }

    /// Builds channel `name` of `spec` on `backend`, counting into its kept counters.
    pub fn channel(
        &mut self,
        name: &str,
        spec: &dyn ChannelSpec,
        backend: Backend,
    ) -> Result<Arc<dyn Channel>, StartError> {
        let state = self.metrics.lock();
        let old: Vec<_> = state.channels.iter().map(|c| &c.entry).collect();
        let entry = kept(&old, name, spec.type_name());
        drop(state);
        let channel = spec.build(ChannelContext {
            name,
            counters: entry.counters.clone(),
            backend,
        })?;
        self.next.channels.push(ChannelEntry {
            entry,
            channel: channel.clone(),
            capacity: spec.capacity(),
        });
        Ok(channel)
    }

    /// The counters and delivery state of sink `name`.
    pub fn sink(
        &mut self,
        name: &str,
        type_name: &'static str,
    ) -> (Arc<SinkCounters>, Arc<DeliveryState>) {
        let entry = self.sink_entry(name, type_name, false);
        let out = (entry.entry.counters.clone(), entry.state.clone());
        self.next.sinks.push(entry);
        out
    }

    /// The counters and delivery state of sink group `name` (of processor `type_name`).
    pub fn group(
        &mut self,
        name: &str,
        type_name: &'static str,
    ) -> (Arc<SinkCounters>, Arc<DeliveryState>) {
        let entry = self.sink_entry(name, type_name, true);
        let out = (entry.entry.counters.clone(), entry.state.clone());
        self.next.groups.push(entry);
        out
    }

    fn sink_entry(&self, name: &str, type_name: &'static str, group: bool) -> SinkEntry {
        let state = self.metrics.lock();
        let list = if group { &state.groups } else { &state.sinks };
        let old: Vec<_> = list.iter().map(|s| &s.entry).collect();
        let entry = kept(&old, name, type_name);
        drop(state);
        SinkEntry {
            entry,
            // A delivery in progress belonged to the stopped agent.
            state: Arc::default(),
        }
    }

    /// The registered components replace the running ones; those not registered again are
    /// forgotten.
    pub fn install(self) {
        let mut state = self.metrics.lock();
        let State {
            sources,
            channels,
            sinks,
            groups,
            ..
        } = self.next;
        state.sources = sources;
        state.channels = channels;
        state.sinks = sinks;
        state.groups = groups;
        state.stopped_ms = None;
        state.running = true;
    }
}

/// Every figure of the registry at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The agent's name.
    pub agent: String,
    /// How long the process has run.
    pub uptime: Duration,
    /// When the snapshot was taken, in [`crate::metrics::mono_ms`] (what sinks' delivery times
    /// are in).
    pub mono_ms: u64,
    /// Whether the components run (not stopped, or between a reload's stop and start).
    pub running: bool,
    /// When the components stopped, ms since the epoch; 0 while they run (Flume's `StopTime`).
    pub stop_ms: u64,
    /// Configuration reloads attempted.
    pub reloads: u64,
    /// How the last one went.
    pub last_reload: Option<ReloadOutcome>,
    /// Sources.
    pub sources: Vec<SourceSnapshot>,
    /// Channels.
    pub channels: Vec<ChannelSnapshot>,
    /// Sinks.
    pub sinks: Vec<SinkSnapshot>,
    /// Sink groups.
    pub groups: Vec<SinkSnapshot>,
}

/// A source's figures.
#[derive(Debug, Clone)]
pub struct SourceSnapshot {
    /// Its name.
    pub name: String,
    /// Its type, as the registry names it.
    pub type_name: &'static str,
    /// When its counters began, ms since the epoch.
    pub start_ms: u64,
    /// Its counters, under Flume's names.
    pub counters: Vec<(&'static str, u64)>,
    /// The files it reads, as last published (none unless asked for: [`Metrics::want_files`]).
    pub files: Vec<FileFigure>,
}

impl SourceSnapshot {
    /// Bytes of its files not yet delivered.
    pub fn lag(&self) -> u64 {
        self.files.iter().map(FileFigure::lag).sum()
    }
}

/// A channel's figures.
#[derive(Debug, Clone)]
pub struct ChannelSnapshot {
    /// Its name.
    pub name: String,
    /// Its type.
    pub type_name: &'static str,
    /// When its counters began, ms since the epoch.
    pub start_ms: u64,
    /// Events held.
    pub size: u64,
    /// Events it can hold.
    pub capacity: u64,
    /// Its counters, under Flume's names.
    pub counters: Vec<(&'static str, u64)>,
}

impl ChannelSnapshot {
    /// `size` as a percentage of `capacity`.
    pub fn fill_percentage(&self) -> f64 {
        if self.capacity == 0 {
            return 0.0;
        }
        self.size as f64 * 100.0 / self.capacity as f64
    }
}

/// A sink's (or a sink group's) figures.
#[derive(Debug, Clone)]
pub struct SinkSnapshot {
    /// Its name.
    pub name: String,
    /// Its type (a group's: its processor type).
    pub type_name: &'static str,
    /// When its counters began, ms since the epoch.
    pub start_ms: u64,
    /// Its counters, under Flume's names.
    pub counters: Vec<(&'static str, u64)>,
    /// Connections open now: created minus closed.
    pub open_connections: u64,
    /// When the take it delivers was taken, in [`crate::metrics::mono_ms`]; 0 when it has none.
    pub delivering_since_ms: u64,
    /// Failed attempts at that take.
    pub consecutive_failures: u64,
    /// Its events' delivery latency: events per bucket of
    /// [`crate::metrics::LATENCY_BOUNDS`] (then above them), and the sum in seconds.
    pub latency: (Vec<u64>, f64),
}

/// Looks a counter up by its Flume name in a snapshot's list.
pub fn counter(counters: &[(&'static str, u64)], name: &str) -> u64 {
    counters
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(0, |(_, v)| *v)
}

/// What `/health` and `/ready` answer.
#[derive(Debug, Clone, Copy)]
pub struct Health {
    /// How long a sink may hold a take undelivered before the agent is unhealthy.
    pub sink_timeout: Duration,
}

/// A sink that has held a take longer than the health timeout.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Stuck {
    /// The sink or sink group.
    pub sink: String,
    /// For how long, in milliseconds.
    pub delivering_for_ms: u64,
    /// Failed attempts at it so far.
    pub consecutive_failures: u64,
}

impl Health {
    /// The sinks (and groups) that have held a take longer than the timeout: none means
    /// healthy. A sink with nothing to deliver is healthy, however long it has been idle.
    pub fn stuck(&self, snapshot: &Snapshot) -> Vec<Stuck> {
        snapshot
            .sinks
            .iter()
            .chain(&snapshot.groups)
            .filter_map(|s| {
                let since = s.delivering_since_ms;
                let age = snapshot.mono_ms.saturating_sub(since);
                (since != 0 && Duration::from_millis(age) > self.sink_timeout).then(|| Stuck {
                    sink: s.name.clone(),
                    delivering_for_ms: age,
                    consecutive_failures: s.consecutive_failures,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::memory::MemoryChannelConfig;

    fn memory() -> MemoryChannelConfig {
        MemoryChannelConfig {
            capacity: 10,
            transaction_capacity: 10,
            keep_alive: Duration::from_secs(3),
            byte_capacity: 1 << 20,
            byte_capacity_buffer_percentage: 20,
        }
    }

    #[test]
    fn counters_of_kept_components_survive_a_reload_and_removed_ones_go() {
        let metrics = Metrics::new("a1");
        let mut r = metrics.register();
        let (r1, _) = r.source("r1", "TAILDIR", 2);
        let (r2, _) = r.source("r2", "TAILDIR", 1);
        let c1 = r.channel("c1", &memory(), Backend::Epoll).unwrap();
        let (k1, _) = r.sink("k1", "tcp");
        r.install();
        r1[0].event_received.add(5);
        r1[1].event_received.add(4);
        r2[0].event_received.add(7);
        c1.counters().put_success.add(3);
        k1.event_drain_success.add(2);
        metrics.stopped();
        assert!(!metrics.snapshot().running);

        // The reload keeps r1, c1 and k1, drops r2, and changes k1's type.
        let mut r = metrics.register();
        let (again, _) = r.source("r1", "TAILDIR", 1);
        let c1 = r.channel("c1", &memory(), Backend::Epoll).unwrap();
        let (k1, _) = r.sink("k1", "null");
        r.install();
        metrics.reloaded(ReloadOutcome::Applied);
        again[0].event_received.add(1);
        let snap = metrics.snapshot();
        assert!(snap.running);
        assert_eq!(snap.stop_ms, 0);
        assert_eq!(snap.sources.len(), 1);
        // r1 runs on one shard now: the second's counts moved to the first.
        assert_eq!(counter(&snap.sources[0].counters, "EventReceivedCount"), 10);
        assert_eq!(
            counter(&snap.channels[0].counters, "EventPutSuccessCount"),
            3
        );
        assert_eq!(c1.counters().put_success.get(), 3);
        assert_eq!(
            k1.event_drain_success.get(),
            0,
            "a sink of another type starts afresh"
        );
        assert_eq!(
            (snap.reloads, snap.last_reload),
            (1, Some(ReloadOutcome::Applied))
        );
    }

    #[test]
    fn a_sink_is_stuck_only_with_a_take_older_than_the_timeout() {
        let metrics = Metrics::new("a1");
        let mut r = metrics.register();
        let (_, k1) = r.sink("k1", "tcp");
        let (_, k2) = r.sink("k2", "tcp");
        r.install();
        let health = Health {
            sink_timeout: Duration::from_millis(200),
        };
        assert!(
            health.stuck(&metrics.snapshot()).is_empty(),
            "idle is healthy"
        );
        k2.taken(Instant::now());
        k2.consecutive_failures.set(4);
        std::thread::sleep(Duration::from_millis(300));
        k1.taken(Instant::now());
        let stuck = health.stuck(&metrics.snapshot());
        assert_eq!(stuck.len(), 1, "k1's take is fresh: {stuck:?}");
        assert_eq!(
            (stuck[0].sink.as_str(), stuck[0].consecutive_failures),
            ("k2", 4)
        );
        assert!(stuck[0].delivering_for_ms >= 300);
        k2.done();
        assert!(health.stuck(&metrics.snapshot()).is_empty());
    }
}
