//! The hot path allocates per batch, never per event: cutting a read buffer into batches, the
//! channel's put, take and commit, and the tcp sink's newline framing of a take cost the same
//! number of allocations whether each batch holds 100 lines or 10,000.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use spate::channel::memory::MemoryChannelConfig;
use spate::channel::MemoryChannel;
use spate::component::Channel;
use spate::metrics::{SinkCounters, SourceCounters};
use spate::runtime::Backend;
use spate::sink::tcp::TcpSink;
use spate::sink::tcp::{Framing, TcpSinkConfig};
use spate::source::taildir::lines::{FrameState, Framed, LineFramer};
use spate::source::taildir::LineOverflow;

/// Counts the allocations of the current thread (tests run on threads of their own).
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded to the system allocator unchanged; counting touches only a
// const-initialised thread-local, which itself never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's pointer and layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded with the caller's arguments.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

const BATCHES: usize = 20;

/// Allocations made while `BATCHES` batches of `lines` 128-byte lines go from a read buffer
/// through the channel and the tcp sink's framing, after one warm-up round.
fn allocations_per_run(lines: usize) -> u64 {
    let mut line = vec![b'x'; 127];
    line.push(b'\n');
    let framer = LineFramer {
        batch_size: lines,
        max_line_length: 1 << 20,
        overflow: LineOverflow::Split,
    };
    let channel = MemoryChannel::new(
        "c1",
        &MemoryChannelConfig {
            capacity: lines,
            transaction_capacity: lines,
            keep_alive: Duration::from_secs(3),
            byte_capacity: 1 << 40,
            byte_capacity_buffer_percentage: 0,
        },
    );
    let mut sink = TcpSink::new(
        TcpSinkConfig {
            hostname: "127.0.0.1".into(),
            port: 9,
            batch_size: lines,
            framing: Framing::Newline,
            connect_timeout: Duration::from_secs(20),
            request_timeout: Duration::from_secs(20),
            max_backoff: Duration::from_secs(5),
        },
        Backend::Epoll,
        Arc::new(SinkCounters::default()),
    );
    let counters = SourceCounters::default();
    let mut taken = Vec::with_capacity(4);
    let mut run = |rounds: usize| {
        let mut buf = BytesMut::with_capacity(rounds * lines * line.len());
        for _ in 0..rounds * lines {
            buf.extend_from_slice(&line);
        }
        let before = allocations();
        let mut state = FrameState::default();
        let mut events = 0;
        while let Framed::Batch { batch, .. } = framer.next_batch(&mut buf, &mut state, &counters) {
            channel.try_put(batch).expect("the channel has room");
            events += channel.take(lines, &mut taken);
            assert_eq!(sink.frame(&taken).len(), 1, "one buffer per batch");
            channel.commit(&mut taken);
        }
        assert_eq!(events, rounds * lines);
        allocations() - before
    };
    run(1);
    run(BATCHES)
}

#[test]
fn the_hot_path_allocates_per_batch_not_per_event() {
    let small = allocations_per_run(100);
    let large = allocations_per_run(10_000);
    assert_eq!(
        small, large,
        "{BATCHES} batches of 100 lines: {small} allocations, of 10,000 lines: {large}"
    );
    assert!(
        small <= 2 * BATCHES as u64,
        "{small} allocations for {BATCHES} batches"
    );
}
