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

use crate::config::FileGroup;
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
    /// that vanish during the scan are skipped.
    pub fn scan(&self, out: &mut Vec<Found>) -> io::Result<()> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
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
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

fn is_regular(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file())
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
        m.scan(&mut found).unwrap();
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
        m.scan(&mut found).unwrap();
        assert!(found.is_empty());
    }
}
