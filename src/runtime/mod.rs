//! The thread-per-core runtime and its I/O facade.
//!
//! Each worker is one OS thread, pinned to one core, running one single-threaded event loop:
//! tokio-uring (an io_uring ring driven from a tokio current-thread runtime) or, where io_uring
//! is not available, a plain tokio current-thread runtime, which waits with epoll and reads files
//! with `pread`. Components are built inside their worker (the task factories are `Send`, the
//! tasks need not be), and talk to components on other workers only through lock-free channels.
//!
//! Everything above this module is written once against the facade in [`io`]: the backends
//! differ only in how a file read, a socket write and a wait on inotify reach the kernel.

pub mod direct;
pub mod io;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::thread::JoinHandle;

use tracing::{debug, warn};

/// Which kernel interface the workers use for I/O.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// io_uring through tokio-uring: batched submissions, reads and writes as ring operations.
    Uring,
    /// epoll readiness with `pread` and `writev` system calls.
    Epoll,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Uring => "io_uring",
            Backend::Epoll => "epoll",
        })
    }
}

/// The user's choice of backend (`--io`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum IoMode {
    /// io_uring when the kernel allows it, epoll otherwise (with one warning).
    #[default]
    Auto,
    /// io_uring or fail.
    Uring,
    /// epoll, even where io_uring works.
    Epoll,
}

/// io_uring was required (`--io uring`) but cannot be used here.
#[derive(Debug, thiserror::Error)]
#[error("io_uring is not available: {reason}; run with `--io epoll` (or `--io auto` to fall back by itself)")]
pub struct UringUnavailable {
    reason: String,
}

/// Picks the backend for `mode`, probing io_uring once by setting up a small ring.
pub fn select_backend(mode: IoMode) -> Result<Backend, UringUnavailable> {
    match mode {
        IoMode::Epoll => Ok(Backend::Epoll),
        IoMode::Uring => probe_uring().map(|()| Backend::Uring),
        IoMode::Auto => match probe_uring() {
            Ok(()) => Ok(Backend::Uring),
            Err(e) => {
                warn!("{}; running on the epoll backend", e.reason);
                Ok(Backend::Epoll)
            }
        },
    }
}

fn probe_uring() -> Result<(), UringUnavailable> {
    match tokio_uring::Runtime::new(tokio_uring::builder().entries(8)) {
        Ok(_) => Ok(()),
        Err(e) => {
            let why = match e.raw_os_error() {
                Some(libc::EPERM) | Some(libc::EACCES) => {
                    " (forbidden by a seccomp profile such as Docker's default, or by the \
                     kernel.io_uring_disabled sysctl)"
                }
                Some(libc::ENOSYS) => " (the kernel has no io_uring)",
                Some(libc::ENOMEM) => " (locked-memory limit too low: raise `ulimit -l`)",
                _ => "",
            };
            Err(UringUnavailable {
                reason: format!("io_uring setup failed: {e}{why}"),
            })
        }
    }
}

/// A task as the workers run it: a future that lives on one thread.
pub type LocalTask = Pin<Box<dyn Future<Output = ()>>>;

/// Builds a task on its worker thread. The factory crosses threads; the task it returns may hold
/// `!Send` state (ring-owned buffers, `Rc`s).
pub type TaskFactory = Box<dyn FnOnce() -> LocalTask + Send>;

/// Starts worker `index` on its own thread, pinned to `core` when given, running `tasks` until all
/// of them finish.
pub fn spawn_worker(
    index: usize,
    backend: Backend,
    core: Option<core_affinity::CoreId>,
    tasks: Vec<TaskFactory>,
) -> std::io::Result<JoinHandle<std::io::Result<()>>> {
    std::thread::Builder::new()
        .name(format!("spate-w{index}"))
        .spawn(move || {
            if let Some(core) = core {
                if core_affinity::set_for_current(core) {
                    debug!(worker = index, core = core.id, "pinned");
                } else {
                    warn!(
                        worker = index,
                        core = core.id,
                        "could not pin worker to its core"
                    );
                }
            }
            let run = async move {
                let handles: Vec<_> = tasks
                    .into_iter()
                    .map(|build| tokio::task::spawn_local(build()))
                    .collect();
                for handle in handles {
                    if let Err(e) = handle.await {
                        tracing::error!(worker = index, "a component task failed: {e}");
                    }
                }
            };
            match backend {
                Backend::Uring => {
                    let rt = tokio_uring::Runtime::new(tokio_uring::builder().entries(1024))?;
                    rt.block_on(run);
                }
                Backend::Epoll => {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    tokio::task::LocalSet::new().block_on(&rt, run);
                }
            }
            Ok(())
        })
}

/// Runs `task` to completion on the current thread with `backend`: for tests, benchmarks and
/// tools that need one event loop without the agent around it.
pub fn block_on<F: Future>(backend: Backend, task: F) -> std::io::Result<F::Output> {
    match backend {
        Backend::Uring => {
            Ok(tokio_uring::Runtime::new(tokio_uring::builder().entries(256))?.block_on(task))
        }
        Backend::Epoll => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            Ok(tokio::task::LocalSet::new().block_on(&rt, task))
        }
    }
}

/// The backends this machine can run, for tests that run on each: epoll always, io_uring where
/// it can be set up.
#[cfg(test)]
pub(crate) fn test_backends() -> Vec<Backend> {
    let mut backends = vec![Backend::Epoll];
    if select_backend(IoMode::Uring).is_ok() {
        backends.push(Backend::Uring);
    }
    backends
}
