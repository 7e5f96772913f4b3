//! A reader for Java `.properties` text, the format of Flume agent configuration files.
//!
//! It follows `java.util.Properties.load`: `key = value`, `key=value`, `key: value` and
//! `key value`; `#` and `!` comment lines; a line ending in an odd number of backslashes continues
//! on the next line (whose leading whitespace is dropped); escapes `\t`, `\n`, `\r`, `\f`,
//! `\uXXXX`, and `\c` for any other `c` meaning `c` itself (so `\.` is just `.`: a regular
//! expression that needs a literal dot must be written `\\.`). Like Flume, values are trimmed
//! of trailing whitespace. Each entry keeps the line its logical line starts on.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::error::ConfigError;

/// One `key = value` pair and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The unescaped key.
    pub key: String,
    /// The unescaped value, trailing whitespace removed.
    pub value: String,
    /// The file the pair was read from, if any.
    pub file: Option<PathBuf>,
    /// The 1-based line the pair starts on.
    pub line: usize,
    /// The value could not be read (bytes that are not UTF-8, a malformed escape, an unset
    /// `${env:NAME}`): its error is reported, and the key is known to be set, so that nothing
    /// else is reported about it (a missing key, an invalid value, a component not configured).
    pub broken: bool,
}

/// Whitespace as `java.util.Properties` sees it.
fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\x0c')
}

/// Parses `text` into entries in file order (duplicates kept; see [`merge`]), plus the errors for
/// lines that could not be read (a malformed `\uXXXX` escape, bytes that are not UTF-8).
///
/// The text is UTF-8. A comment line may hold any bytes (a Latin-1 comment is common in old
/// files); anywhere else, a byte that is not UTF-8 is an error naming its line and column.
pub(crate) fn parse(text: &[u8], file: Option<&Path>) -> (Vec<Entry>, Vec<ConfigError>) {
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    let mut lines = text
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .enumerate();
    while let Some((index, raw)) = lines.next() {
        let start = trim_ws_start(raw);
        if start.is_empty() || start[0] == b'#' || start[0] == b'!' {
            continue;
        }
        let line = index + 1;
        // Join continuation lines: an odd number of trailing backslashes escapes the newline.
        let mut logical = String::new();
        // The first bad byte: its line, the line's indent, the piece of it after the indent.
        let mut not_utf8: Option<(usize, usize, &[u8], std::str::Utf8Error)> = None;
        let mut piece = start;
        let mut piece_line = line;
        let mut indent = raw.len() - start.len();
        loop {
            match std::str::from_utf8(piece) {
                Ok(s) => logical.push_str(s),
                Err(e) => {
                    not_utf8.get_or_insert((piece_line, indent, piece, e));
                    logical.push_str(&String::from_utf8_lossy(piece));
                }
            }
            if !ends_with_odd_backslashes(piece) {
                break;
            }
            logical.pop();
            match lines.next() {
                Some((i, next)) => {
                    piece = trim_ws_start(next);
                    piece_line = i + 1;
                    indent = next.len() - piece.len();
                }
                None => break,
            }
        }
        let (raw_key, raw_value) = split_key_value(&logical);
        if let Some((at, indent, bytes, e)) = not_utf8 {
            let column = indent + e.valid_up_to() + 1;
            let err = ConfigError::new(format!(
                "byte 0x{:02X} at column {column} is not UTF-8",
                bytes[e.valid_up_to()]
            ))
            .located(file, Some(at))
            .hint(
                "spate reads configuration files as UTF-8 (other bytes are accepted in comments \
                 only): save the file as UTF-8 (for example with `iconv -f ISO-8859-1 -t UTF-8`), \
                 or write the character as `\\u` and 4 hex digits",
            );
            match unescape(raw_key) {
                Ok(k) if !k.contains('\u{FFFD}') => {
                    let key = k.trim().to_string();
                    errors.push(err.key(key.clone()));
                    entries.push(Entry {
                        key,
                        value: String::new(),
                        file: file.map(Path::to_path_buf),
                        line,
                        broken: true,
                    });
                }
                _ => errors.push(err),
            }
            continue;
        }
        let located = |msg: String| {
            ConfigError::new(msg).located(file, Some(line)).hint(
                "write a backslash as `\\\\` and a character as `\\u` followed by 4 hex digits",
            )
        };
        let key = match unescape(raw_key) {
            Ok(k) => k.trim().to_string(),
            Err(msg) => {
                errors.push(located(msg));
                continue;
            }
        };
        let (value, broken) = match unescape(raw_value) {
            Ok(value) => (value.trim_end().to_string(), false),
            Err(msg) => {
                errors.push(located(msg).key(key.clone()));
                (String::new(), true)
            }
        };
        entries.push(Entry {
            key,
            value,
            file: file.map(Path::to_path_buf),
            line,
            broken,
        });
    }
    (entries, errors)
}

