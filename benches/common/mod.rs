//! Helpers shared by the benches that read a file (`taildir_read`, `pipeline`).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use spate::runtime::{select_backend, Backend, IoMode};

/// Bytes per line, newline included.
pub const LINE: usize = 128;

/// Writes `lines` lines of [`LINE`] bytes to `path`, flushes them to disk and reads the file
/// once, so that it sits clean in the page cache: the benches measure reading cached data, not
/// the disk or write-back.
pub fn prefill(path: &Path, lines: usize) -> io::Result<()> {
    let mut line = vec![b'x'; LINE - 1];
    line.push(b'\n');
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    for _ in 0..lines {
        out.write_all(&line)?;
    }
    out.into_inner()?.sync_all()?;
    io::copy(&mut File::open(path)?, &mut io::sink())?;
    Ok(())
}

/// The backends to measure: epoll always, io_uring where the kernel allows it (a note says why
/// it is skipped otherwise).
pub fn backends() -> Vec<Backend> {
    let mut backends = vec![Backend::Epoll];
    match select_backend(IoMode::Uring) {
        Ok(uring) => backends.push(uring),
        Err(e) => eprintln!("io_uring cases skipped: {e}"),
    }
    backends
}
