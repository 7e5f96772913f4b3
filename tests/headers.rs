//! Headers: what TAILDIR adds to each event (`fileHeader`, `headers.<group>.<key>`,
//! `byteOffsetHeader`) reaches the sink. The tcp sink writes bodies only, so these tests run
//! Flume's `logger` sink, which logs every event with its headers, and read the agent's stderr.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::time::Duration;

use common::{line, logged_events, prefill, Agent, Dirs, LoggedEvent, Pipeline};

const T: Duration = Duration::from_secs(60);

both_backends!(
    file_and_group_headers_are_set_per_file,
    file_header_key_names_the_file_header,
    byte_offset_header_is_each_line_offset_in_its_file,
);

/// Waits until the agent has logged `n` events; returns them.
fn expect_logged(agent: &Agent, n: usize) -> Vec<LoggedEvent> {
    let mut events = Vec::new();
    let done = common::wait_until(T, || {
        events = logged_events(&agent.stderr());
        events.len() >= n
    });
    assert!(
        done,
        "expected {n} logged events within {T:?}, got {}\n{}",
        events.len(),
        agent.diagnostics()
    );
    events
}

/// Two file groups in one directory, `f1` (`a.log`) and `f2` (`b.log`), each with its own
/// static headers.
fn two_groups(dirs: &Dirs) -> Pipeline {
    let logs = dirs.logs();
    Pipeline::to_logger(&logs, "a\\.log", &dirs.pos())
        .set("sources.r1.filegroups", "f1 f2")
        .set(
            "sources.r1.filegroups.f2",
            &format!("{}/b\\.log", logs.display()),
        )
        .set("sources.r1.headers.f1.service", "billing")
        .set("sources.r1.headers.f1.team", "payments")
        .set("sources.r1.headers.f2.service", "search")
}

/// `fileHeader = true` (default key `file`) and `headers.<group>.<key>`: every event carries
/// the absolute path of its file and the static headers of its file's group, and nothing else.
fn file_and_group_headers_are_set_per_file(backend: &str) {
    let dirs = Dirs::new();
    prefill(&dirs.log("a.log"), 0, 50, 40);
    let mut agent = two_groups(&dirs)
        .set("sources.r1.fileHeader", "true")
        .start(backend);
    // Appended after start too, in a second batch of each file.
    prefill(&dirs.log("b.log"), 100, 50, 40);
    prefill(&dirs.log("a.log"), 50, 50, 40);
    expect_logged(&agent, 150);
    agent.stop();
    let events = logged_events(&agent.stderr());
    assert_eq!(events.len(), 150, "{}", agent.diagnostics());

    let a = dirs.log("a.log").display().to_string();
    let b = dirs.log("b.log").display().to_string();
    let mut seen = BTreeMap::new();
    for e in &events {
        let seq = e.seq().unwrap_or_else(|| panic!("not a test line: {e:?}"));
        let want: &[(&str, &str)] = if seq < 100 {
            &[("service", "billing"), ("team", "payments"), ("file", &a)]
        } else {
            &[("service", "search"), ("file", &b)]
        };
        let mut got: Vec<(&str, &str)> = e
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        got.sort();
        let mut want = want.to_vec();
        want.sort();
        assert_eq!(got, want, "headers of line {seq}");
        assert_eq!(e.body, line(seq, 40)[..39], "body of line {seq}");
        *seen.entry(seq).or_insert(0) += 1;
    }
    assert!(
        seen.len() == 150 && seen.values().all(|&n| n == 1),
        "each line once"
    );
}

/// `fileHeaderKey` renames the file header; without `fileHeader` there is none.
fn file_header_key_names_the_file_header(backend: &str) {
    let dirs = Dirs::new();
    prefill(&dirs.log("a.log"), 0, 10, 40);
    prefill(&dirs.log("b.log"), 10, 10, 40);
    let mut agent = two_groups(&dirs)
        .set("sources.r1.fileHeader", "true")
        .set("sources.r1.fileHeaderKey", "path")
        .start(backend);
    let events = expect_logged(&agent, 20);
    agent.stop();
    for e in &events {
        let seq = e.seq().expect("a test line");
        let file = if seq < 10 { "a.log" } else { "b.log" };
        assert_eq!(
            e.header("path"),
            Some(dirs.log(file).display().to_string().as_str()),
            "{e:?}"
        );
        assert_eq!(
            e.header("file"),
            None,
            "the default key is not set as well: {e:?}"
        );
    }

    // Without fileHeader (the default), fileHeaderKey alone adds nothing.
    let dirs = Dirs::new();
    prefill(&dirs.log("a.log"), 0, 10, 40);
    let mut agent = two_groups(&dirs)
        .set("sources.r1.fileHeaderKey", "path")
        .start(backend);
    let events = expect_logged(&agent, 10);
    agent.stop();
    for e in &events {
        assert_eq!(
            e.headers,
            [
                ("service".to_owned(), "billing".to_owned()),
                ("team".to_owned(), "payments".to_owned())
            ],
            "{e:?}"
        );
    }
}

/// `byteOffsetHeader = true`: each event's `byteoffset` is where its line begins in its file.
/// Lines of every length (empty ones too) in two files, over many small batches, appended while
/// the agent runs and across a restart, where the offsets must go on from the recorded
/// position, not from 0.
fn byte_offset_header_is_each_line_offset_in_its_file(backend: &str) {
    let dirs = Dirs::new();
    let pipeline = two_groups(&dirs)
        .set("sources.r1.byteOffsetHeader", "true")
        .set("sources.r1.fileHeader", "true")
        .set("sources.r1.batchSize", "7");
    // Lines `from..from + n`: 19 to 91 bytes, and every tenth one empty.
    let write = |name: &str, from: u64, n: u64| {
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dirs.log(name))
            .unwrap();
        for seq in from..from + n {
            let l = match seq % 10 {
                3 => b"\n".to_vec(),
                _ => line(seq, 19 + (seq as usize * 7) % 73),
            };
            f.write_all(&l).unwrap();
        }
    };
    write("a.log", 0, 100);
    let mut agent = pipeline.start(backend);
    write("b.log", 1_000, 100);
    write("a.log", 100, 100);
    let mut events = expect_logged(&agent, 300);
    agent.stop();
    // Written while the agent is down, delivered after the restart.
    write("a.log", 200, 50);
    write("b.log", 1_100, 50);
    let mut agent = pipeline.start(backend);
    events.extend(expect_logged(&agent, 100));
    agent.stop();
    assert_eq!(events.len(), 400);

    for name in ["a.log", "b.log"] {
        let path = dirs.log(name).display().to_string();
        let content = fs::read(dirs.log(name)).unwrap();
        let starts: Vec<u64> = std::iter::once(0)
            .chain(
                content
                    .iter()
                    .enumerate()
                    .filter(|&(_, &b)| b == b'\n')
                    .map(|(i, _)| i as u64 + 1),
            )
            .filter(|&i| i < content.len() as u64)
            .collect();
        let mut offsets = Vec::new();
        for e in events.iter().filter(|e| e.header("file") == Some(&path)) {
            let offset: u64 = e
                .header("byteoffset")
                .unwrap_or_else(|| panic!("no byteoffset: {e:?}"))
                .parse()
                .unwrap();
            let at = &content[offset as usize..];
            let len = at.iter().position(|&b| b == b'\n').unwrap();
            assert_eq!(
                e.body,
                at[..len],
                "{name}: the body is not the line at byteoffset {offset}"
            );
            offsets.push(offset);
        }
        assert_eq!(offsets, starts, "{name}: one event per line, in order");
    }
}
