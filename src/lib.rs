//! spate: a Flume-compatible log collection agent for busy Linux hosts.

pub mod ack;
pub mod channel;
pub mod config;
pub mod event;
pub mod metrics;
pub mod runtime;
