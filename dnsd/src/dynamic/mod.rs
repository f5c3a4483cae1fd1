//! Dynamic zones: RFC 2136 updates (checked by [`crate::update`]) made
//! durable in the [`crate::journal`], applied to the snapshot and pushed to
//! the engine and the XDP table by the [`updater::Updater`].
mod address;
pub(crate) mod auth;
pub mod config;
pub mod load;
pub mod store;
pub mod updater;
