//! Harness of the behaviour tests: runs the `spate` binary against a TCP collector that counts
//! numbered lines, and writes logs the way applications and rotators do.
//!
//! * [`Agent`]: one `spate agent` process, its config and stderr in a temporary directory; killed
//!   on drop so a failing test leaks nothing.
//! * [`Collector`]: the one helper that runs the agent against a collecting receiver. It records
//!   the sequence number of every line `{seq:016} {payload}`, can pause reading, go down and come
//!   back on the same port.
//! * [`LogWriter`]: appends numbered lines through an `O_APPEND` descriptor it keeps open, like a
//!   logger; [`prefill`] writes a large file quickly.
//! * [`Sender`]: a netcat client that sends numbered lines, counts the `OK`s, and sends again
//!   what a broken connection left unanswered, as an at-least-once sender does.
//! * [`Pipeline`]: the agent configuration (TAILDIR -> memory -> tcp) with overridable keys.
//!
//! One module each: `agent`, `collector` (its framings are the load generator's), `files`
//! (directories, lines, writers) and `pipeline`. Tests wait on conditions with deadlines
//! ([`wait_until`]), never on bare sleeps.
#![allow(dead_code)]

use std::fs;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

mod agent;
mod collector;
mod files;
mod flume;
mod netcat;
mod pipeline;

// Each test file uses some of these.
#[allow(unused_imports)]
pub use agent::Agent;
#[allow(unused_imports)]
pub use collector::{parse_seq, Collector, Framing};
#[allow(unused_imports)]
pub use files::{line, prefill, recorded_position, Dirs, LogWriter, SmallDisk};
#[allow(unused_imports)]
pub use flume::{flume_collector, flume_edge, seq_counts, Flume, FLUME_MEMORY_CHANNEL};
#[allow(unused_imports)]
pub use netcat::Sender;
#[allow(unused_imports)]
pub use pipeline::{logged_events, LoggedEvent, Pipeline};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_spate");

/// Runs `$body(backend)` as two tests, `epoll` and `uring`; the uring one is skipped (with a
/// message) where `spate agent --io uring` cannot start. Attributes written before a name
/// (such as `#[ignore = "why"]`) go on both tests.
#[macro_export]
macro_rules! both_backends {
    ($($(#[$attr:meta])* $name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            $(#[$attr])*
            fn epoll() {
                super::$name("epoll");
            }
            #[test]
            $(#[$attr])*
            fn uring() {
                if !$crate::common::uring_available() {
                    eprintln!("skipped: io_uring is not available here");
                    return;
                }
                super::$name("uring");
            }
        }
    )*};
}

/// A port free on 127.0.0.1 at the time of the call.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("an ephemeral port")
        .port()
}

/// Polls `cond` every 10 ms until it holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether `spate agent --io uring` can run here: io_uring not disabled by sysctl, and an agent
/// started with it does not exit with "io_uring is not available". Probed once per test binary.
pub fn uring_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        let disabled = fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
            .map(|s| s.trim() != "0")
            .unwrap_or(false);
        if disabled {
            return false;
        }
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("logs")).unwrap();
        let config = format!(
            "a1.sources = r1\na1.channels = c1\na1.sinks = k1\n\
             a1.sources.r1.type = TAILDIR\na1.sources.r1.channels = c1\n\
             a1.sources.r1.filegroups = f1\n\
             a1.sources.r1.filegroups.f1 = {}/.*\n\
             a1.sources.r1.positionFile = {}\n\
             a1.channels.c1.type = memory\n\
             a1.sinks.k1.type = null\na1.sinks.k1.channel = c1\n",
            dir.path().join("logs").display(),
            dir.path().join("pos.json").display()
        );
        let mut agent = Agent::start(&config, "uring");
        let exited = wait_until(Duration::from_secs(2), || agent.try_exit().is_some());
        if exited && agent.stderr().contains("io_uring is not available") {
            return false;
        }
        if !exited {
            agent.stop();
        }
        true
    })
}
