//! What the sources that listen on TCP share (`netcat`, `avro`): binding their port, accepting
//! connections up to a cap, one task per connection on the source's worker, and knowing when
//! every connection has stopped reading, which is when the source has stopped.

use std::cell::Cell;
use std::future::Future;
use std::net::{SocketAddr, ToSocketAddrs};
use std::rc::Rc;
use std::time::Duration;

use tokio::sync::Notify;
use tracing::{debug, info, warn};

use crate::lifecycle::{Control, Phase, Report};
use crate::metrics::SourceCounters;
use crate::runtime::io::{TcpConn, TcpListen};
use crate::runtime::Backend;
use crate::throttle::Throttle;

/// A source could not listen.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// The address does not resolve.
    #[error("cannot resolve `{bind}`: {source}; give `bind` an address of this host, or 0.0.0.0")]
    Resolve {
        /// The `bind` value.
        bind: String,
        /// Why.
        source: std::io::Error,
    },
    /// Binding failed at every address it resolves to.
    #[error("cannot listen on {addr}: {source}; {hint}")]
    Bind {
        /// The last address tried.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
        /// What to do.
        hint: &'static str,
    },
}

/// How long a port in use is waited for at start.
const BIND_PATIENCE: Duration = Duration::from_secs(5);

/// Binds `bind:port` (the first address it resolves to that can be bound).
///
/// A port in use is tried again for [`BIND_PATIENCE`]: the kernel closes the listening socket
/// of a process that ended with io_uring operations pending on it (a crashed or restarted
/// agent, or the previous configuration at a reload) only when it has torn the ring down,
/// which it does asynchronously, a little after the process or ring is gone.
pub fn listen(bind: &str, port: u16) -> Result<std::net::TcpListener, ListenError> {
    let addrs: Vec<SocketAddr> = (bind, port)
        .to_socket_addrs()
        .map_err(|source| ListenError::Resolve {
            bind: bind.to_string(),
            source,
        })?
        .collect();
    let deadline = std::time::Instant::now() + BIND_PATIENCE;
    let mut said = false;
    loop {
        let mut last = None;
        for &addr in &addrs {
            match std::net::TcpListener::bind(addr) {
                Ok(l) => return Ok(l),
                Err(source) => {
                    let hint = bind_hint(source.kind());
                    last = Some(ListenError::Bind { addr, source, hint });
                }
            }
        }
        let in_use = matches!(&last, Some(ListenError::Bind { source, .. })
            if source.kind() == std::io::ErrorKind::AddrInUse);
        if !in_use || std::time::Instant::now() >= deadline {
            return Err(last.unwrap_or_else(|| ListenError::Resolve {
                bind: bind.to_string(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no address"),
            }));
        }
        if !said {
            said = true;
            info!(
                bind,
                port,
                "port in use; waiting up to {} s for it (a previous agent's socket may still be \
                 closing)",
                BIND_PATIENCE.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What to do when binding failed with `kind`.
fn bind_hint(kind: std::io::ErrorKind) -> &'static str {
    use std::io::ErrorKind::*;
    match kind {
        AddrInUse => "another program holds the port (`ss -ltnp` names it): stop it, or change `port`",
        PermissionDenied => {
            "ports below 1024 need root or CAP_NET_BIND_SERVICE: give the agent that, or a higher `port`"
        }
        AddrNotAvailable => "`bind` is not an address of this host (see `ip -brief address`), or use 0.0.0.0",
        _ => "check `bind` and `port`",
    }
}

/// The connections of one source that are still reading.
#[derive(Debug, Default)]
pub struct Readers {
    count: Cell<usize>,
    stopped_one: Notify,
}

/// A connection that still reads: counted in its source's [`Readers`] until [`Reading::done`]
/// or until it is dropped, however the connection ends.
#[derive(Debug)]
pub struct Reading(Rc<Readers>, bool);

impl Reading {
    fn start(readers: &Rc<Readers>) -> Reading {
        readers.count.set(readers.count.get() + 1);
        Reading(Rc::clone(readers), true)
    }

    /// The connection reads no more.
    pub fn done(&mut self) {
        if std::mem::replace(&mut self.1, false) {
            self.0.count.set(self.0.count.get() - 1);
            self.0.stopped_one.notify_one();
        }
    }
}

impl Drop for Reading {
    fn drop(&mut self) {
        self.done();
    }
}

/// Runs a listening source on its worker: accepts connections on `listener` until
/// `StopReading`, each served by `serve` as a task of its own (at most `max_connections` at
/// once; more are closed at once), then waits until every connection stopped reading, reports
/// the source stopped, and waits for the connections to end (they answer what the sinks
/// deliver while they drain). Counts open connections in `counters`.
pub async fn serve_connections<F, Fut>(
    name: &str,
    listener: std::net::TcpListener,
    backend: Backend,
    max_connections: usize,
    counters: &SourceCounters,
    mut control: Control,
    mut serve: F,
) where
    F: FnMut(TcpConn, SocketAddr, Reading, Control) -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    let readers = Rc::new(Readers::default());
    let mut connections = tokio::task::JoinSet::new();
    match TcpListen::from_std(listener, backend) {
        Ok(listener) => loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((conn, peer)) => {
                        while connections.try_join_next().is_some() {}
                        if connections.len() >= max_connections {
                            warn_full(name, max_connections, peer);
                            drop(conn);
                            continue;
                        }
                        debug!(source = name, %peer, "connection accepted");
                        counters.open_connection.add(1);
                        let reading = Reading::start(&readers);
                        connections.spawn_local(serve(conn, peer, reading, control.clone()));
                    }
                    Err(e) => {
                        // Out of descriptors, or a connection reset before it was accepted:
                        // wait a little rather than spin.
                        warn!(source = name, "accept failed: {e}");
                        counters.generic_processing_fail.add(1);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                _ = control.reached(Phase::StopReading) => break,
            }
        },
        Err(e) => {
            tracing::error!(source = name, "cannot listen on the worker: {e}");
            counters.generic_processing_fail.add(1);
            control.reached(Phase::StopReading).await;
        }
    }
    // The listener is closed: new clients are refused. Each connection stops reading on its
    // own; the source has stopped when all have.
    while readers.count.get() > 0 {
        let stopped = readers.stopped_one.notified();
        if readers.count.get() == 0 {
            break;
        }
        stopped.await;
    }
    debug!(source = name, "stopped reading");
    control.report(Report::SourceStopped(name.to_string()));
    while connections.join_next().await.is_some() {}
}

/// Says, at most once a minute per process, that a connection was refused for the cap.
fn warn_full(source: &str, cap: usize, peer: SocketAddr) {
    static GATE: Throttle = Throttle::per_minute();
    if !GATE.ready() {
        return;
    }
    warn!(
        source,
        %peer,
        max_connections = cap,
        "connection closed at once: the source has max-connections open (said at most once a \
         minute)"
    );
}
