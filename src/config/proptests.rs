//! Property tests: valid configurations, mutated (bytes deleted, flipped or inserted, lines
//! duplicated, dropped, swapped or spliced, bytes that are not UTF-8, runs of thousands of
//! characters), are checked without a panic, in bounded time, and every error or warning says
//! where it is (file and line) in a bounded number of bytes.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;

const FILE: &str = "mutated.properties";

/// The configurations mutated: every component type and most keys, so that mutations reach
/// every check.
const SEEDS: [&str; 2] = [
    "\
# A pipeline with every kind of key
a1.sources = r1 r2
a1.channels = c1 c2
a1.sinks = k1 k2 k3
a1.sources.r1.type = TAILDIR
a1.sources.r1.channels = c1 c2
a1.sources.r1.positionFile = /var/lib/spate/pos.json
a1.sources.r1.filegroups = f1 f2
a1.sources.r1.filegroups.f1 = /var/log/app/.*\\\\.log
a1.sources.r1.filegroups.f2 = /var/log/db/x[0-9]+
a1.sources.r1.headers.f1.topic = app
a1.sources.r1.batchSize = 100
a1.sources.r1.idleTimeout = 1000
a1.sources.r1.maxLineLength = 4096
a1.sources.r1.lineOverflow = truncate
a1.sources.r1.readBufferSize = 65536
a1.sources.r1.shards = auto
a1.sources.r1.fileHeader = true
a1.sources.r2.type = org.apache.flume.source.taildir.TaildirSource
a1.sources.r2.channels = c2
a1.sources.r2.filegroups = g
a1.sources.r2.filegroups.g = ${env:HOME}/logs/.*
a1.sources.r2.positionFile = /var/lib/spate/pos2.json
a1.channels.c1.type = memory
a1.channels.c1.capacity = 1000
a1.channels.c1.transactionCapacity = 100
a1.channels.c1.byteCapacity = 1048576
a1.channels.c2.type = memory
a1.channels.c2.keep-alive = 1
a1.sinks.k1.type = tcp
a1.sinks.k1.channel = c1
a1.sinks.k1.hostname = collector
a1.sinks.k1.port = 5140
a1.sinks.k1.batch-size = 100
a1.sinks.k1.framing = octet-counting
a1.sinks.k2.type = logger
a1.sinks.k2.channel = c2
a1.sinks.k2.maxBytesToLog = 64
a1.sinks.k3.type = null
a1.sinks.k3.channel = c2
",
    "\
a1.sources : r1
a1.channels c1
a1.sinks=k1
a1.sources.r1.type = TAILDIR
a1.sources.r1.channels = c1
a1.sources.r1.positionFile = /var/lib/\\u0073pate/pos.json
a1.sources.r1.filegroups = f1 \\
                           f2
a1.sources.r1.filegroups.f1 = /var/log/app/.*\\\\.log
a1.sources.r1.filegroups.f2 = /var/log/app/x\\.log
a1.channels.c1.type = memory
a1.sinks.k1.type = logger
a1.sinks.k1.channel = c1
a2.sources = r9
a2.sources.r9.type = exec
",
];

/// One mutation; positions are taken modulo the length of what they apply to.
#[derive(Debug, Clone)]
enum Mutation {
    /// Removes up to `len` bytes at `at`.
    Delete { at: usize, len: usize },
    /// Inserts `bytes` at `at`.
    Insert { at: usize, bytes: Vec<u8> },
    /// XORs the byte at `at` with `mask`.
    Flip { at: usize, mask: u8 },
    /// Inserts `len` copies of `byte` at `at` (a runaway value or name).
    Run { at: usize, byte: u8, len: usize },
    /// Duplicates line `line` right after itself.
    DuplicateLine { line: usize },
    /// Removes line `line`.
    DeleteLine { line: usize },
    /// Swaps two lines.
    SwapLines { a: usize, b: usize },
    /// Replaces the key of line `a` with the key of line `b` (or its value with b's value).
    Splice { a: usize, b: usize, value: bool },
}

/// Bytes that matter to the parser, and some that are not UTF-8.
fn interesting_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        3 => prop::sample::select(
            b"=: \t\\\n\r#!.${}-u0aAfx1c_/*[(".to_vec()
        ),
        1 => prop::sample::select(vec![0x80u8, 0xC3, 0xE9, 0xFF, 0xFE, 0xEF, 0xBB, 0xBF, 0x00]),
        1 => any::<u8>(),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = any::<usize>();
    prop_oneof![
        (at, 1..40usize).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (at, prop::collection::vec(interesting_byte(), 1..12))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (at, 1..=255u8).prop_map(|(at, mask)| Mutation::Flip { at, mask }),
        (at, interesting_byte(), 1..20_000usize).prop_map(|(at, byte, len)| Mutation::Run {
            at,
            byte,
            len
        }),
        any::<usize>().prop_map(|line| Mutation::DuplicateLine { line }),
        any::<usize>().prop_map(|line| Mutation::DeleteLine { line }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines { a, b }),
        (any::<usize>(), any::<usize>(), any::<bool>())
            .prop_map(|(a, b, value)| Mutation::Splice { a, b, value }),
    ]
}

