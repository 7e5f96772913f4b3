//! A fixed amount of the `recv` bench's work, for counting instructions with callgrind, which
//! machine noise does not move:
//!
//! ```text
//! cargo build --profile bench -p spate-loadgen --example recv_ir
//! valgrind --tool=callgrind --toggle-collect='recv_ir::measured' \
//!     target/release/examples/recv_ir newline     # or octet-counting; then `varied` for
//!                                                 # lines of 100 to 156 bytes
//! ```
//!
//! Only `measured` is counted: the measured phase of [`common::Workload`] fed to a connection
//! and tally that consumed the warm phase, [`PASSES`] times. The program prints the line count
//! to divide the total `Ir` by.

#[path = "../benches/common/mod.rs"]
mod common;

use spate_loadgen::recv::framing::{Connection, Framing};
use spate_loadgen::recv::tally::Tally;

use common::{check, feed, Sizes, Workload};

/// Passes over the measured phase (each after a fresh warm-up).
const PASSES: u64 = 4;

/// The counted work; kept out of line so callgrind can toggle on its name.
#[inline(never)]
fn measured(conn: &mut Connection, tally: &mut Tally, data: &mut [u8], reads: &[(usize, u64)]) {
    feed(conn, tally, data, reads);
}

fn main() {
    let framing = match std::env::args().nth(1).as_deref() {
        Some("newline") | None => Framing::Newline,
        Some("octet-counting") => Framing::OctetCounting,
        Some(other) => panic!("unknown framing {other:?}: newline or octet-counting"),
    };
    let sizes = match std::env::args().nth(2).as_deref() {
        None => Sizes::Fixed,
        Some("varied") => Sizes::Varied,
        Some(other) => panic!("unknown sizes {other:?}: varied or nothing"),
    };
    let w = Workload::new(framing, sizes);
    check(&w);
    let mut data = w.measured.data.clone();
    for _ in 0..PASSES {
        let (mut conn, mut tally) = w.warmed();
        measured(&mut conn, &mut tally, &mut data, &w.measured.reads);
        std::hint::black_box(tally.summary(None));
    }
    println!(
        "{framing:?} {}: {} lines counted in `measured`",
        sizes.name(),
        PASSES * w.measured.lines
    );
}
