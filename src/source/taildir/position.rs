//! The position file: where reading resumes after a restart.
//!
//! The file keeps Flume's format, a JSON array of `{"inode":N,"pos":N,"file":"/abs/path"}`, so a
//! host can move from Flume to spate and back without re-sending or losing data. Flume's reader
//! rejects any other key in those objects, so what spate knows beyond that (the device and a
//! fingerprint of each file's first bytes, which detect inode reuse) lives in a sidecar,
//! `<positionFile>.spate`; without it (a position file written by Flume) inodes are trusted, as
//! Flume trusts them.
//!
//! Both files are written atomically: a temporary file in the same directory, `fdatasync`, then
//! `rename`. A crash leaves either the old or the new content, never a torn one.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One entry of Flume's position file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Inode of the file.
    pub inode: u64,
    /// Offset up to which every line was delivered.
    pub pos: u64,
    /// Path of the file when the entry was written.
    pub file: String,
}

/// What the sidecar records about a file, beyond Flume's entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Inode, the key shared with the position entry.
    pub inode: u64,
    /// Device holding the file.
    pub dev: u64,
    /// Fingerprint of the file's first bytes.
    #[serde(flatten)]
    pub fingerprint: Fingerprint,
}

/// A hash of a file's first `len` bytes (at most [`Fingerprint::MAX_LEN`]). Two files with the
/// same inode but different fingerprints are different files: the inode was reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// Number of bytes hashed.
    #[serde(rename = "fp_len")]
    pub len: u32,
    /// FNV-1a 64 of those bytes.
    #[serde(rename = "fp")]
    pub hash: u64,
}

impl Fingerprint {
    /// Bytes hashed at most.
    pub const MAX_LEN: usize = 256;

    /// The fingerprint of `prefix` (the file's first bytes, at most [`Self::MAX_LEN`]).
    pub fn of(prefix: &[u8]) -> Self {
        let prefix = &prefix[..prefix.len().min(Self::MAX_LEN)];
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in prefix {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        Fingerprint {
            len: prefix.len() as u32,
            hash,
        }
    }
}

/// The position file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PositionError {
    /// Reading failed.
    #[error("cannot read position file {path}: {source}")]
    Io {
        /// The position file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The content is not a position file.
    #[error(
        "position file {path} is not valid: {source}. Fix it, or move it away to start over \
         (files are then read from the start, or from the end with skipToEnd = true)"
    )]
    Invalid {
        /// The position file.
        path: PathBuf,
        /// The parse error, with line and column.
        source: serde_json::Error,
    },
}

/// Positions loaded at start, keyed by inode, with the sidecar's identities where present.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Flume's entries by inode.
    pub positions: HashMap<u64, Position>,
    /// spate's identities by inode.
    pub identities: HashMap<u64, Identity>,
}

/// Reads the position file and its sidecar. A missing file means no positions yet.
pub fn load(path: &Path) -> Result<Loaded, PositionError> {
    let positions: Vec<Position> = read_json(path)?.unwrap_or_default();
    let identities: Vec<Identity> = read_json(&sidecar_path(path))?.unwrap_or_default();
    Ok(Loaded {
        positions: positions.into_iter().map(|p| (p.inode, p)).collect(),
        identities: identities.into_iter().map(|i| (i.inode, i)).collect(),
    })
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, PositionError> {
    match fs::read(path) {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(None),
        Ok(bytes) => {
            serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| PositionError::Invalid {
                    path: path.to_owned(),
                    source,
                })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(PositionError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Writes the position file and its sidecar atomically, creating the directory if needed.
pub fn save(path: &Path, positions: &[Position], identities: &[Identity]) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    // Sidecar first: an identity without a position is harmless, a position whose identity is
    // stale would not be.
    write_atomic(&sidecar_path(path), &serde_json::to_vec(identities)?)?;
    write_atomic(path, &serde_json::to_vec(positions)?)
}

/// The sidecar's path: `<positionFile>.spate`.
pub fn sidecar_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".spate");
    PathBuf::from(name)
}

fn write_atomic(path: &Path, content: &[u8]) -> io::Result<()> {
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    let mut file = fs::File::create(&tmp)?;
    file.write_all(content)?;
    file.sync_data()?;
    drop(file);
    fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_position_file_written_by_flume() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("taildir_position.json");
        fs::write(
            &path,
            r#"[{"inode":2496001,"pos":1234,"file":"/var/log/test1/example.log"},{"inode":2496002,"pos":0,"file":"/var/log/test2/a.log"}]"#,
        )
        .unwrap();
        let loaded = load(&path).unwrap();
        assert_eq!(loaded.positions[&2496001].pos, 1234);
        assert_eq!(
            loaded.positions[&2496002].file,
            "/var/log/test2/a.log".to_string()
        );
        assert!(loaded.identities.is_empty(), "no sidecar: inodes trusted");
    }

    #[test]
    fn writes_exactly_flumes_keys_and_round_trips_with_the_sidecar() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/pos.json");
        let positions = vec![Position {
            inode: 7,
            pos: 99,
            file: "/logs/a.log".into(),
        }];
        let identities = vec![Identity {
            inode: 7,
            dev: 64769,
            fingerprint: Fingerprint::of(b"first line\n"),
        }];
        save(&path, &positions, &identities).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text, r#"[{"inode":7,"pos":99,"file":"/logs/a.log"}]"#);
        let loaded = load(&path).unwrap();
        assert_eq!(loaded.positions[&7], positions[0]);
        assert_eq!(loaded.identities[&7], identities[0]);
        assert!(!sidecar_path(&path).with_extension("spate.tmp").exists());
    }

    #[test]
    fn a_corrupt_position_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pos.json");
        fs::write(&path, "[{\"inode\":1,").unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(
            err.contains("pos.json") && err.contains("not valid"),
            "{err}"
        );
        assert!(err.contains("line 1"), "{err}");
    }

    #[test]
    fn fingerprint_covers_only_the_prefix() {
        let long = vec![b'a'; 1000];
        assert_eq!(Fingerprint::of(&long), Fingerprint::of(&long[..256]));
        assert_ne!(Fingerprint::of(b"abc"), Fingerprint::of(b"abd"));
        assert_eq!(Fingerprint::of(&long).len, 256);
    }
}
