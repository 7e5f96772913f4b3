//! Test directories, numbered lines, and writers that log and rotate like applications.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[allow(unused_imports)]
use super::*;

/// A test's directories: `logs/` (tailed) and `state/` (position file).
#[derive(Debug)]
pub struct Dirs {
    root: tempfile::TempDir,
}

impl Dirs {
    pub fn new() -> Dirs {
        let root = tempfile::tempdir().expect("tempdir");
        fs::create_dir(root.path().join("logs")).unwrap();
        fs::create_dir(root.path().join("state")).unwrap();
        Dirs { root }
    }
    pub fn logs(&self) -> PathBuf {
        self.root.path().join("logs")
    }
    pub fn log(&self, name: &str) -> PathBuf {
        self.logs().join(name)
    }
    pub fn pos(&self) -> PathBuf {
        self.root.path().join("state/pos.json")
    }
    pub fn root(&self) -> &Path {
        self.root.path()
    }
}

impl Default for Dirs {
    fn default() -> Self {
        Dirs::new()
    }
}

/// The `pos` the position file at `path` (Flume's format) records for `inode`; 0 when the file
/// or the entry does not exist (yet).
pub fn recorded_position(path: &Path, inode: u64) -> u64 {
    let Ok(text) = fs::read_to_string(path) else {
        return 0; // not written yet
    };
    let entries: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    entries
        .iter()
        .find(|e| e["inode"] == inode)
        .map_or(0, |e| e["pos"].as_u64().unwrap())
}

// ---------------------------------------------------------------------------------------------
// Lines and writers

/// Line `seq` as the tests write it: `{seq:016} {payload}\n`, `len` bytes in all (at least 18).
pub fn line(seq: u64, len: usize) -> Vec<u8> {
    let mut l = format!("{seq:016} ").into_bytes();
    let fill = len.saturating_sub(l.len() + 1).max(1);
    l.extend(std::iter::repeat_n(b'a' + (seq % 26) as u8, fill));
    l.push(b'\n');
    l
}

/// Writes lines `start..start + n` (each `len` bytes) to `path`, appending.
pub fn prefill(path: &Path, start: u64, n: u64, len: usize) {
    let f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open for prefill");
    let mut w = BufWriter::with_capacity(1 << 20, f);
    for seq in start..start + n {
        w.write_all(&line(seq, len)).unwrap();
    }
    w.flush().unwrap();
}

/// Appends numbered lines through one `O_APPEND` descriptor kept open, like a logger.
#[derive(Debug)]
pub struct LogWriter {
    path: PathBuf,
    file: File,
    /// The sequence number of the next line.
    pub next: u64,
    pub line_len: usize,
}

impl LogWriter {
    /// Opens (creating) `path` for appending; the first line written is `first_seq`.
    pub fn open(path: &Path, first_seq: u64) -> LogWriter {
        LogWriter {
            path: path.to_owned(),
            file: open_append(path),
            next: first_seq,
            line_len: 64,
        }
    }

    /// Appends `n` lines, in writes of at most 64 KiB (whole lines).
    pub fn write(&mut self, n: u64) {
        let mut buf = Vec::with_capacity(64 * 1024);
        for _ in 0..n {
            buf.extend_from_slice(&line(self.next, self.line_len));
            self.next += 1;
            if buf.len() >= 60 * 1024 {
                self.file.write_all(&buf).unwrap();
                buf.clear();
            }
        }
        self.file.write_all(&buf).unwrap();
    }

    /// Writes the first `cut` bytes of the next line only: a line still being written.
    pub fn write_head(&mut self, cut: usize) {
        let l = line(self.next, self.line_len);
        self.file.write_all(&l[..cut]).unwrap();
    }

    /// Writes the rest of the line begun by [`LogWriter::write_head`].
    pub fn write_tail(&mut self, cut: usize) {
        let l = line(self.next, self.line_len);
        self.file.write_all(&l[cut..]).unwrap();
        self.next += 1;
    }

    /// Appends `n` lines in `chunks` writes spread over about `over` (a steady logger).
    pub fn write_paced(&mut self, n: u64, chunks: u64, over: Duration) {
        let per = n / chunks;
        for i in 0..chunks {
            let count = if i + 1 == chunks { n - per * i } else { per };
            self.write(count);
            std::thread::sleep(over / chunks as u32);
        }
    }

    /// Rotation by rename: moves the file to `to`; this writer keeps its descriptor, so it
    /// still writes to the renamed file until [`LogWriter::reopen`].
    pub fn rename_to(&self, to: &Path) {
        fs::rename(&self.path, to).expect("rename for rotation");
    }

    /// Opens the writer's path again (creating a new file after a rename).
    pub fn reopen(&mut self) {
        self.file = open_append(&self.path);
    }

    /// copytruncate: copies the file to `to`, then truncates it to 0. The writer continues at
    /// the new end, as O_APPEND does.
    pub fn copy_truncate(&self, to: &Path) {
        fs::copy(&self.path, to).expect("copy");
        self.file.set_len(0).expect("truncate");
    }

    /// Truncates the file to 0 (the writer continues at offset 0).
    pub fn truncate(&self) {
        self.file.set_len(0).expect("truncate");
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn open_append(path: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open for append")
}

// ---------------------------------------------------------------------------------------------
// A small disk

/// A small tmpfs mounted for a test and unmounted when dropped.
#[derive(Debug)]
pub struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// Mounts `bytes` of tmpfs; `None` where mounting is not allowed (not root).
    pub fn mount(bytes: u64) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallDisk { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Bytes free on it.
    pub fn free(&self) -> u64 {
        let c = std::ffi::CString::new(self.path().as_os_str().as_encoded_bytes()).unwrap();
        let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
        // SAFETY: a valid C string and a writable statvfs.
        assert_eq!(unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) }, 0);
        // SAFETY: statvfs returned 0 and filled it.
        let st = unsafe { st.assume_init() };
        st.f_bavail * st.f_frsize
    }

    /// Writes file `name` until at most `leave` bytes are free (all of it for 0: the writes
    /// end in ENOSPC).
    pub fn fill(&self, name: &str, leave: u64) {
        let mut f = File::create(self.path().join(name)).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        loop {
            let free = self.free();
            if free <= leave {
                break;
            }
            let n = ((free - leave) as usize).min(chunk.len());
            if f.write_all(&chunk[..n]).is_err() {
                break; // full
            }
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}
