//! Exclusive claims on files and directories between spate processes: an `flock` on a lock
//! file, which the kernel releases when the process dies, whatever the way. The holder's pid is
//! written in the file, for the message a second process gets.

use std::fs;
use std::io::{self, Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::Path;

/// Why a lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error("held by pid {pid}")]
    Held {
        /// The holder's pid, as it wrote it ("unknown" if it wrote none).
        pid: String,
    },
    /// The lock file could not be created or locked.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// A held lock: released when dropped (or when the process ends).
#[derive(Debug)]
pub struct ExclusiveLock {
    _file: fs::File,
}

impl ExclusiveLock {
    /// Takes the lock `path` (created, with its directory, if needed), without waiting.
    pub fn acquire(path: &Path) -> Result<ExclusiveLock, LockError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir)?;
        }
        let mut file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        // SAFETY: flock only reads the descriptor number, which `file` owns and keeps open.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(e.into());
            }
            // The holder's pid; the file is another process's, so read little and trust less.
            let mut held = Vec::new();
            let _ = (&mut file).take(32).read_to_end(&mut held);
            let pid: String = held
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .map(|&b| char::from(b))
                .collect();
            return Err(LockError::Held {
                pid: if pid.is_empty() {
                    "unknown".into()
                } else {
                    pid
                },
            });
        }
        file.set_len(0)?;
        file.rewind()?;
        writeln!(file, "{}", std::process::id())?;
        Ok(ExclusiveLock { _file: file })
    }
}
