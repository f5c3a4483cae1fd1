//! Dynamic zones: RFC 2136 updates (checked by [`crate::update`]) made
//! durable in the [`crate::journal`], applied to the snapshot and pushed to
//! the engine and the XDP table.
pub mod config;
pub mod store;
