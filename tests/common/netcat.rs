//! A client of the netcat source that keeps its promise: every line it was not told `OK` for is
//! sent again on the next connection.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[allow(unused_imports)]
use super::*;

/// Lines sent without an answer yet, at most.
const WINDOW: usize = 4000;

/// What the sender knows.
#[derive(Debug, Default)]
struct State {
    /// `acked[seq]`: whether line `seq` was answered `OK`.
    acked: Vec<bool>,
    acked_count: u64,
    /// Lines sent again after a connection broke before answering them.
    resent: u64,
    /// Lines sent, again or not.
    sent: u64,
    connections: u64,
    /// Answers other than `OK`.
    other_answers: Vec<String>,
}

/// Sends lines `{seq:016} payload` to a netcat source on 127.0.0.1:`port` from a thread of its
/// own, reconnecting whenever the connection breaks, until stopped.
pub struct Sender {
    stop: Arc<AtomicBool>,
    state: Arc<Mutex<State>>,
    thread: Option<JoinHandle<()>>,
}

impl Sender {
    /// Starts sending lines of `len` bytes (newline included).
    pub fn start(port: u16, len: usize) -> Sender {
        let stop = Arc::new(AtomicBool::new(false));
        let state = Arc::new(Mutex::new(State::default()));
        let thread = {
            let (stop, state) = (stop.clone(), state.clone());
            std::thread::spawn(move || run(port, len, &stop, &state))
        };
        Sender {
            stop,
            state,
            thread: Some(thread),
        }
    }

    /// Lines answered `OK` so far.
    pub fn acked(&self) -> u64 {
        self.state.lock().unwrap().acked_count
    }

    /// Stops sending new lines, waits (up to 30 s) for the answers to those in flight, and
    /// closes.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().expect("the sender thread");
        }
    }

    /// The sequence numbers answered `OK`.
    pub fn acked_seqs(&self) -> Vec<u64> {
        let s = self.state.lock().unwrap();
        (0..s.acked.len() as u64)
            .filter(|&i| s.acked[i as usize])
            .collect()
    }

    /// Lines sent again after a broken connection.
    pub fn resent(&self) -> u64 {
        self.state.lock().unwrap().resent
    }

    /// Answers that were not `OK`.
    pub fn other_answers(&self) -> Vec<String> {
        self.state.lock().unwrap().other_answers.clone()
    }

    pub fn summary(&self) -> String {
        let s = self.state.lock().unwrap();
        format!(
            "sender: {} sent, {} answered OK, {} sent again, {} connections",
            s.sent, s.acked_count, s.resent, s.connections
        )
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(port: u16, len: usize, stop: &AtomicBool, state: &Mutex<State>) {
    let mut next = 0u64;
    let mut again: VecDeque<u64> = VecDeque::new();
    while !stop.load(Ordering::Relaxed) {
        let Ok(mut conn) = TcpStream::connect(("127.0.0.1", port)) else {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        };
        state.lock().unwrap().connections += 1;
        conn.set_nodelay(true).unwrap();
        conn.set_read_timeout(Some(Duration::from_millis(5)))
            .unwrap();
        conn.set_write_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut in_flight: VecDeque<u64> = VecDeque::new();
        let mut answer: Vec<u8> = Vec::new();
        let mut out = Vec::new();
        let mut rbuf = vec![0u8; 64 * 1024];
        let mut stopping_since: Option<Instant> = None;
        loop {
            if stop.load(Ordering::Relaxed) {
                let since = *stopping_since.get_or_insert_with(Instant::now);
                if in_flight.is_empty() || since.elapsed() > Duration::from_secs(30) {
                    break;
                }
            } else {
                out.clear();
                let mut s = state.lock().unwrap();
                while in_flight.len() < WINDOW {
                    let seq = match again.pop_front() {
                        Some(seq) => {
                            s.resent += 1;
                            seq
                        }
                        None => {
                            next += 1;
                            next - 1
                        }
                    };
                    out.extend_from_slice(&line(seq, len));
                    in_flight.push_back(seq);
                    s.sent += 1;
                }
                drop(s);
                if !out.is_empty() && conn.write_all(&out).is_err() {
                    break;
                }
            }
            match conn.read(&mut rbuf) {
                Ok(0) => break,
                Ok(n) => {
                    answer.extend_from_slice(&rbuf[..n]);
                    let mut s = state.lock().unwrap();
                    while let Some(nl) = answer.iter().position(|&b| b == b'\n') {
                        let reply: Vec<u8> = answer.drain(..=nl).collect();
                        if reply != b"OK\n" {
                            s.other_answers
                                .push(String::from_utf8_lossy(&reply).into_owned());
                            continue;
                        }
                        let Some(seq) = in_flight.pop_front() else {
                            s.other_answers.push("OK without a line".into());
                            continue;
                        };
                        let i = seq as usize;
                        if s.acked.len() <= i {
                            s.acked.resize(i + 1, false);
                        }
                        if !s.acked[i] {
                            s.acked[i] = true;
                            s.acked_count += 1;
                        }
                    }
                }
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => break,
            }
        }
        // What was not answered is sent again, first, on the next connection.
        for seq in in_flight.into_iter().rev() {
            again.push_front(seq);
        }
    }
}
