//! spate's avro source and sink with each other (both backends), and the source against bad
//! clients: malformed and oversized frames close only their connection, a full channel is
//! answered FAILED. (Against the real Flume: `tests/avro_flume.rs`.)

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use common::{free_port, prefill, Collector, Dirs, Pipeline};
use spate::avro::frame;
use spate::avro::protocol::{self, Match, Status};
use spate::avro::wire::Reader;
use spate::event::Batch;

const T: Duration = Duration::from_secs(60);

both_backends!(
    spate_to_spate_delivers_every_line_once,
    bad_frames_close_only_their_connection,
    a_full_channel_is_answered_failed,
);

fn spate_collector(backend: &str, port: u16) -> (common::Agent, u16) {
    let listen = free_port();
    let agent = Pipeline::avro(listen, port).start(backend);
    let up = common::wait_until(T, || TcpStream::connect(("127.0.0.1", listen)).is_ok());
    assert!(up, "{}", agent.diagnostics());
    (agent, listen)
}

fn spate_to_spate_delivers_every_line_once(backend: &str) {
    const N: u64 = 200_000;
    let dirs = Dirs::new();
    prefill(&dirs.log("app.log"), 0, N, 100);
    let collector = Collector::start();
    let (mut receiver, listen) = spate_collector(backend, collector.port());
    let mut edge = Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), listen)
        .set("sinks.k1.type", "avro")
        .start(backend);
    let arrived = common::wait_until(T, || collector.unique() == N);
    assert!(
        arrived,
        "{}\n{}\n{}",
        collector.summary(),
        edge.diagnostics(),
        receiver.diagnostics()
    );
    edge.stop();
    receiver.stop();
    assert_eq!(collector.duplicates(), 0, "{}", collector.summary());
}

/// One `appendBatch` call of `lines`, with the handshake.
fn call(serial: u32, lines: &[&str]) -> BytesMut {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let batch = Batch::from_lines(Bytes::from(text), lines.len() as u32);
    let mut message = BytesMut::new();
    protocol::put_handshake_request(&mut message, false);
    protocol::put_call(&mut message, protocol::APPEND_BATCH);
    protocol::put_events(&mut message, &batch);
    let mut out = BytesMut::new();
    frame::encode(serial, &[&message], &mut out);
    out
}

/// Reads one reply frame: the handshake's match and the call's status.
fn read_reply(s: &mut TcpStream) -> (Match, Status) {
    let mut buf = BytesMut::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(f) = frame::decode(&mut buf, 1 << 20).unwrap() {
            let mut r = Reader::new(f.message);
            let m = protocol::read_handshake_response(&mut r).unwrap();
            return (m, protocol::read_status(&mut r).unwrap());
        }
        let n = s.read(&mut chunk).expect("a reply");
        assert!(n > 0, "closed without a reply");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Whether the source closed `s` (reads end) within the test's patience.
fn closed(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(T)).unwrap();
    let mut b = [0u8; 64];
    matches!(s.read(&mut b), Ok(0) | Err(_))
}

fn bad_frames_close_only_their_connection(backend: &str) {
    let collector = Collector::start();
    let (mut agent, listen) = spate_collector(backend, collector.port());
    let connect = || TcpStream::connect(("127.0.0.1", listen)).unwrap();
    // A frame claiming 2 GiB: refused from its header, nothing allocated for it.
    let mut huge = connect();
    huge.write_all(&[0, 0, 0, 1, 0, 0, 0, 1, 0x80, 0, 0, 0])
        .unwrap();
    assert!(closed(&mut huge), "an oversized frame was waited for");
    // Bytes that are no handshake.
    let mut junk = connect();
    let mut garbage = vec![0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 40];
    garbage.extend((0..40u8).map(|i| i.wrapping_mul(97)));
    junk.write_all(&garbage).unwrap();
    assert!(closed(&mut junk), "a malformed handshake was not refused");
    // A call cut short, then the client leaves.
    let mut cut = connect();
    cut.write_all(&call(1, &["half"])[..30]).unwrap();
    drop(cut);
    // The source still serves a sound client.
    let mut good = connect();
    good.write_all(&call(1, &["0000000000000007 sound"]))
        .unwrap();
    assert_eq!(read_reply(&mut good), (Match::Both, Status::Ok));
    assert!(common::wait_until(T, || collector.has(7)));
    let log = agent.stderr();
    assert!(log.contains("over the limit"), "{}", agent.diagnostics());
    assert!(log.contains("malformed message"), "{}", agent.diagnostics());
    agent.stop();
}

fn a_full_channel_is_answered_failed(backend: &str) {
    // The collector is down: nothing leaves the channel, which holds 10 events.
    let mut collector = Collector::start_down();
    let listen = free_port();
    let mut agent = Pipeline::avro(listen, collector.port())
        .set("channels.c1.capacity", "10")
        .set("channels.c1.transactionCapacity", "10")
        .set("channels.c1.keep-alive", "1")
        .set("sinks.k1.batch-size", "10")
        .start(backend);
    assert!(common::wait_until(T, || TcpStream::connect((
        "127.0.0.1",
        listen
    ))
    .is_ok()));
    let ten: Vec<String> = (0..10).map(|i| format!("{i:016} x")).collect();
    let ten: Vec<&str> = ten.iter().map(String::as_str).collect();
    let mut first = TcpStream::connect(("127.0.0.1", listen)).unwrap();
    first.write_all(&call(1, &ten)).unwrap(); // fills the channel; answered once delivered
    std::thread::sleep(Duration::from_millis(300));
    let mut second = TcpStream::connect(("127.0.0.1", listen)).unwrap();
    second.write_all(&call(1, &["0000000000000010 x"])).unwrap();
    second.set_read_timeout(Some(T)).unwrap();
    assert_eq!(read_reply(&mut second), (Match::Both, Status::Failed));
    // Once the collector is up, the first call is delivered and answered OK.
    collector.come_up();
    first.set_read_timeout(Some(T)).unwrap();
    assert_eq!(read_reply(&mut first), (Match::Both, Status::Ok));
    assert!(
        common::wait_until(T, || collector.unique() == 10),
        "{}",
        collector.summary()
    );
    agent.stop();
}
