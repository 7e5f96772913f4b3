//! The netcat source end to end: lines a client sends arrive at the collector, each answered
//! `OK` once its channel acknowledged it; over-long lines are refused as Flume refuses them; a
//! full channel holds senders back and drops nothing.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{free_port, line, Agent, Collector, Pipeline};

const T: Duration = Duration::from_secs(60);

both_backends!(
    every_line_arrives_once_and_each_is_answered_ok,
    an_overlong_line_is_answered_failed_and_the_connection_closed,
    a_full_channel_holds_senders_back_and_drops_nothing,
    nothing_is_answered_before_it_is_delivered,
);

/// Starts `pipeline` and connects to its source, waiting for it to listen.
fn connect(pipeline: &Pipeline, listen: u16, backend: &str) -> (Agent, TcpStream) {
    let mut agent = pipeline.start(backend);
    let mut conn = None;
    common::wait_until(T, || {
        agent.assert_running();
        conn = TcpStream::connect(("127.0.0.1", listen)).ok();
        conn.is_some()
    });
    let conn = conn.unwrap_or_else(|| panic!("the source never listened\n{}", agent.diagnostics()));
    conn.set_read_timeout(Some(T)).unwrap();
    (agent, conn)
}

fn every_line_arrives_once_and_each_is_answered_ok(backend: &str) {
    const N: u64 = 100_000;
    let collector = Collector::start();
    let listen = free_port();
    let pipeline = Pipeline::netcat(listen, collector.port());
    let (mut agent, conn) = connect(&pipeline, listen, backend);
    let sending = send(&conn, N, 100);
    expect_oks(conn, N, &agent);
    sending.join().unwrap();
    collector.expect_unique(N, T, &agent);
    // With a memory channel, OK means delivered: the collector had every line already.
    agent.stop();
    collector.assert_exactly_once(N, &agent);
}

fn an_overlong_line_is_answered_failed_and_the_connection_closed(backend: &str) {
    let collector = Collector::start();
    let listen = free_port();
    let pipeline =
        Pipeline::netcat(listen, collector.port()).set("sources.r1.max-line-length", "100");
    let (mut agent, mut conn) = connect(&pipeline, listen, backend);
    // 100 bytes with the newline fit; 101 do not.
    let mut out = line(0, 100);
    out.extend_from_slice(&line(1, 101));
    out.extend_from_slice(&line(2, 50));
    conn.write_all(&out).unwrap();
    let mut replies = String::new();
    conn.read_to_string(&mut replies).unwrap();
    assert_eq!(
        replies,
        "OK\nFAILED: Event exceeds the maximum length (100 chars, including newline)\n"
    );
    collector.expect_unique(1, T, &agent);
    agent.stop();
    collector.assert_exactly_once(1, &agent);
    assert!(agent.stderr().contains("line longer than max-line-length"));
}

/// Sends lines `0..n` from a thread, each `len` bytes, in writes of about 60 KB.
fn send(conn: &TcpStream, n: u64, len: usize) -> std::thread::JoinHandle<()> {
    let mut writer = conn.try_clone().unwrap();
    std::thread::spawn(move || {
        let mut out = Vec::new();
        for seq in 0..n {
            out.extend_from_slice(&line(seq, len));
            if out.len() > 60_000 {
                writer.write_all(&out).unwrap();
                out.clear();
            }
        }
        writer.write_all(&out).unwrap();
    })
}

/// Whether an answer can be read from `conn` now.
fn answered(conn: &TcpStream) -> bool {
    conn.set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    let got = matches!((&*conn).read(&mut byte), Ok(n) if n > 0);
    conn.set_nonblocking(false).unwrap();
    got
}

/// Reads `n` answers, each of which must be `OK`.
fn expect_oks(conn: TcpStream, n: u64, agent: &Agent) {
    let mut answers = BufReader::new(conn);
    let mut reply = String::new();
    for i in 0..n {
        reply.clear();
        answers.read_line(&mut reply).unwrap();
        assert_eq!(reply, "OK\n", "answer {i}\n{}", agent.diagnostics());
    }
}

fn a_full_channel_holds_senders_back_and_drops_nothing(backend: &str) {
    // 30 MB: far more than loopback's socket buffers hold, so a sender not held back would
    // finish before the check.
    const N: u64 = 300_000;
    let mut collector = Collector::start_down();
    let listen = free_port();
    // Without answers the source reads on until the channel is full.
    let pipeline = Pipeline::netcat(listen, collector.port())
        .set("sources.r1.ack-every-event", "false")
        .set("channels.c1.capacity", "2000")
        .set("channels.c1.keep-alive", "1");
    let (mut agent, conn) = connect(&pipeline, listen, backend);
    let sending = send(&conn, N, 100);
    // The collector is down: the channel fills, the source stops reading, and the sender's
    // writes wait in the sockets' buffers.
    assert!(
        common::wait_until(T, || agent.stderr().contains("channel full")),
        "the channel never filled\n{}",
        agent.diagnostics()
    );
    assert!(!sending.is_finished(), "the sender was not held back");
    collector.come_up();
    sending.join().unwrap();
    collector.expect_unique(N, T, &agent);
    assert!(
        !answered(&conn),
        "answered although ack-every-event = false"
    );
    agent.stop();
    collector.assert_exactly_once(N, &agent);
}

fn nothing_is_answered_before_it_is_delivered(backend: &str) {
    const N: u64 = 20_000;
    let mut collector = Collector::start_down();
    let listen = free_port();
    let pipeline = Pipeline::netcat(listen, collector.port());
    let (mut agent, conn) = connect(&pipeline, listen, backend);
    let sending = send(&conn, N, 100);
    // The sink took a batch and could not deliver it: with a memory channel, OK waits for
    // delivery, so nothing is answered, and the sender is held back meanwhile.
    assert!(
        common::wait_until(T, || agent.stderr().contains("delivery failed")),
        "the sink never tried\n{}",
        agent.diagnostics()
    );
    assert!(!answered(&conn), "answered before anything was delivered");
    collector.come_up();
    expect_oks(conn, N, &agent);
    sending.join().unwrap();
    collector.expect_unique(N, T, &agent);
    agent.stop();
    collector.assert_exactly_once(N, &agent);
}

#[test]
fn a_port_in_use_fails_the_start_with_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut agent = Pipeline::netcat(port, 9).start("epoll");
    assert!(
        common::wait_until(T, || agent.try_exit().is_some()),
        "the agent started on a port in use"
    );
    assert_eq!(
        agent.try_exit().unwrap().code(),
        Some(2),
        "{}",
        agent.stderr()
    );
    let err = agent.stderr();
    assert!(
        err.contains(&format!("cannot listen on 127.0.0.1:{port}"))
            && err.contains("in use")
            && err.contains("change `port`"),
        "{err}"
    );
}
