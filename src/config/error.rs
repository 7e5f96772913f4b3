//! Configuration errors: each one says where (file, line, key), what is wrong and, when we can
//! tell, what to do about it.

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};

use super::properties::Entry;

/// Values longer than this many bytes are shortened in messages ([`shorten`]).
pub(crate) const MAX_SHOWN: usize = 80;

/// `text` as shown in a message: whole when short, else its first 60 characters, `…` and its
/// length, so that a runaway value (a file pasted into a line) does not flood the output.
pub(crate) fn shorten(text: &str) -> Cow<'_, str> {
    if text.len() <= MAX_SHOWN {
        return Cow::Borrowed(text);
    }
    let end = text.char_indices().nth(60).map_or(text.len(), |(i, _)| i);
    Cow::Owned(format!("{}… ({} bytes)", &text[..end], text.len()))
}

/// How serious a [`ConfigError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Severity {
    /// The agent does not start.
    #[default]
    Error,
    /// Something Flume ignores, and so does spate (an unknown key, a component configured but
    /// not listed, a key set twice): the agent starts, and says so in its log. `--strict` makes
    /// warnings refuse the start too.
    Warning,
}

/// One problem found in a configuration.
///
/// Displayed as `FILE:LINE: KEY: MESSAGE` (`FILE:LINE: warning: KEY: MESSAGE` for a warning),
/// followed by `\n  hint: HINT` when there is a hint. Parts that are `None` are left out (a line
/// without a file is shown as `line N`).
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    /// An error stops the start; a warning does not (unless `--strict`).
    pub severity: Severity,
    /// The file the offending key came from, when the configuration was read from a file.
    pub file: Option<PathBuf>,
    /// The 1-based line where the offending key starts.
    pub line: Option<usize>,
    /// The full property key, e.g. `a1.sources.r1.batchSize`.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
    /// What the user can do about it.
    pub hint: Option<String>,
}

impl ConfigError {
    /// An error with only a message.
    pub(crate) fn new(message: impl Into<String>) -> Self {
        ConfigError {
            severity: Severity::Error,
            file: None,
            line: None,
            key: None,
            message: message.into(),
            hint: None,
        }
    }

    /// An error located at `entry` (its file, line and key).
    pub(crate) fn at(entry: &Entry, message: impl Into<String>) -> Self {
        ConfigError {
            severity: Severity::Error,
            file: entry.file.clone(),
            line: Some(entry.line),
            key: Some(entry.key.clone()),
            message: message.into(),
            hint: None,
        }
    }

    /// Sets the location (file and line).
    pub(crate) fn located(mut self, file: Option<&Path>, line: Option<usize>) -> Self {
        self.file = file.map(Path::to_path_buf);
        self.line = line;
        self
    }

    /// Sets the key.
    pub(crate) fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Sets the hint.
    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Makes this a warning.
    pub(crate) fn warning(mut self) -> Self {
        self.severity = Severity::Warning;
        self
    }

    /// Whether this is a warning (the agent starts anyway).
    pub fn is_warning(&self) -> bool {
        self.severity == Severity::Warning
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{}:{line}: ", file.display())?,
            (Some(file), None) => write!(f, "{}: ", file.display())?,
            (None, Some(line)) => write!(f, "line {line}: ")?,
            (None, None) => {}
        }
        if self.is_warning() {
            f.write_str("warning: ")?;
        }
        if let Some(key) = &self.key {
            write!(f, "{}: ", shorten(key))?;
        }
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Every problem found in one pass over a configuration, sorted by file (in the order the files
/// were given) and line: the errors that stop the start, and the warnings found with them.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// The errors, without the warnings.
    pub fn errors(&self) -> impl Iterator<Item = &ConfigError> {
        self.0.iter().filter(|e| !e.is_warning())
    }

    /// The warnings.
    pub fn warnings(&self) -> impl Iterator<Item = &ConfigError> {
        self.0.iter().filter(|e| e.is_warning())
    }

    /// Sorts errors by the position of their file in `files` (unknown files last), then by line
    /// (errors without a line last, as they concern the whole agent).
    pub(crate) fn sorted(mut errors: Vec<ConfigError>, files: &[PathBuf]) -> Self {
        let rank = |e: &ConfigError| {
            let file = match &e.file {
                Some(f) => files.iter().position(|g| g == f).unwrap_or(files.len()),
                None => 0,
            };
            (file, e.line.unwrap_or(usize::MAX))
        };
        errors.sort_by_key(rank);
        ConfigErrors(errors)
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_all_parts() {
        let e = ConfigError::new("bad")
            .located(Some(Path::new("f.properties")), Some(3))
            .key("a1.x")
            .hint("fix it");
        assert_eq!(e.to_string(), "f.properties:3: a1.x: bad\n  hint: fix it");
    }

    #[test]
    fn display_of_a_warning() {
        let e = ConfigError::new("ignored")
            .located(Some(Path::new("f.properties")), Some(3))
            .key("a1.x")
            .warning();
        assert!(e.is_warning());
        assert_eq!(e.to_string(), "f.properties:3: warning: a1.x: ignored");
    }

    #[test]
    fn long_text_is_shortened() {
        assert_eq!(shorten("short"), "short");
        let exact = "x".repeat(MAX_SHOWN);
        assert_eq!(shorten(&exact), exact.as_str());
        let long = "é".repeat(100);
        assert_eq!(
            shorten(&long),
            format!("{}… (200 bytes)", "é".repeat(60)).as_str()
        );
    }

    #[test]
    fn display_omits_missing_parts() {
        assert_eq!(ConfigError::new("bad").to_string(), "bad");
        let e = ConfigError::new("bad").located(None, Some(7));
        assert_eq!(e.to_string(), "line 7: bad");
        let e = ConfigError::new("bad")
            .located(Some(Path::new("f")), None)
            .key("k");
        assert_eq!(e.to_string(), "f: k: bad");
    }

    #[test]
    fn errors_sorted_by_file_then_line() {
        let files = vec![PathBuf::from("b"), PathBuf::from("a")];
        let errs = ConfigErrors::sorted(
            vec![
                ConfigError::new("3").located(Some(Path::new("a")), Some(1)),
                ConfigError::new("4").located(Some(Path::new("a")), None),
                ConfigError::new("2").located(Some(Path::new("b")), Some(9)),
                ConfigError::new("1").located(Some(Path::new("b")), Some(2)),
            ],
            &files,
        );
        let order: Vec<_> = errs.0.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(order, ["1", "2", "3", "4"]);
        assert_eq!(errs.to_string().lines().count(), 4);
    }
}
