//! End to end: `prefill` writes a file, `recv` listens on a free port, the test (or `send`)
//! streams the file, and the JSON report must account for every line.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;

use common::{loadgen, u, Recv, BIN};

fn prefill(file: &Path, lines: u64, size: usize, extra: &[&str]) -> Vec<u8> {
    let (lines, size) = (lines.to_string(), size.to_string());
    let mut args = vec![
        "prefill",
        "--file",
        file.to_str().unwrap(),
        "--lines",
        &lines,
    ];
    args.extend(["--size", &size]);
    args.extend(extra);
    let report = loadgen(&args);
    assert_eq!(report["lines"].to_string(), lines);
    fs::read(file).unwrap()
}

#[test]
fn prefilled_file_arrives_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.log");
    let data = prefill(&file, 100_000, 128, &["--stream", "7"]);
    assert_eq!(data.len(), 12_800_000);

    let recv = Recv::start(&["--expect", "100000", "--report-every", "0.5"]);
    let mut socket = recv.connect();
    // Uneven writes so that lines straddle the receiver's reads.
    for part in data.chunks(100_003) {
        socket.write_all(part).unwrap();
    }
    let r = recv.finish();

    assert_eq!(r["stopped_by"], "expect", "{r}");
    assert_eq!(u(&r, "lines"), 100_000);
    assert_eq!(u(&r, "unique"), 100_000);
    assert_eq!(u(&r, "bytes"), 12_800_000);
    for key in ["missing", "duplicates", "out_of_order", "malformed"] {
        assert_eq!(u(&r, key), 0, "{key} in {r}");
    }
    assert_eq!(u(&r, "connections"), 1);
    assert!(r["seconds"].as_f64().unwrap() > 0.0);
    assert!(r["events_per_sec"].as_f64().unwrap() > 0.0);
    let s = &r["streams"]["7"];
    assert_eq!((u(s, "min_seq"), u(s, "max_seq")), (0, 99_999));
    assert_eq!(u(s, "bytes"), 12_800_000);
}

#[test]
fn duplicates_gaps_and_cut_lines_across_connections() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first.log");
    let second = dir.path().join("second.log");
    prefill(&first, 600, 100, &["--stream", "1"]);
    let mut data = prefill(&second, 500, 100, &["--stream", "1", "--start-seq", "500"]);
    // Drop line 700 and end on half a line.
    data.drain(200 * 100..201 * 100);
    data.extend_from_within(..50);

    let recv = Recv::start(&["--idle-timeout", "2"]);
    let sent = loadgen(&[
        "send",
        "--file",
        first.to_str().unwrap(),
        "--addr",
        &recv.addr,
    ]);
    assert_eq!(u(&sent, "bytes"), 60_000);
    recv.connect().write_all(&data).unwrap();
    let r = recv.finish();

    assert_eq!(r["stopped_by"], "idle", "{r}");
    assert_eq!(u(&r, "connections"), 2);
    assert_eq!(u(&r, "lines"), 600 + 499, "{r}");
    assert_eq!(u(&r, "unique"), 999);
    assert_eq!(u(&r, "duplicates"), 100);
    assert_eq!(u(&r, "missing"), 1);
    assert_eq!(u(&r, "malformed"), 1, "the cut line");
    assert_eq!(u(&r, "bytes"), 60_000 + 49_950);
    assert_eq!(u(&r["streams"]["1"], "max_seq"), 999);
}

#[test]
fn octet_counting_framing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.log");
    let data = prefill(&file, 10_000, 200, &[]);
    let mut framed = Vec::new();
    for line in data.chunks(200) {
        framed.extend_from_slice(b"199 ");
        framed.extend_from_slice(&line[..199]);
    }

    let recv = Recv::start(&["--framing", "octet-counting", "--expect", "10000"]);
    let mut socket = recv.connect();
    for part in framed.chunks(4099) {
        socket.write_all(part).unwrap();
    }
    let r = recv.finish();

    assert_eq!(r["stopped_by"], "expect", "{r}");
    assert_eq!(u(&r, "unique"), 10_000);
    assert_eq!(u(&r, "malformed"), 0);
    assert_eq!(u(&r, "missing"), 0);
    assert_eq!(u(&r, "bytes"), framed.len() as u64);
}