fn lines_of(text: &[u8]) -> Vec<Vec<u8>> {
    text.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect()
}

fn join(lines: Vec<Vec<u8>>) -> Vec<u8> {
    lines.join(&b'\n')
}

/// Splits a line at its first `=` (the mutations need no more than that).
fn key_value(line: &[u8]) -> (&[u8], &[u8]) {
    match line.iter().position(|&b| b == b'=') {
        Some(i) => (&line[..i], &line[i..]),
        None => (line, &[]),
    }
}

fn apply(text: &mut Vec<u8>, m: &Mutation) {
    let pos = |at: usize, len: usize| if len == 0 { 0 } else { at % (len + 1) };
    match m {
        Mutation::Delete { at, len } => {
            let start = pos(*at, text.len());
            let end = (start + len).min(text.len());
            text.drain(start..end);
        }
        Mutation::Insert { at, bytes } => {
            let at = pos(*at, text.len());
            text.splice(at..at, bytes.iter().copied());
        }
        Mutation::Flip { at, mask } => {
            if !text.is_empty() {
                let at = at % text.len();
                text[at] ^= mask;
            }
        }
        Mutation::Run { at, byte, len } => {
            let at = pos(*at, text.len());
            text.splice(at..at, std::iter::repeat_n(*byte, *len));
        }
        Mutation::DuplicateLine { line } => {
            let mut lines = lines_of(text);
            let i = line % lines.len();
            lines.insert(i, lines[i].clone());
            *text = join(lines);
        }
        Mutation::DeleteLine { line } => {
            let mut lines = lines_of(text);
            lines.remove(line % lines.len());
            *text = join(lines);
        }
        Mutation::SwapLines { a, b } => {
            let mut lines = lines_of(text);
            let n = lines.len();
            lines.swap(a % n, b % n);
            *text = join(lines);
        }
        Mutation::Splice { a, b, value } => {
            let mut lines = lines_of(text);
            let n = lines.len();
            let (a, b) = (a % n, b % n);
            let (ka, va) = key_value(&lines[a]);
            let (kb, vb) = key_value(&lines[b]);
            lines[a] = if *value {
                [ka, vb].concat()
            } else {
                [kb, va].concat()
            };
            *text = join(lines);
        }
    }
}

/// Everything reported about `text` read as file [`FILE`], for agent `a1`.
fn check(text: &[u8]) -> Vec<ConfigError> {
    let file = Path::new(FILE);
    let (entries, mut errors) = properties::parse(text, Some(file));
    let merged = merge(entries, "a1", &mut errors);
    match agent::build(merged, errors, "a1", None, &[PathBuf::from(FILE)]) {
        Ok(config) => {
            // What `spate check` prints must not panic either.
            assert!(config.describe().starts_with("agent a1\n"));
            config.warnings
        }
        Err(e) => {
            assert!(e.errors().next().is_some(), "Err without an error");
            e.0
        }
    }
}

/// The properties every report must have.
fn assert_reports(text: &[u8], reports: &[ConfigError]) -> Result<(), TestCaseError> {
    let lines = text.split(|&b| b == b'\n').count();
    for r in reports {
        let shown = r.to_string();
        prop_assert!(
            shown.len() <= 1200,
            "{} bytes: {}",
            shown.len(),
            &shown[..200]
        );
        prop_assert_eq!(r.file.as_deref(), Some(Path::new(FILE)), "{}", shown);
        // The one report about the whole file: no line of it is about the agent.
        if r.message.starts_with("no configuration for agent") {
            continue;
        }
        let line = r.line;
        prop_assert!(
            line.is_some_and(|l| (1..=lines).contains(&l)),
            "no line, or not one of the {} lines: {}",
            lines,
            shown
        );
    }
    Ok(())
}

fn config() -> ProptestConfig {
    // Modest, so that the file runs in seconds on two cores in a debug build; PROPTEST_CASES
    // asks for more.
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn mutated_configurations_are_reported_by_file_and_line(
        seed in 0..SEEDS.len(),
        mutations in prop::collection::vec(mutation(), 1..8),
    ) {
        let mut text = SEEDS[seed].as_bytes().to_vec();
        for m in &mutations {
            apply(&mut text, m);
        }
        let start = Instant::now();
        let reports = check(&text);
        let took = start.elapsed();
        assert_reports(&text, &reports)?;
        // A sanity bound (input is at most ~160 KB): checks are linear and hints are budgeted.
        prop_assert!(took < Duration::from_secs(5), "took {:?}", took);
        // The same input gives the same reports.
        prop_assert_eq!(check(&text), reports);
    }

    #[test]
    fn arbitrary_bytes_are_reported_by_file_and_line(
        text in prop::collection::vec(interesting_byte(), 0..400),
    ) {
        let reports = check(&text);
        assert_reports(&text, &reports)?;
    }
}

#[test]
fn the_seeds_are_valid() {
    for seed in SEEDS {
        let reports = check(seed.as_bytes());
        assert!(reports.is_empty(), "{}", ConfigErrors(reports));
    }
}
