//! Generators: numbered lines for files and TCP connections, at a steady rate or as fast as
//! possible.
//!
//! The lines are cut from a [`pool::LinePool`] laid out once per run, so a line costs the rewrite
//! of its header; their sizes and text come from [`sizes::LineSizes`], their pace from
//! [`rate::Rate`].

pub mod pool;
pub mod rate;
mod shapes;
pub mod sizes;

pub use rate::Rate;
pub use sizes::LineSizes;
