//! Sink groups (Flume's sink processors): several sinks that deliver one channel's events
//! together (`<agent>.sinkgroups = g1`, `<agent>.sinkgroups.g1.sinks = k1 k2`).
//!
//! * `failover`: the live sink of highest `processor.priority.<sink>` delivers; a sink that
//!   fails is set aside for a penalty that doubles from 1 s up to `processor.maxpenalty`
//!   (30000 ms), and the next one takes the same batches. Once its penalty is over, a sink of
//!   higher priority is tried first again.
//! * `load_balance`: the sinks take turns (`processor.selector = round_robin`, the default) or
//!   are picked at random (`random`); a failed delivery is tried on the next sink. With
//!   `processor.backoff = true` a sink that failed is left out for a time doubling from 1 s up
//!   to `processor.selector.maxTimeOut` (30000 ms).
//!
//! A group runs as one sink task: it takes from the channel its sinks read, hands the take to
//! one sink after another until one delivers it, and commits it once. Nothing is lost when a
//! sink fails, and each sink delivers its batches in channel order. spate requires the sinks of
//! a group to read the same channel (Flume lets each take from its own).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{info, warn};

use crate::component::{LocalFuture, Sink};
use crate::config::{shorten, suggest, ConfigError, Entry, Props, MAX_MILLIS};
use crate::event::Batch;
use crate::metrics::SinkCounters;

/// How a group picks its sinks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Processor {
    /// `processor.type = failover`.
    Failover {
        /// `processor.priority.<sink>` (default 0), for each sink of the group in order.
        priority: Vec<i64>,
        /// `processor.maxpenalty` (ms), default 30000.
        max_penalty: Duration,
    },
    /// `processor.type = load_balance`.
    LoadBalance {
        /// `processor.selector`: round robin (default) or random.
        random: bool,
        /// `processor.backoff`, default false.
        backoff: bool,
        /// `processor.selector.maxTimeOut` (ms), default 30000.
        max_timeout: Duration,
    },
}

impl Processor {
    /// Its `processor.type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Processor::Failover { .. } => "failover",
            Processor::LoadBalance { .. } => "load_balance",
        }
    }
}

/// One configured sink group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkGroupConfig {
    /// Its name in `<agent>.sinkgroups`.
    pub name: String,
    /// `sinkgroups.<g>.sinks`, in order.
    pub sinks: Vec<String>,
    /// `sinkgroups.<g>.processor.*`.
    pub processor: Processor,
}

impl SinkGroupConfig {
    /// `spate check`'s lines for it.
    pub fn describe(&self) -> Vec<(String, String)> {
        let mut v = vec![("sinks".to_string(), self.sinks.join(" "))];
        match &self.processor {
            Processor::Failover {
                priority,
                max_penalty,
            } => {
                v.push(("processor.type".into(), self.processor.type_name().into()));
                for (sink, p) in self.sinks.iter().zip(priority) {
                    v.push((format!("processor.priority.{sink}"), p.to_string()));
                }
                v.push((
                    "processor.maxpenalty".into(),
                    max_penalty.as_millis().to_string(),
                ));
            }
            Processor::LoadBalance {
                random,
                backoff,
                max_timeout,
            } => {
                v.push(("processor.type".into(), self.processor.type_name().into()));
                let selector = if *random { "random" } else { "round_robin" };
                v.push(("processor.selector".into(), selector.into()));
                v.push(("processor.backoff".into(), backoff.to_string()));
                v.push((
                    "processor.selector.maxTimeOut".into(),
                    max_timeout.as_millis().to_string(),
                ));
            }
        }
        v
    }
}

