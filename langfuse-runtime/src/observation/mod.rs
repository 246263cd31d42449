//! Observations: types, levels and the handle API.

pub mod kind;
