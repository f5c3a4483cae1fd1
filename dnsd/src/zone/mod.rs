//! Zone sources and their compilation into one immutable snapshot.
pub mod compile;
pub mod master;
pub mod snapshot;
pub mod source;
pub mod tinydns;
