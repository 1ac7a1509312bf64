//! Operability: structured logs ([`logging`]).
pub mod logging;