/// Reads the sink groups: `list` is `<agent>.sinkgroups`, `configured` each group's properties
/// (`sinks`, `processor.*`), `sinks` the agent's sinks with the channel each reads. Reports
/// into `errors`.
pub(crate) fn parse(
    prefix: &str,
    list: Option<&Entry>,
    configured: &[(String, Vec<(&str, &Entry)>)],
    sinks: &[(String, String)],
    errors: &mut Vec<ConfigError>,
) -> Vec<SinkGroupConfig> {
    let names: Vec<&str> = list.map_or(Vec::new(), |l| l.value.split_whitespace().collect());
    let mut groups = Vec::new();
    let mut member_of: HashMap<&str, &str> = HashMap::new();
    for (name, props) in configured {
        if !names.contains(&name.as_str()) {
            errors.push(
                ConfigError::at(
                    props[0].1,
                    format!(
                        "sink group `{}` is configured but not listed, ignored",
                        shorten(name)
                    ),
                )
                .hint(format!("add `{name}` to `{prefix}sinkgroups`"))
                .warning(),
            );
        }
    }
    for name in &names {
        let list = list.expect("names come from the list");
        let Some((_, props)) = configured.iter().find(|(n, _)| n == name) else {
            errors.push(
                ConfigError::at(
                    list,
                    format!(
                        "sink group `{}` is listed but not configured",
                        shorten(name)
                    ),
                )
                .hint(format!(
                    "add `{prefix}sinkgroups.{name}.sinks = k1 k2` and its processor"
                )),
            );
            continue;
        };
        let mut p = Props::new(format!("{prefix}sinkgroups.{name}."), props.clone());
        if let Some(group) = parse_group(&mut p, name, sinks, &mut member_of) {
            if !p.has_errors() {
                groups.push(group);
            }
        }
        errors.append(&mut p.errors);
    }
    groups
}

fn parse_group<'n>(
    p: &mut Props<'_>,
    name: &'n str,
    sinks: &'n [(String, String)],
    member_of: &mut HashMap<&'n str, &'n str>,
) -> Option<SinkGroupConfig> {
    let Some(entry) = p.get("sinks") else {
        let hint = format!("add `{} = k1 k2`", p.key("sinks"));
        let err = p.missing(
            "sinks",
            format!("sink group `{}` has no `sinks`", shorten(name)),
            hint,
        );
        p.push(err);
        return None;
    };
    let mut members: Vec<String> = Vec::new();
    let mut channel: Option<&str> = None;
    for sink in entry.value.split_whitespace() {
        let Some((sink, read)) = sinks.iter().find(|(s, _)| s == sink) else {
            let hint = match suggest(sink, sinks.iter().map(|(s, _)| s.as_str())) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "name sinks listed in the agent's `sinks`".into(),
            };
            p.push(
                ConfigError::at(
                    entry,
                    format!("sink `{}` is not a sink of the agent", shorten(sink)),
                )
                .hint(hint),
            );
            continue;
        };
        if members.contains(sink) {
            p.push(
                ConfigError::at(entry, format!("sink `{}` is named twice", shorten(sink)))
                    .hint("name each sink once"),
            );
            continue;
        }
        if let Some(other) = member_of.insert(sink.as_str(), name) {
            p.push(
                ConfigError::at(
                    entry,
                    format!(
                        "sink `{}` is in sink groups `{}` and `{}`",
                        shorten(sink),
                        shorten(other),
                        shorten(name)
                    ),
                )
                .hint("a sink belongs to one group at most"),
            );
            continue;
        }
        match channel {
            Some(c) if c != read => {
                p.push(
                    ConfigError::at(
                        entry,
                        format!(
                            "the sinks of group `{}` read different channels (`{c}` and `{}`)",
                            shorten(name),
                            shorten(read)
                        ),
                    )
                    .hint("spate runs a group on one channel: make its sinks read the same one"),
                );
            }
            _ => channel = Some(read),
        }
        members.push(sink.clone());
    }
    let kind_entry = p.get("processor.type");
    let kind = kind_entry.map(|e| e.value.to_ascii_lowercase());
    let processor = match kind.as_deref() {
        Some("failover" | "org.apache.flume.sink.failoversinkprocessor") => {
            let mut priority = vec![0; members.len()];
            for (rest, e) in p.take_prefixed("processor.priority.") {
                match members.iter().position(|m| m == rest) {
                    Some(i) => match e.value.trim().parse::<i64>() {
                        Ok(n) => priority[i] = n,
                        Err(_) => p.push(
                            ConfigError::at(
                                e,
                                format!("`{}` is not a whole number", shorten(&e.value)),
                            )
                            .hint("a priority is an integer; the highest is used first"),
                        ),
                    },
                    None => p.push(
                        ConfigError::at(
                            e,
                            format!(
                                "sink `{}` is not in group `{}`",
                                shorten(rest),
                                shorten(name)
                            ),
                        )
                        .hint(format!("the group's sinks: {}", members.join(" "))),
                    ),
                }
            }
            let max_penalty = p.millis("processor.maxpenalty", 30_000, 1, MAX_MILLIS);
            Processor::Failover {
                priority,
                max_penalty,
            }
        }
        Some("load_balance" | "org.apache.flume.sink.loadbalancingsinkprocessor") => {
            let random = p.choice(
                "processor.selector",
                false,
                &[("round_robin", false), ("random", true)],
            );
            let backoff = p.bool("processor.backoff", false);
            let max_timeout = p.millis("processor.selector.maxTimeOut", 30_000, 1, MAX_MILLIS);
            Processor::LoadBalance {
                random,
                backoff,
                max_timeout,
            }
        }
        None | Some("default" | "org.apache.flume.sink.defaultsinkprocessor") => {
            if members.len() > 1 {
                p.push(
                    ConfigError::at(kind_entry.unwrap_or(entry), format!("sink group `{}`: the default processor runs a single sink", shorten(name)))
                        .hint("set `processor.type = failover` or `load_balance` for a group of several sinks"),
                );
                return None;
            }
            // One sink: run as it would be without the group.
            Processor::LoadBalance {
                random: false,
                backoff: false,
                max_timeout: Duration::from_millis(30_000),
            }
        }
        Some(other) => {
            let e = kind_entry.expect("a value");
            let hint = match suggest(other, ["failover", "load_balance", "default"]) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "spate supports the processors failover, load_balance and default".into(),
            };
            p.push(
                ConfigError::at(e, format!("unknown sink processor `{}`", shorten(&e.value)))
                    .hint(hint),
            );
            return None;
        }
    };
    let several = !matches!(
        kind.as_deref(),
        None | Some("default" | "org.apache.flume.sink.defaultsinkprocessor")
    );
    // Said only of a list of one name: one rejected above is its own error.
    if entry.value.split_whitespace().count() == 1 && several {
        p.push(
            ConfigError::at(
                entry,
                format!(
                    "sink group `{}` has one sink: nothing to fail over or balance to",
                    shorten(name)
                ),
            )
            .hint("add a sink to the group, or remove the group"),
        );
    }
    p.finish(
        "a sink group",
        &[
            "sinks",
            "processor.type",
            "processor.priority.<sink>",
            "processor.maxpenalty",
            "processor.backoff",
            "processor.selector",
            "processor.selector.maxTimeOut",
        ],
    );
    Some(SinkGroupConfig {
        name: name.to_string(),
        sinks: members,
        processor,
    })
}

