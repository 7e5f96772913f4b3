//! `spate-loadgen` as a library: the line format, the generators, the receiver, scenarios and
//! reports. The binary (`src/main.rs`) is a thin clap front end over these modules, and the
//! integration tests drive them in-process.

pub mod gen;
pub mod line;
pub mod prefill;
pub mod recv;
pub mod report;
pub mod send;
