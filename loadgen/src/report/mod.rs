//! Reports: the figures of a run or a sweep ([`model`]) and their rendering.

pub mod human;
pub mod model;