/// One sink of a running group.
pub struct Member {
    /// The sink's name.
    pub name: String,
    /// The sink.
    pub sink: Box<dyn Sink>,
    /// Its counters: the group counts each delivery on the sink that made it.
    pub counters: Arc<SinkCounters>,
    failures: u32,
    out_until: Option<Instant>,
}

impl std::fmt::Debug for Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Member")
            .field("name", &self.name)
            .field("failures", &self.failures)
            .finish()
    }
}

impl Member {
    /// A member of a group.
    pub fn new(name: String, sink: Box<dyn Sink>, counters: Arc<SinkCounters>) -> Self {
        Member {
            name,
            sink,
            counters,
            failures: 0,
            out_until: None,
        }
    }

    fn available(&self, now: Instant) -> bool {
        self.out_until.is_none_or(|t| t <= now)
    }

    /// Sets the sink aside for a time doubling from 1 s with each failure in a row, up to
    /// `max`.
    fn set_aside(&mut self, max: Duration) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let time = Duration::from_secs(1)
            .saturating_mul(1 << (self.failures - 1).min(20))
            .min(max);
        self.out_until = Some(Instant::now() + time);
        time
    }
}

/// A running sink group: a [`Sink`] made of sinks.
#[derive(Debug)]
pub struct Group {
    name: String,
    members: Vec<Member>,
    processor: Processor,
    /// The member that delivered last.
    current: usize,
    /// Round-robin position, or the random generator's state.
    next: u64,
}

