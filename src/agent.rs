//! The agent: builds the pipeline a configuration describes, places its components on the
//! workers, and stops it in the order that loses nothing.
//!
//! Placement: components are dealt round-robin over the workers, sources first, then sinks, so
//! with two workers a source and its sink run on different cores and meet only in the channel.
//! Everything that can fail at start (position files, patterns, addresses) is checked before any
//! worker starts.

use std::collections::HashMap;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tracing::{error, info, warn};

use crate::component::{Channel, Finish, SinkContext, SourceContext, StartError};
use crate::config::AgentConfig;
use crate::interceptor::Chain;
use crate::lifecycle::{Lifecycle, Phase, Report};
use crate::metrics::{SinkCounters, SourceCounters};
use crate::monitoring::Metrics;
use crate::runtime::{self, Backend, TaskFactory};
use crate::selector::Selector;
use crate::sink;
use crate::sink::group::{Group, Member, SinkGroupConfig};
use crate::source::Output;

/// How the agent runs, beyond its configuration.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    /// I/O backend of every worker.
    pub backend: Backend,
    /// Number of workers (threads); at least 1.
    pub workers: usize,
    /// Pin worker `i` to core `i` (modulo the cores available).
    pub pin: bool,
    /// How long sinks may take to deliver what is left in the channels at stop.
    pub drain_timeout: Duration,
    /// Where components find their counters: the registry outlives the agent, so that a
    /// reload keeps counting.
    pub metrics: Arc<Metrics>,
}

/// The agent could not start.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// A source could not be set up.
    #[error("source `{name}`: {source}")]
    Source {
        /// The source.
        name: String,
        /// Why.
        source: StartError,
    },
    /// A channel could not be set up.
    #[error("channel `{name}`: {source}")]
    Channel {
        /// The channel.
        name: String,
        /// Why.
        source: StartError,
    },
    /// A worker thread could not start.
    #[error("cannot start worker thread: {0}")]
    Worker(std::io::Error),
}

/// Counters of every component, by name, for the stop summary and for monitoring.
#[derive(Debug, Default, Clone)]
pub struct Registry {
    /// Sources, with the counters of each of their shards.
    pub sources: Vec<(String, Vec<Arc<SourceCounters>>)>,
    /// Channels.
    pub channels: Vec<Arc<dyn Channel>>,
    /// Sinks.
    pub sinks: Vec<(String, Arc<SinkCounters>)>,
}

/// A running agent.
#[derive(Debug)]
pub struct Agent {
    lifecycle: Lifecycle,
    workers: Vec<JoinHandle<std::io::Result<()>>>,
    registry: Registry,
    /// Source tasks running: one per shard of each source.
    source_tasks: usize,
    /// Sink tasks running: one per sink outside groups, one per group.
    sink_tasks: usize,
    /// What the sources leave to finish once the workers end (position files' last writes,
    /// whose locks are held until then).
    finishing: Vec<Box<dyn Finish>>,
    drain_timeout: Duration,
    metrics: Arc<Metrics>,
}

/// How a stop went.
#[derive(Debug, Default)]
pub struct Stopped {
    /// Events left undelivered in the channels; the next start reads them again.
    pub undelivered: usize,
    /// Whether the drain was cut short by a second stop request.
    pub interrupted: bool,
    /// What could not be finished (a position file's final write): the next start resends
    /// what was delivered since the last record of it. Each error says so.
    pub finish_errors: Vec<Box<dyn std::error::Error + Send + Sync>>,
}

impl Stopped {
    /// Whether the stop lost track of nothing: every final position is on disk.
    pub fn is_clean(&self) -> bool {
        self.finish_errors.is_empty()
    }
}