#[test]
fn bad_arguments_fail_with_a_message() {
    let out = Command::new(BIN)
        .args(["prefill", "--file", "/nonexistent-dir/x", "--lines", "1"])
        .args(["--size", "32"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("at least 43 bytes"), "{err}");
}

/// The in-process receiver that scenarios use: live counts, a collector outage on demand
/// (listener and connections closed, then listening again on the same port), and the report.
#[test]
fn handle_pauses_like_a_collector_outage_and_resumes_on_the_same_port() {
    use spate_loadgen::recv::RecvHandle;
    use std::time::{Duration, Instant};

    let handle = RecvHandle::spawn(in_process(0)).unwrap();
    let addr = handle.addr();
    let lines = |from: u64, to: u64| {
        let mut buf = Vec::new();
        for seq in from..to {
            spate_loadgen::line::format_line(
                &mut buf,
                seq,
                spate_loadgen::prefill::now_ns(),
                0,
                100,
            );
        }
        buf
    };
    let wait_for = |what: &str, cond: &dyn Fn(&spate_loadgen::recv::LiveCounts) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let s = handle.sample();
            if cond(&s.counts) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {:?}",
                s.counts
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    };

    let mut first = TcpStream::connect(addr).unwrap();
    first.write_all(&lines(0, 1000)).unwrap();
    let s = wait_for("1000 lines", &|c| c.unique == 1000);
    assert_eq!(s.interval.len(), 1000, "every unique line has a latency");

    handle.pause();
    wait_for("the pause", &|c| c.paused && c.open_connections == 0);
    // The open connection was closed by the receiver, and new ones are refused.
    let mut byte = [0u8; 1];
    first
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    assert!(matches!(first.read(&mut byte), Ok(0) | Err(_)));
    assert!(TcpStream::connect(addr).is_err(), "refused while paused");

    handle.resume();
    wait_for("the resume", &|c| !c.paused);
    let mut second = TcpStream::connect(addr).unwrap();
    // A redelivery of the last 100 lines, then new ones.
    second.write_all(&lines(900, 2000)).unwrap();
    drop(second);
    let s = wait_for("2000 lines", &|c| c.unique == 2000);
    assert_eq!(s.interval.len(), 1000);

    let report = handle.finish().unwrap();
    assert_eq!(
        (report.unique, report.duplicates, report.missing),
        (2000, 100, 0)
    );
    assert_eq!(report.connections, 2);
    assert_eq!(report.stopped_by, "finish");
    let latency = report.latency.unwrap();
    assert_eq!(latency.count, 2000);
    assert!(latency.max_ms < 10_000.0, "{latency:?}");
}

/// With a low-water mark far above what arrives, the lines of an open, quiet connection are
/// still counted: the receiver sweeps up what the kernel does not report.
#[test]
fn lines_below_the_low_water_mark_are_still_received() {
    use spate_loadgen::recv::RecvHandle;
    use std::time::{Duration, Instant};

    let handle = RecvHandle::spawn(in_process(1 << 20)).unwrap();
    let mut buf = Vec::new();
    for seq in 0..10 {
        spate_loadgen::line::format_line(&mut buf, seq, spate_loadgen::prefill::now_ns(), 0, 100);
    }
    let mut conn = TcpStream::connect(handle.addr()).unwrap();
    conn.write_all(&buf).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while handle.sample().counts.unique < 10 {
        assert!(Instant::now() < deadline, "{:?}", handle.sample().counts);
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(conn);
    let report = handle.finish().unwrap();
    assert_eq!((report.unique, report.missing), (10, 0));
}

/// A receiver for in-process use: newline framing, no stop condition of its own.
fn in_process(rcvlowat: usize) -> spate_loadgen::recv::RecvConfig {
    spate_loadgen::recv::RecvConfig {
        listen: "127.0.0.1:0".into(),
        framing: spate_loadgen::recv::framing::Framing::Newline,
        expect: None,
        idle_timeout: None,
        max_time: None,
        report_every: None,
        max_frame: 1 << 20,
        rcvlowat,
    }
}