impl Group {
    /// A group of `members` (in the configured order) run by `processor`.
    pub fn new(name: String, members: Vec<Member>, processor: Processor) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64 | 1);
        Group {
            name,
            members,
            processor,
            current: 0,
            next: seed,
        }
    }

    /// The members in the order they are tried for the next delivery.
    fn order(&mut self) -> Vec<usize> {
        let n = self.members.len();
        match &self.processor {
            Processor::Failover { priority, .. } => {
                let mut order: Vec<usize> = (0..n).collect();
                // Highest priority first; equal ones in configured order.
                order.sort_by_key(|&i| std::cmp::Reverse(priority[i]));
                order
            }
            Processor::LoadBalance { random: false, .. } => {
                let start = (self.next % n as u64) as usize;
                self.next = self.next.wrapping_add(1);
                (0..n).map(|k| (start + k) % n).collect()
            }
            Processor::LoadBalance { random: true, .. } => {
                // xorshift64: a fair enough shuffle for spreading load.
                let mut order: Vec<usize> = (0..n).collect();
                for i in (1..n).rev() {
                    self.next ^= self.next << 13;
                    self.next ^= self.next >> 7;
                    self.next ^= self.next << 17;
                    order.swap(i, (self.next % (i as u64 + 1)) as usize);
                }
                order
            }
        }
    }

    async fn deliver_batches(&mut self, batches: &[Batch]) -> std::io::Result<()> {
        let events: u64 = batches.iter().map(|b| b.len() as u64).sum();
        let now = Instant::now();
        let order = self.order();
        let (set_aside, limit) = match self.processor {
            Processor::Failover { max_penalty, .. } => (true, max_penalty),
            Processor::LoadBalance {
                backoff,
                max_timeout,
                ..
            } => (backoff, max_timeout),
        };
        let mut last_error = None;
        for &i in &order {
            let member = &mut self.members[i];
            if set_aside && !member.available(now) {
                continue;
            }
            member.counters.event_drain_attempt.add(events);
            match member.sink.deliver(batches).await {
                Ok(()) => {
                    member.counters.event_drain_success.add(events);
                    if member.failures > 0 {
                        info!(group = %self.name, sink = %member.name, "sink delivers again");
                    }
                    member.failures = 0;
                    member.out_until = None;
                    member.sink.succeeded();
                    self.current = i;
                    return Ok(());
                }
                Err(e) => {
                    member.counters.event_write_fail.add(1);
                    if set_aside {
                        let time = member.set_aside(limit);
                        if member.failures == 1 {
                            warn!(group = %self.name, sink = %member.name, "delivery failed: {e}; the group's other sinks take over, this one is tried again in {time:?} (then less often, up to {limit:?})");
                        }
                    } else if member.failures == 0 {
                        member.failures = 1;
                        warn!(group = %self.name, sink = %member.name, "delivery failed: {e}; the next sink of the group takes the batch");
                    }
                    last_error = Some(e);
                }
            }
        }
        Err(last_error.unwrap_or_else(|| {
            std::io::Error::other(format!(
                "every sink of group `{}` is set aside after failing",
                self.name
            ))
        }))
    }
}

impl Sink for Group {
    fn deliver<'a>(&'a mut self, batches: &'a [Batch]) -> LocalFuture<'a, std::io::Result<()>> {
        Box::pin(self.deliver_batches(batches))
    }

    fn holding_back(&self) -> bool {
        self.members[self.current].sink.holding_back()
    }

    fn idle(&mut self) {
        for m in &mut self.members {
            m.sink.idle();
        }
    }

    /// Until the first sink is back: its penalty's end, at least 100 ms and at most 1 s.
    fn retry_delay(&mut self) -> Duration {
        let now = Instant::now();
        self.members
            .iter()
            .filter_map(|m| m.out_until.map(|t| t.saturating_duration_since(now)))
            .min()
            .unwrap_or(Duration::ZERO)
            .clamp(Duration::from_millis(100), Duration::from_secs(1))
    }
}