/// `line` without its leading whitespace.
fn trim_ws_start(line: &[u8]) -> &[u8] {
    let n = line
        .iter()
        .take_while(|&&b| matches!(b, b' ' | b'\t' | b'\x0c'))
        .count();
    &line[n..]
}

fn ends_with_odd_backslashes(s: &[u8]) -> bool {
    s.iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 1
}

/// Splits a logical line (still escaped) at the first unescaped `=`, `:` or whitespace.
fn split_key_value(line: &str) -> (&str, &str) {
    let mut chars = line.char_indices();
    let mut key_end = line.len();
    let mut sep = None;
    while let Some((i, c)) = chars.next() {
        if c == '\\' {
            chars.next();
        } else if c == '=' || c == ':' || is_ws(c) {
            key_end = i;
            sep = Some(c);
            break;
        }
    }
    let key = &line[..key_end];
    let Some(sep) = sep else { return (key, "") };
    let mut rest = line[key_end + sep.len_utf8()..].trim_start_matches(is_ws);
    if is_ws(sep) {
        if let Some(r) = rest.strip_prefix(['=', ':']) {
            rest = r.trim_start_matches(is_ws);
        }
    }
    (key, rest)
}

/// Resolves backslash escapes. A malformed `\uXXXX` is an error, as in Java.
fn unescape(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    let mut pending_high: Option<u16> = None;
    while let Some(c) = chars.next() {
        if c != '\\' {
            flush_surrogate(&mut out, &mut pending_high);
            out.push(c);
            continue;
        }
        let Some(e) = chars.next() else { break };
        if e != 'u' {
            flush_surrogate(&mut out, &mut pending_high);
        }
        match e {
            't' => out.push('\t'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            'f' => out.push('\x0c'),
            'u' => {
                let hex: String = chars.by_ref().take(4).collect();
                let code = (hex.len() == 4 && hex.chars().all(|h| h.is_ascii_hexdigit()))
                    .then(|| u16::from_str_radix(&hex, 16).ok())
                    .flatten()
                    .ok_or_else(|| format!("malformed \\uXXXX escape `\\u{hex}`"))?;
                match (pending_high.take(), code) {
                    (Some(high), 0xDC00..=0xDFFF) => {
                        out.extend(
                            char::decode_utf16([high, code]).map(|r| r.unwrap_or('\u{FFFD}')),
                        );
                    }
                    (high, 0xD800..=0xDBFF) => {
                        if high.is_some() {
                            out.push('\u{FFFD}');
                        }
                        pending_high = Some(code);
                    }
                    (high, _) => {
                        if high.is_some() {
                            out.push('\u{FFFD}');
                        }
                        out.push(char::from_u32(u32::from(code)).unwrap_or('\u{FFFD}'));
                    }
                }
            }
            other => out.push(other),
        }
    }
    flush_surrogate(&mut out, &mut pending_high);
    Ok(out)
}

fn flush_surrogate(out: &mut String, pending: &mut Option<u16>) {
    if pending.take().is_some() {
        out.push('\u{FFFD}');
    }
}

/// Merges entries so that each key appears once: a later entry replaces an earlier one with the
/// same key (value, file and line), keeping the earlier one's position. A key set twice in one
/// file gets a warning naming both lines (whose key starts with `prefix`: the agent's); across
/// files, replacing is what several files are for.
pub(crate) fn merge(
    entries: impl IntoIterator<Item = Entry>,
    prefix: &str,
) -> (Vec<Entry>, Vec<ConfigError>) {
    let mut out: Vec<Entry> = Vec::new();
    let mut warnings = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for e in entries {
        match index.get(&e.key) {
            Some(&i) => {
                let first = &out[i];
                if first.file == e.file && e.key.starts_with(prefix) {
                    warnings.push(
                        ConfigError::at(
                            &e,
                            format!(
                                "set twice in this file: line {} replaces line {}, as in Flume",
                                e.line, first.line
                            ),
                        )
                        .hint("remove one of the two lines")
                        .warning(),
                    );
                }
                out[i] = e;
            }
            None => {
                index.insert(e.key.clone(), out.len());
                out.push(e);
            }
        }
    }
    (out, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(text: &str) -> Vec<(String, String, usize)> {
        let (entries, errors) = parse(text.as_bytes(), None);
        assert!(errors.is_empty(), "{errors:?}");
        entries
            .into_iter()
            .map(|e| (e.key, e.value, e.line))
            .collect()
    }

    fn one(k: &str, v: &str, line: usize) -> (String, String, usize) {
        (k.to_string(), v.to_string(), line)
    }

    #[test]
    fn separators_comments_and_blank_lines() {
        let text =
            "# comment\n! also comment\n\n  a = 1\nb=2\nc: 3\nd 4\ne\n f =  spaced value  \t\n";
        assert_eq!(
            kv(text),
            vec![
                one("a", "1", 4),
                one("b", "2", 5),
                one("c", "3", 6),
                one("d", "4", 7),
                one("e", "", 8),
                one("f", "spaced value", 9),
            ]
        );
    }

    #[test]
    fn whitespace_then_separator() {
        assert_eq!(kv("a  :  x=y\n"), vec![one("a", "x=y", 1)]);
        assert_eq!(kv("a = = b\n"), vec![one("a", "= b", 1)]);
    }

    #[test]
    fn continuation_lines() {
        let text = "a = one \\\n    two \\\n   three\nb = x\\\\\nc = y\n";
        assert_eq!(
            kv(text),
            vec![
                one("a", "one two three", 1),
                one("b", "x\\", 4),
                one("c", "y", 5)
            ]
        );
        // A comment line does not continue.
        assert_eq!(kv("# c \\\na = 1\n"), vec![one("a", "1", 2)]);
        // A backslash on the last line just ends it.
        assert_eq!(kv("a = 1\\"), vec![one("a", "1", 1)]);
    }

    #[test]
    fn escapes() {
        let text = "a = tab\\there\nb = n\\nl\\n\nc = \\u0041\\u00e9\nd = \\.\\\\.\ne\\ key = v\nf\\=g = h\n";
        assert_eq!(
            kv(text),
            vec![
                one("a", "tab\there", 1),
                one("b", "n\nl", 2),
                one("c", "Aé", 3),
                one("d", ".\\.", 4),
                one("e key", "v", 5),
                one("f=g", "h", 6),
            ]
        );
        assert_eq!(kv("s = \\uD83D\\uDE00\n"), vec![one("s", "\u{1F600}", 1)]);
    }

    #[test]
    fn malformed_unicode_escape_is_an_error() {
        let (entries, errors) = parse(b"a = 1\nb = \\u12G4\n", Some(Path::new("x.properties")));
        // `b` is known to be set, to a value that could not be read.
        let broken: Vec<_> = entries.iter().map(|e| (e.key.as_str(), e.broken)).collect();
        assert_eq!(broken, [("a", false), ("b", true)]);
        assert_eq!(errors.len(), 1);
        let msg = errors[0].to_string();
        assert!(
            msg.starts_with("x.properties:2: b: malformed \\uXXXX escape"),
            "{msg}"
        );
        assert!(errors[0].hint.is_some());
    }

    #[test]
    fn bytes_that_are_not_utf8_are_accepted_in_comments_only() {
        let file = Some(Path::new("x.properties"));
        // Latin-1 comments (`é` is 0xE9), one of them indented, are skipped whatever their bytes.
        let (entries, errors) = parse(b"# caf\xe9\n  ! \xe9t\xe9\na = 1\n", file);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(entries.len(), 1);

        // Elsewhere: an error at the line, naming the byte, its column and the key.
        let (entries, errors) = parse(b"a = 1\n  b = caf\xe9\nc = 3\n", file);
        let read: Vec<_> = entries.iter().map(|e| (e.key.as_str(), e.broken)).collect();
        assert_eq!(read, [("a", false), ("b", true), ("c", false)]);
        assert_eq!(errors.len(), 1);
        let e = &errors[0];
        assert_eq!((e.file.as_deref(), e.line), (file, Some(2)));
        assert_eq!(e.key.as_deref(), Some("b"));
        assert_eq!(e.message, "byte 0xE9 at column 10 is not UTF-8");
        assert!(e
            .hint
            .as_deref()
            .unwrap()
            .contains("save the file as UTF-8"));

        // In a key: no key is named. On a continuation line: that line is named.
        let (_, errors) = parse(b"\xff = 1\n", file);
        assert_eq!((errors[0].line, errors[0].key.as_deref()), (Some(1), None));
        let (entries, errors) = parse(b"a = x \\\n   # not a comment \xe9\nb = 2\n", file);
        assert_eq!(entries.iter().filter(|e| !e.broken).count(), 1);
        assert_eq!(errors[0].line, Some(2));
        assert_eq!(errors[0].message, "byte 0xE9 at column 20 is not UTF-8");
        assert_eq!(errors[0].key.as_deref(), Some("a"));
    }

    #[test]
    fn crlf_line_endings() {
        assert_eq!(
            kv("a = 1\r\nb = 2\r\n"),
            vec![one("a", "1", 1), one("b", "2", 2)]
        );
    }

    #[test]
    fn merge_later_wins_keeping_position() {
        let (entries, _) = parse(b"a = 1\nb = 2\na = 3\n", None);
        let (merged, warnings) = merge(entries, "");
        assert_eq!(warnings.len(), 1);
        assert_eq!(
            warnings[0].to_string(),
            "line 3: warning: a: set twice in this file: line 3 replaces line 1, as in Flume\n  \
             hint: remove one of the two lines"
        );
        assert_eq!(merged.len(), 2);
        assert_eq!(
            (
                merged[0].key.as_str(),
                merged[0].value.as_str(),
                merged[0].line
            ),
            ("a", "3", 3)
        );
        assert_eq!(merged[1].key, "b");
    }
}
