//! `send`: stream a file over one TCP connection as fast as the kernel allows.
//!
//! `std::io::copy` from a `File` to a `TcpStream` uses `sendfile(2)` on Linux, so the sender costs
//! little CPU and the receiver (or the agent) is what gets measured.

use std::fs::File;
use std::io;
use std::net::{Shutdown, TcpStream};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use serde::Serialize;

/// What to send where.
#[derive(Debug, Clone)]
pub struct SendConfig {
    pub file: PathBuf,
    pub addr: String,
}

/// The JSON line `send` prints.
#[derive(Debug, Serialize)]
pub struct SendReport {
    pub file: String,
    pub addr: String,
    pub bytes: u64,
    pub seconds: f64,
    pub mb_per_sec: f64,
}

/// Sends the whole file, then closes the connection for writing and waits for the peer to close.
pub fn send(cfg: &SendConfig) -> Result<SendReport> {
    let mut file =
        File::open(&cfg.file).with_context(|| format!("cannot open {}", cfg.file.display()))?;
    let mut socket =
        TcpStream::connect(&cfg.addr).with_context(|| format!("cannot connect to {}", cfg.addr))?;
    let started = Instant::now();
    let bytes = io::copy(&mut file, &mut socket)
        .with_context(|| format!("sending {} to {}", cfg.file.display(), cfg.addr))?;
    socket.shutdown(Shutdown::Write)?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(SendReport {
        file: cfg.file.display().to_string(),
        addr: cfg.addr.clone(),
        bytes,
        seconds,
        mb_per_sec: if seconds > 0.0 {
            bytes as f64 / seconds / 1e6
        } else {
            0.0
        },
    })
}
