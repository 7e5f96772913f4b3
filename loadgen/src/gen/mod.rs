//! Generators: numbered lines written to files ([`file::write_files`]) or sent over TCP
//! connections ([`tcp::send_lines`]), at a steady rate or as fast as possible.
//!
//! Both share one loop ([`driver`]): lines are dealt round robin over the targets (files or
//! connections), each target with its own stream id and sequence numbers from 0, so a receiver
//! can check that every line of every target arrived exactly once. The lines themselves are cut
//! from a [`pool::LinePool`] laid out once per run, so a line costs the rewrite of its header;
//! their sizes and text come from [`sizes::LineSizes`], their pace from [`rate::Rate`].
//!
//! A run is watched through [`Counters`] (read by another thread for progress) and summed up in a
//! [`GenReport`].

mod driver;
pub mod file;
pub mod pool;
pub mod rate;
mod shapes;
pub mod sizes;
pub mod tcp;

use std::sync::atomic::AtomicU64;

use serde::Serialize;

pub use file::{write_files, FileLoad, RotateMode, Rotation};
pub use rate::Rate;
pub use sizes::LineSizes;
pub use tcp::{send_lines, TcpLoad};

/// Live totals of a running generator, updated after every write; other threads read them for
/// progress.
#[derive(Debug, Default)]
pub struct Counters {
    /// Lines written (or sent).
    pub lines: AtomicU64,
    /// Bytes written (or sent), framing included.
    pub bytes: AtomicU64,
    /// Files rotated (file loads only).
    pub rotations: AtomicU64,
}

/// What a generator run did; printed as one JSON line by `write` and `send`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GenReport {
    pub lines: u64,
    /// Bytes written or sent, framing included.
    pub bytes: u64,
    /// From the first line (after connecting, for TCP) until the run stopped: the last write,
    /// the end of the duration, or the stop flag.
    pub seconds: f64,
    /// Lines per second asked for, over all targets; `None` for as fast as possible.
    pub target_rate: Option<f64>,
    /// Lines per second actually written, `lines / seconds`.
    pub achieved_rate: f64,
    /// Files written or connections used.
    pub targets: usize,
    /// Mean line size, newline included (framing prefixes not).
    pub mean_line_bytes: f64,
    pub rotations: u64,
    /// Ticks the writer reached more than a tick after their deadline (fixed rates only).
    pub late_ticks: u64,
    /// The longest a due line waited beyond one tick, in milliseconds: how far behind the
    /// schedule the writer got (fixed rates only).
    pub max_behind_ms: f64,
}