impl Agent {
    /// Builds the pipeline of `config` and starts its workers.
    pub fn start(config: &AgentConfig, options: &AgentOptions) -> Result<Agent, AgentError> {
        let backend = options.backend;
        let lifecycle = Lifecycle::default();
        let mut registry = Registry::default();
        let worker_count = options.workers.max(1);
        // (worker, task): see `placement` for the rule.
        let mut tasks: Vec<(usize, TaskFactory)> = Vec::new();
        let place = Placement::new(config, worker_count);
        let mut metrics = options.metrics.register();

        let mut channels: HashMap<&str, Arc<dyn Channel>> = HashMap::new();
        for c in &config.channels {
            let channel = metrics
                .channel(&c.name, &*c.spec, backend)
                .map_err(|source| AgentError::Channel {
                    name: c.name.clone(),
                    source,
                })?;
            channels.insert(c.name.as_str(), channel);
        }
        registry.channels = config
            .channels
            .iter()
            .map(|c| channels[c.name.as_str()].clone())
            .collect();

        let mut finishing = Vec::new();
        let mut source_tasks = 0;
        for source in &config.sources {
            let workers = place.source(&source.name);
            let (counters, files) =
                metrics.source(&source.name, source.spec.type_name(), workers.len());
            let interceptors =
                Chain::build(&source.interceptors).map_err(|e| AgentError::Source {
                    name: source.name.clone(),
                    source: e,
                })?;
            let output = Output::new(
                source
                    .channels
                    .iter()
                    .map(|c| channels[c.as_str()].clone())
                    .collect(),
                interceptors,
                Selector::new(&source.selector, &source.channels),
                counters[0].clone(),
            );
            let ctx = SourceContext {
                name: &source.name,
                output,
                counters: counters.clone(),
                files,
                shards: workers.len(),
                backend,
                lifecycle: &lifecycle,
            };
            let started = source.spec.start(ctx).map_err(|e| AgentError::Source {
                name: source.name.clone(),
                source: e,
            })?;
            finishing.extend(started.finish);
            for (task, &worker) in started.tasks.into_iter().zip(workers) {
                tasks.push((worker, task));
                source_tasks += 1;
            }
            registry.sources.push((source.name.clone(), counters));
        }

        let grouped: HashMap<&str, &SinkGroupConfig> = config
            .sinkgroups
            .iter()
            .flat_map(|g| g.sinks.iter().map(move |s| (s.as_str(), g)))
            .collect();
        let mut sink_tasks = 0;
        for sink_cfg in &config.sinks {
            let (counters, state) = metrics.sink(&sink_cfg.name, sink_cfg.spec.type_name());
            registry
                .sinks
                .push((sink_cfg.name.clone(), counters.clone()));
            if grouped.contains_key(sink_cfg.name.as_str()) {
                continue; // run by its group, below
            }
            let channel = channels[sink_cfg.channel.as_str()].clone();
            let control = lifecycle.control();
            let name = sink_cfg.name.clone();
            let worker = place.sink(&sink_cfg.name);
            let ctx = SinkContext {
                backend,
                counters,
                sources_on_this_worker: place.fed_only_from(config, &sink_cfg.channel, worker),
            };
            let spec = sink_cfg.spec.clone();
            let task: TaskFactory = Box::new(move || {
                // Built on its worker: a sink's state (its connection) never moves.
                let sink = spec.build(&ctx);
                let batch_size = spec.batch_size();
                Box::pin(sink::run(
                    name,
                    channel,
                    batch_size,
                    sink,
                    ctx.counters,
                    state,
                    control,
                ))
            });
            tasks.push((worker, task));
            sink_tasks += 1;
        }
        for group in &config.sinkgroups {
            // On the worker of its first sink, reading the channel all its sinks read.
            let first = config
                .sinks
                .iter()
                .find(|s| s.name == group.sinks[0])
                .expect("a group names configured sinks");
            let worker = place.sink(&first.name);
            let channel = channels[first.channel.as_str()].clone();
            let on_worker = place.fed_only_from(config, &first.channel, worker);
            let members: Vec<(String, Arc<dyn crate::component::SinkSpec>, SinkContext)> = group
                .sinks
                .iter()
                .map(|name| {
                    let cfg = config
                        .sinks
                        .iter()
                        .find(|s| &s.name == name)
                        .expect("configured");
                    let counters = registry
                        .sinks
                        .iter()
                        .find(|(n, _)| n == name)
                        .map(|(_, c)| c.clone())
                        .expect("registered above");
                    let ctx = SinkContext {
                        backend,
                        counters,
                        sources_on_this_worker: on_worker,
                    };
                    (name.clone(), cfg.spec.clone(), ctx)
                })
                .collect();
            let batch_size = first.spec.batch_size();
            let (name, processor) = (group.name.clone(), group.processor.clone());
            let control = lifecycle.control();
            // Deliveries are counted on the sink that made them; these are the group's.
            let (counters, state) = metrics.group(&group.name, processor.type_name());
            let task: TaskFactory = Box::new(move || {
                let members = members
                    .into_iter()
                    .map(|(name, spec, ctx)| Member::new(name, spec.build(&ctx), ctx.counters))
                    .collect();
                let group = Group::new(name.clone(), members, processor);
                Box::pin(sink::run(
                    name,
                    channel,
                    batch_size,
                    Box::new(group),
                    counters,
                    state,
                    control,
                ))
            });
            tasks.push((worker, task));
            sink_tasks += 1;
        }

        let mut per_worker: Vec<Vec<TaskFactory>> = (0..worker_count).map(|_| Vec::new()).collect();
        for (worker, task) in tasks {
            per_worker[worker].push(task);
        }
        let cores = if options.pin {
            core_affinity::get_core_ids().unwrap_or_default()
        } else {
            Vec::new()
        };
        let idle = per_worker.iter().filter(|t| t.is_empty()).count();
        if idle > 0 {
            info!(
                asked = worker_count,
                running = worker_count - idle,
                "workers without anything to run are not started: there are fewer source shards \
                 and sinks than workers, or a channel holding fewer than {SMALL_CHANNEL_BATCHES} \
                 of its sources' batches keeps its sink on its source's worker (there a hand-off \
                 is a task switch, not a wake-up across cores); a larger channel capacity or \
                 `shards` uses more"
            );
        }
        let mut workers = Vec::with_capacity(worker_count);
        for (i, tasks) in per_worker.into_iter().enumerate() {
            if tasks.is_empty() {
                continue;
            }
            let core = (!cores.is_empty()).then(|| cores[i % cores.len()]);
            workers
                .push(runtime::spawn_worker(i, backend, core, tasks).map_err(AgentError::Worker)?);
        }
        info!(
            agent = %config.name,
            backend = %backend,
            workers = workers.len(),
            sources = config.sources.len(),
            channels = config.channels.len(),
            sinks = config.sinks.len(),
            "agent started"
        );
        metrics.install();
        Ok(Agent {
            lifecycle,
            workers,
            registry,
            source_tasks,
            sink_tasks,
            finishing,
            drain_timeout: options.drain_timeout,
            metrics: options.metrics.clone(),
        })
    }

