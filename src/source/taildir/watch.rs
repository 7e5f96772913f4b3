//! Noticing new data: inotify where possible, stat polling otherwise, behind one type.
//!
//! The source watches each file group's directory. A background task on the source's worker
//! reads inotify events (through the ring on the io_uring backend) and records what changed:
//! appended-to files by path, and whether the directory's membership changed (created, moved,
//! deleted files), which calls for a scan. The source sleeps on [`Watcher::changed`] and, when
//! woken, takes the [`Changes`]. Without inotify (its limits reached, or unavailable), the
//! watcher reports `poll` and the source reads every file and scans on its poll interval.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use bytes::BytesMut;
use tokio::sync::Notify;
use tracing::{debug, warn};

use crate::runtime::io::{Inotify, InotifyEvent};
use crate::runtime::Backend;

/// What happened since the last [`Watcher::take`].
#[derive(Debug, Default)]
pub struct Changes {
    /// Files written to, by path.
    pub modified: HashSet<PathBuf>,
    /// Files appeared, moved or vanished (or events were lost): scan the directories and read
    /// every open file.
    pub rescan: bool,
}

/// Directory events that change which files exist.
const STRUCTURE: u32 = libc::IN_CREATE
    | libc::IN_DELETE
    | libc::IN_MOVED_FROM
    | libc::IN_MOVED_TO
    | libc::IN_DELETE_SELF
    | libc::IN_MOVE_SELF
    | libc::IN_IGNORED
    | libc::IN_Q_OVERFLOW;
const MASK: u32 = libc::IN_MODIFY | libc::IN_ATTRIB | STRUCTURE;

#[derive(Debug, Default)]
struct Shared {
    changes: Changes,
    /// Watch descriptor -> watched directory.
    dirs: HashMap<i32, PathBuf>,
}

/// Watches the directories of one source.
#[derive(Debug)]
pub struct Watcher {
    inotify: Option<Rc<Inotify>>,
    shared: Rc<RefCell<Shared>>,
    wake: Rc<Notify>,
    /// Directories to watch; those with a watch in place are in `Shared::dirs`.
    wanted: Vec<PathBuf>,
}

impl Watcher {
    /// A watcher for `dirs`; with `poll_only`, it never uses inotify. Must be called on the
    /// worker that runs the source: it spawns the event reader there.
    pub fn new(backend: Backend, dirs: Vec<PathBuf>, poll_only: bool) -> Self {
        let shared = Rc::new(RefCell::new(Shared::default()));
        let wake = Rc::new(Notify::new());
        let inotify = if poll_only {
            None
        } else {
            match Inotify::new(backend) {
                Ok(ino) => Some(Rc::new(ino)),
                Err(e) => {
                    warn!("inotify unavailable ({e}); falling back to polling for new data");
                    None
                }
            }
        };
        if let Some(ino) = &inotify {
            tokio::task::spawn_local(read_events(
                Rc::downgrade(ino),
                Rc::downgrade(&shared),
                wake.clone(),
            ));
        }
        let mut watcher = Watcher {
            inotify,
            shared,
            wake,
            wanted: dirs,
        };
        watcher.ensure_watches();
        watcher
    }

    /// Whether the source must poll (no inotify, or some directory not watched).
    pub fn is_polling(&self) -> bool {
        self.inotify.is_none() || self.shared.borrow().dirs.len() < self.wanted.len()
    }

    /// Adds watches for directories that have none yet (they may have appeared since).
    pub fn ensure_watches(&mut self) {
        let Some(ino) = &self.inotify else { return };
        let mut shared = self.shared.borrow_mut();
        for dir in &self.wanted {
            if shared.dirs.values().any(|d| d == dir) {
                continue;
            }
            match ino.add_watch(dir, MASK) {
                Ok(wd) => {
                    debug!(dir = %dir.display(), wd, "watching");
                    shared.dirs.insert(wd, dir.clone());
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => warn!(dir = %dir.display(), "cannot watch directory ({e}); polling it"),
            }
        }
    }

    /// Takes the changes recorded so far.
    pub fn take(&self) -> Changes {
        std::mem::take(&mut self.shared.borrow_mut().changes)
    }

    /// Takes only the files written to, leaving a pending rescan for [`Watcher::take`].
    pub fn take_modified(&self) -> Changes {
        Changes {
            modified: std::mem::take(&mut self.shared.borrow_mut().changes.modified),
            rescan: false,
        }
    }

    /// Waits until changes are recorded. Returns at once if some are pending.
    pub async fn changed(&self) {
        let notified = self.wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        {
            let shared = self.shared.borrow();
            if shared.changes.rescan || !shared.changes.modified.is_empty() {
                return;
            }
        }
        notified.await;
    }
}

/// The background reader: records events until the watcher is dropped.
async fn read_events(
    inotify: std::rc::Weak<Inotify>,
    shared: std::rc::Weak<RefCell<Shared>>,
    wake: Rc<Notify>,
) {
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut events: Vec<InotifyEvent> = Vec::new();
    loop {
        let Some(ino) = inotify.upgrade() else { return };
        let (res, b) = ino.read_events(buf, &mut events).await;
        buf = b;
        drop(ino);
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if let Err(e) = res {
            warn!("reading inotify events failed ({e}); scanning instead");
            shared.borrow_mut().changes.rescan = true;
            wake.notify_one();
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            continue;
        }
        let mut guard = shared.borrow_mut();
        let Shared { changes, dirs } = &mut *guard;
        for ev in events.drain(..) {
            if ev.mask & STRUCTURE != 0 {
                changes.rescan = true;
                if ev.mask & (libc::IN_IGNORED | libc::IN_DELETE_SELF | libc::IN_MOVE_SELF) != 0
                    && ev.name.is_empty()
                {
                    // The directory itself went away; it is watched again if it comes back.
                    dirs.remove(&ev.wd);
                }
            }
            if ev.mask & (libc::IN_MODIFY | libc::IN_MOVED_TO | libc::IN_ATTRIB) != 0
                && !ev.name.is_empty()
            {
                if let Some(dir) = dirs.get(&ev.wd) {
                    changes.modified.insert(Path::new(dir).join(&ev.name));
                }
            }
        }
        drop(guard);
        wake.notify_one();
    }
}
