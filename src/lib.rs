//! spate: a Flume-compatible log collection agent.