    /// Logs the state of every component: the counters here, and each source its files, their
    /// positions and lag (on its own worker, soon after).
    pub fn log_status(&self) {
        self.lifecycle.request_status();
        log_counters(&self.registry, "status");
    }

    /// The components' counters.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Whether a worker has exited on its own (it should only exit when stopped).
    pub fn has_failed_worker(&self) -> bool {
        self.workers.iter().any(JoinHandle::is_finished)
    }

    /// Stops the agent: sources stop reading; sinks deliver what is in the channels, for at most
    /// the drain timeout; sources write their final positions; workers exit.
    pub fn stop(self) -> Stopped {
        self.stop_unless(&mut || false)
    }

    /// Stops the agent as [`Agent::stop`] does, but ends the waits for sources and sinks as soon
    /// as `interrupted` returns true (asked at least every 100 ms): what is undelivered then
    /// stays unacknowledged, and the final positions still record everything delivered.
    pub fn stop_unless(self, interrupted: &mut dyn FnMut() -> bool) -> Stopped {
        let sources = self.source_tasks;
        let sinks = self.sink_tasks;
        let mut cut = false;
        let mut interrupted = || {
            cut = cut || interrupted();
            cut
        };
        info!("stopping: sources stop reading");
        self.lifecycle.advance(Phase::StopReading);
        let deadline = Instant::now() + Duration::from_secs(10);
        self.lifecycle.wait_reports(
            sources,
            deadline,
            |r| matches!(r, Report::SourceStopped(_)),
            &mut interrupted,
        );

        let mut drained = 0;
        if !interrupted() {
            info!(timeout = ?self.drain_timeout, "stopping: sinks drain the channels");
            self.lifecycle.advance(Phase::Drain);
            drained = self.lifecycle.wait_reports(
                sinks,
                Instant::now() + self.drain_timeout,
                |r| matches!(r, Report::SinkDrained(_)),
                &mut interrupted,
            );
        }
        let interrupted = interrupted();
        let left: usize = self.registry.channels.iter().map(|c| c.size()).sum();
        if interrupted {
            warn!(
                events = left,
                "stop requested again: ending the drain now; undelivered events will be read \
                 again at the next start"
            );
        } else if drained < sinks {
            warn!(
                events = left,
                "drain timeout reached; undelivered events will be read again at the next start"
            );
        }
        self.lifecycle.advance(Phase::Finish);
        for worker in self.workers {
            match worker.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => warn!("worker failed: {e}"),
                Err(_) => warn!("worker panicked"),
            }
        }
        // Every source has handed over its final positions; wait for them to reach the disk,
        // which also releases the position files' locks for whoever starts next.
        let finish_errors: Vec<_> = self
            .finishing
            .into_iter()
            .filter_map(|f| f.finish().err())
            .collect();
        for e in &finish_errors {
            error!("{e}");
        }
        self.metrics.stopped();
        log_counters(&self.registry, "summary");
        Stopped {
            undelivered: left,
            interrupted,
            finish_errors,
        }
    }
}

