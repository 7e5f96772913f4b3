//! `spate-loadgen` as a library: the line format, the generators, the receiver, scenarios and
//! reports. The binary (`src/main.rs`) is a thin clap front end over these modules, and the
//! integration tests drive them in-process.

pub mod environment;
pub mod gen;
pub mod line;
pub mod prefill;
pub mod procstat;
pub mod recv;
pub mod report;
pub mod run;
pub mod scenario;
pub mod send;
pub mod sut;
pub mod sweep;
