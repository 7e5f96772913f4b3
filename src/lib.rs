//! spate: a Flume-compatible log collection agent.

pub mod config;