/// Which worker runs which component.
///
/// Sources are dealt round-robin; a source with several shards (`shards`) takes that many
/// consecutive workers, one per shard. A sink normally goes to the next worker in turn, so that it
/// runs on another core than its source and the two work in parallel, meeting only in the
/// channel. But a channel that holds fewer than [`SMALL_CHANNEL_BATCHES`] of its sources' batches
/// cannot keep two cores busy: source and sink would take turns, paying two cross-core wake-ups
/// per batch (measured: 74 us per 100-event batch on the development VM, where a wake-up is an
/// inter-processor interrupt through the hypervisor). Such a sink runs on its source's worker,
/// where the hand-off is a task switch.
#[derive(Debug)]
struct Placement {
    /// The workers of each source's shards, in shard order.
    sources: HashMap<String, Vec<usize>>,
    sinks: HashMap<String, usize>,
}

/// A channel holding fewer source batches than this is "small"; see [`Placement`].
const SMALL_CHANNEL_BATCHES: usize = 4;

impl Placement {
    fn new(config: &AgentConfig, workers: usize) -> Self {
        let mut sources = HashMap::new();
        // For each channel: the worker of its first source and the largest batch put into it.
        let mut feeders: HashMap<&str, (usize, usize)> = HashMap::new();
        let mut next = 0;
        for source in &config.sources {
            let shards = source.spec.shards(workers).clamp(1, workers);
            let placed: Vec<usize> = (next..next + shards).map(|i| i % workers).collect();
            next += shards;
            let worker = placed[0];
            sources.insert(source.name.clone(), placed);
            for channel in &source.channels {
                let entry = feeders.entry(channel.as_str()).or_insert((worker, 0));
                entry.1 = entry.1.max(source.spec.batch_size());
            }
        }
        let capacity: HashMap<&str, usize> = config
            .channels
            .iter()
            .map(|c| (c.name.as_str(), c.spec.capacity()))
            .collect();
        let mut sinks = HashMap::new();
        for sink in &config.sinks {
            let small = feeders.get(sink.channel.as_str()).filter(|(_, batch)| {
                capacity[sink.channel.as_str()] < SMALL_CHANNEL_BATCHES * batch
            });
            let worker = match small {
                Some(&(worker, _)) if workers > 1 => worker,
                _ => {
                    next += 1;
                    (next - 1) % workers
                }
            };
            sinks.insert(sink.name.clone(), worker);
        }
        Placement { sources, sinks }
    }

    fn source(&self, name: &str) -> &[usize] {
        &self.sources[name]
    }

    fn sink(&self, name: &str) -> usize {
        self.sinks[name]
    }

