//! spate: a Flume-compatible log collection agent for busy Linux hosts.
//!
//! spate keeps Apache Flume's model (sources put batches of events into channels, sinks take
//! them out, each step a transaction) and its configuration files, and runs it thread-per-core on
//! io_uring. The pieces, in data-path order:
//!
//! * [`config`]: Flume `.properties` files, resolved into typed component configurations;
//! * [`component`] and [`registry`]: what every component type provides, and the list of types;
//! * [`source`]: where events come from (`TAILDIR`);
//! * [`event`]: the [`event::Batch`] that carries events, zero-copy from the read buffer;
//! * [`interceptor`] and [`selector`]: what happens to a batch between a source and its channels;
//! * [`channel`]: the bounded lock-free memory channel between sources and sinks;
//! * [`sink`]: where events go (`tcp`, `logger`, `null`);
//! * [`ack`]: how a sink's commit travels back, so positions only advance past delivered data;
//! * [`runtime`]: pinned workers and the io_uring / epoll I/O facade;
//! * [`agent`]: wiring, placement and the shutdown order ([`lifecycle`]);
//! * [`metrics`] and [`monitoring`]: the counters, and what serves them (Flume's JSON,
//!   Prometheus, health, the status line).
//!
//! ```no_run
//! use spate::agent::{Agent, AgentOptions};
//! use spate::runtime::{select_backend, IoMode};
//!
//! let config = spate::config::load(&["flume.properties".into()], "a1")?;
//! let options = AgentOptions {
//!     backend: select_backend(IoMode::Auto)?,
//!     workers: 2,
//!     pin: true,
//!     drain_timeout: std::time::Duration::from_secs(10),
//!     metrics: spate::monitoring::Metrics::new("a1"),
//! };
//! let agent = Agent::start(&config, &options)?;
//! // ... until SIGTERM:
//! agent.stop();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod ack;
pub mod agent;
pub mod avro;
pub mod channel;
pub mod component;
pub mod config;
pub mod event;
pub mod interceptor;
pub mod lifecycle;
pub mod lock;
pub mod metrics;
pub mod monitoring;
pub mod registry;
pub mod runtime;
pub mod selector;
pub mod sink;
pub mod source;
pub mod throttle;
