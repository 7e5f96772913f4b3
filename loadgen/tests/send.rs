//! `send` without `--file`: generated lines through the real receiver, newline-framed and
//! octet-counted, over several connections, must arrive exactly once.

mod common;

use common::{loadgen, loadgen_fails, u, Recv};

/// Sends with `args` to a fresh `recv --framing FRAMING --expect LINES` and returns both reports.
fn send_to_recv(
    framing: &str,
    lines: u64,
    args: &[&str],
) -> (serde_json::Value, serde_json::Value) {
    let expect = lines.to_string();
    let recv = Recv::start(&["--framing", framing, "--expect", &expect]);
    let mut send = vec!["send", "--addr", &recv.addr, "--framing", framing];
    send.extend(["--lines", &expect]);
    send.extend(args);
    let sent = loadgen(&send);
    (sent, recv.finish())
}

fn assert_exactly_once(r: &serde_json::Value, lines: u64, streams: &[&str]) {
    assert_eq!(r["stopped_by"], "expect", "{r}");
    assert_eq!(u(r, "unique"), lines, "{r}");
    assert_eq!(u(r, "lines"), lines, "{r}");
    for key in ["missing", "duplicates", "out_of_order", "malformed"] {
        assert_eq!(u(r, key), 0, "{key} in {r}");
    }
    let got: Vec<&String> = r["streams"].as_object().unwrap().keys().collect();
    assert_eq!(got, streams, "{r}");
}

#[test]
fn newline_framed_over_three_connections() {
    let args = [
        "--connections",
        "3",
        "--first-stream",
        "5",
        "--size",
        "64-300",
    ];
    let (sent, r) = send_to_recv("newline", 30_000, &args);
    assert_eq!(u(&sent, "lines"), 30_000);
    assert_eq!(u(&sent, "targets"), 3);
    assert_eq!(
        u(&sent, "bytes"),
        u(&r, "bytes"),
        "every byte sent was read"
    );
    assert_exactly_once(&r, 30_000, &["5", "6", "7"]);
    for s in ["5", "6", "7"] {
        assert_eq!(u(&r["streams"][s], "unique"), 10_000);
    }
}

#[test]
fn octet_counted_access_lines_at_a_rate() {
    let args = ["--connections", "2", "--size", "access", "--rate", "20000"];
    let (sent, r) = send_to_recv("octet-counting", 4_000, &args);
    assert_eq!(sent["target_rate"], 20_000.0);
    assert_eq!(u(&sent, "bytes"), u(&r, "bytes"));
    assert_exactly_once(&r, 4_000, &["0", "1"]);
}

#[test]
fn octet_counted_fixed_lines_as_fast_as_possible() {
    let (sent, r) = send_to_recv("octet-counting", 50_000, &["--size", "200"]);
    // `LEN SP` is 4 bytes, the newline is not sent: 203 bytes per frame.
    assert_eq!(u(&sent, "bytes"), 50_000 * 203);
    assert_eq!(sent["mean_line_bytes"], 200.0);
    assert_exactly_once(&r, 50_000, &["0"]);
}

#[test]
fn bad_send_arguments_fail_with_a_message() {
    let err = loadgen_fails(&["send", "--addr", "127.0.0.1:1"]);
    assert!(err.contains("--lines or --duration"), "{err}");
    let err = loadgen_fails(&["send", "--lines", "5", "--connections", "0"]);
    assert!(err.contains("connections: must be at least 1"), "{err}");
    let err = loadgen_fails(&["send", "--lines", "5", "--size", "big"]);
    assert!(err.contains("--size"), "{err}");
    let err = loadgen_fails(&["send", "--file", "x", "--connections", "2"]);
    assert!(err.contains("cannot be used with"), "{err}");
}