    /// Whether every source shard that feeds `channel` runs on `worker`: a batch such a source
    /// announces (`Batch::more_ready`) is put within one turn of that worker's scheduler, so a
    /// sink there can hold its write back for it.
    fn fed_only_from(&self, config: &AgentConfig, channel: &str, worker: usize) -> bool {
        config
            .sources
            .iter()
            .filter(|s| s.channels.iter().any(|c| c == channel))
            .all(|s| self.sources[&s.name].iter().all(|&w| w == worker))
    }
}

/// Logs every component's counters: the summary at stop, or a status on request.
fn log_counters(registry: &Registry, what: &str) {
    for (name, c) in &registry.sources {
        info!(source = %name, counters = ?SourceCounters::sum(c), "source {what}");
    }
    for c in &registry.channels {
        info!(channel = c.name(), size = c.size(), counters = ?c.counters().snapshot(), "channel {what}");
    }
    for (name, c) in &registry.sinks {
        info!(sink = %name, counters = ?c.snapshot(), "sink {what}");
    }
}

#[cfg(test)]
mod tests {
    use spate_loadgen::sut::AgentProperties;

    use super::*;

    fn config(sources: &[(&str, &str)], capacity: usize) -> AgentConfig {
        let names: Vec<&str> = sources.iter().map(|(n, _)| *n).collect();
        let mut props = AgentProperties::new("a1")
            .set("sources", names.join(" "))
            .set("channels", "c1")
            .set("sinks", "k1")
            .set("channels.c1.type", "memory")
            .set("channels.c1.capacity", capacity)
            .set("channels.c1.transactionCapacity", 100)
            .set("sinks.k1.type", "null")
            .set("sinks.k1.channel", "c1");
        for (name, shards) in sources {
            let key = |k: &str| format!("sources.{name}.{k}");
            props = props
                .set(&key("type"), "TAILDIR")
                .set(&key("channels"), "c1")
                .set(&key("positionFile"), format!("/tmp/{name}.json"))
                .set(&key("filegroups"), "f1")
                .set(&key("filegroups.f1"), "/var/log/.*")
                .set(&key("shards"), shards);
        }
        crate::config::parse_str(&props.text(), None, "a1").expect("valid test config")
    }

    #[test]
    fn shards_take_consecutive_workers_and_sinks_follow() {
        let p = Placement::new(&config(&[("r1", "auto"), ("r2", "1")], 10_000), 4);
        assert_eq!(p.source("r1"), [0, 1, 2, 3]);
        assert_eq!(p.source("r2"), [0]);
        assert_eq!(p.sink("k1"), 1);
        // More shards than workers: one per worker.
        let p = Placement::new(&config(&[("r1", "3")], 10_000), 2);
        assert_eq!(p.source("r1"), [0, 1]);
        assert_eq!(p.sink("k1"), 0);
    }

    #[test]
    fn a_small_channel_keeps_its_sink_with_the_first_shard() {
        let p = Placement::new(&config(&[("r1", "1")], 100), 2);
        assert_eq!((p.source("r1"), p.sink("k1")), (&[0][..], 0));
        let p = Placement::new(&config(&[("r1", "1")], 10_000), 2);
        assert_eq!((p.source("r1"), p.sink("k1")), (&[0][..], 1));
        let p = Placement::new(&config(&[("r2", "1"), ("r1", "auto")], 100), 3);
        assert_eq!((p.source("r1"), p.sink("k1")), (&[1, 2, 0][..], 0));
    }

    #[test]
    fn a_sink_holds_writes_back_only_beside_all_its_sources() {
        let cfg = config(&[("r1", "1")], 100);
        let p = Placement::new(&cfg, 2);
        assert!(
            p.fed_only_from(&cfg, "c1", p.sink("k1")),
            "small channel: same worker"
        );
        let cfg = config(&[("r1", "1")], 10_000);
        let p = Placement::new(&cfg, 2);
        assert!(
            !p.fed_only_from(&cfg, "c1", p.sink("k1")),
            "large channel: other worker"
        );
        let p = Placement::new(&cfg, 1);
        assert!(p.fed_only_from(&cfg, "c1", p.sink("k1")), "one worker");
        // Shards on several workers: some batches come from elsewhere.
        let cfg = config(&[("r1", "auto")], 100);
        let p = Placement::new(&cfg, 2);
        assert!(!p.fed_only_from(&cfg, "c1", p.sink("k1")));
    }
}
