//! Helpers shared by the integration tests: running the binary and a `recv` in the background.

#![allow(dead_code)] // each test file uses its own subset

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_spate-loadgen");

pub fn loadgen(args: &[&str]) -> Value {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "spate-loadgen {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A running `recv`: its address, the process, and the thread draining its stderr.
pub struct Recv {
    pub addr: String,
    child: Child,
    stderr: JoinHandle<String>,
}

impl Recv {
    /// Starts `recv --listen 127.0.0.1:0 ARGS` and waits for its `listening on` line.
    pub fn start(args: &[&str]) -> Recv {
        let mut child = Command::new(BIN)
            .args(["recv", "--listen", "127.0.0.1:0", "--max-seconds", "60"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut first = String::new();
        stderr.read_line(&mut first).unwrap();
        let addr = first
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first stderr line {first:?}"))
            .to_string();
        let stderr = std::thread::spawn(move || {
            let mut rest = String::new();
            stderr.read_to_string(&mut rest).unwrap();
            rest
        });
        Recv {
            addr,
            child,
            stderr,
        }
    }

    pub fn connect(&self) -> TcpStream {
        TcpStream::connect(&self.addr).unwrap()
    }

    /// Waits for the report.
    pub fn finish(self) -> Value {
        let out = self.child.wait_with_output().unwrap();
        let stderr = self.stderr.join().unwrap();
        assert!(out.status.success(), "recv failed: {stderr}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(text.lines().count(), 1, "one JSON line expected: {text}");
        serde_json::from_str(&text).unwrap()
    }
}

pub fn u(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

/// Runs the binary expecting it to fail; returns its stderr.
pub fn loadgen_fails(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(!out.status.success(), "spate-loadgen {args:?} succeeded");
    String::from_utf8(out.stderr).unwrap()
}
