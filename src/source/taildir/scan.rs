//! Discovery: which files of a file group exist now.
//!
//! A file group is a literal directory plus a regular expression for file names, as in Flume.
//! A scan lists the directory, keeps the regular files whose whole name matches, and `stat`s
//! each. Scans run at start, when the watcher reports a file created, moved or deleted, and on
//! the poll interval when there is no watcher. A directory that does not exist (yet) matches
//! nothing; it is watched once it appears.

use std::io;
use std::path::{Path, PathBuf};

use regex::Regex;

use super::config::FileGroup;
use crate::runtime::io::{stat_path, FileStat};

/// A file found by a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Its path.
    pub path: PathBuf,
    /// Its `stat` at scan time.
    pub stat: FileStat,
    /// Index of the file group it matched.
    pub group: usize,
}

/// The matcher of one file group.
#[derive(Debug, Clone)]
pub struct Matcher {
    group: usize,
    dir: PathBuf,
    name: Regex,
}

impl Matcher {
    /// A matcher for `file_group`, the `index`-th group of its source.
    pub fn new(index: usize, file_group: &FileGroup) -> Result<Self, regex::Error> {
        Ok(Matcher {
            group: index,
            dir: file_group.dir.clone(),
            name: Regex::new(&format!("^(?:{})$", file_group.pattern))?,
        })
    }

    /// The directory this group watches.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether `path` is a file name of this group (it need not exist).
    pub fn matches(&self, path: &Path) -> bool {
        path.parent() == Some(self.dir.as_path())
            && path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| self.name.is_match(n))
    }

    /// Appends the matching regular files to `out`. A missing directory yields nothing; files
    /// that vanish during the scan are skipped. A matching entry that cannot be looked at (a
    /// symlink loop, a dangling link, no permission) is skipped and added to `unreadable`,
    /// never allowed to hide the entries after it. The error is the directory's, when it
    /// cannot be listed.
    pub fn scan(
        &self,
        out: &mut Vec<Found>,
        unreadable: &mut Vec<(PathBuf, io::Error)>,
    ) -> io::Result<()> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    unreadable.push((self.dir.clone(), e));
                    continue;
                }
            };
            let name = entry.file_name();
            // Names that are not UTF-8 cannot match a pattern written in the config file.
            let Some(name_str) = name.to_str() else {
                continue;
            };
            if !self.name.is_match(name_str) {
                continue;
            }
            let path = entry.path();
            match stat_path(&path) {
                Ok(stat) if is_regular(&path) => out.push(Found {
                    path,
                    stat,
                    group: self.group,
                }),
                Ok(_) => {}
                // Vanished since the listing, or a symlink to nothing: nothing to read.
                Err(e) if e.kind() == io::ErrorKind::NotFound && !is_symlink(&path) => {}
                Err(e) => unreadable.push((path, e)),
            }
        }
        Ok(())
    }
}

fn is_regular(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file())
}

fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(dir: &Path, pattern: &str) -> FileGroup {
        FileGroup {
            name: "f1".into(),
            dir: dir.to_owned(),
            pattern: pattern.into(),
            headers: Vec::new(),
        }
    }

    #[test]
    fn matches_whole_names_of_regular_files_only() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a.log", "b.log", "a.log.1", "x.log.gz"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        std::fs::create_dir(dir.path().join("d.log")).unwrap();
        let m = Matcher::new(0, &group(dir.path(), r".*\.log")).unwrap();
        let mut found = Vec::new();
        m.scan(&mut found, &mut Vec::new()).unwrap();
        let mut names: Vec<_> = found
            .iter()
            .map(|f| f.path.file_name().unwrap().to_str().unwrap().to_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["a.log", "b.log"]);
        assert!(m.matches(&dir.path().join("c.log")));
        assert!(!m.matches(&dir.path().join("c.log.1")));
    }

    #[test]
    fn a_missing_directory_matches_nothing() {
        let m = Matcher::new(0, &group(Path::new("/nonexistent/spate/dir"), ".*")).unwrap();
        let mut found = Vec::new();
        m.scan(&mut found, &mut Vec::new()).unwrap();
        assert!(found.is_empty());
    }

    #[test]
    fn a_symlink_loop_or_dangling_link_is_named_and_hides_no_other_file() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..30 {
            std::fs::write(dir.path().join(format!("{i:02}.log")), b"x").unwrap();
        }
        std::os::unix::fs::symlink("loop-b.log", dir.path().join("loop-a.log")).unwrap();
        std::os::unix::fs::symlink("loop-a.log", dir.path().join("loop-b.log")).unwrap();
        std::os::unix::fs::symlink("gone", dir.path().join("dangling.log")).unwrap();
        let m = Matcher::new(0, &group(dir.path(), r".*\.log")).unwrap();
        let (mut found, mut unreadable) = (Vec::new(), Vec::new());
        m.scan(&mut found, &mut unreadable).unwrap();
        assert_eq!(found.len(), 30, "every regular file is found");
        let mut names: Vec<String> = unreadable
            .iter()
            .map(|(p, _)| p.file_name().unwrap().to_str().unwrap().to_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["dangling.log", "loop-a.log", "loop-b.log"]);
    }
}
