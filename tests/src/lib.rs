//! Helpers for the end-to-end tests.
//!
//! * [`servers`] finds and starts the servers under test (dnsd, and the peers
//!   NSD, Knot DNS and tinydns) on private loopback ports, waits until they
//!   answer and stops them on `Drop`.
//! * [`client`] is a minimal UDP/TCP DNS client on `std::net` with timeouts.
//! * [`wire`] builds raw queries (any flag, opcode, count or EDNS variant) and
//!   walks raw responses to check structural rules (counts, compression).
//! * [`normalize`] parses a response with the `domain` crate, independent of
//!   dnsd's own wire code, into a form two servers' answers can be compared in.
//! * [`update`] builds RFC 2136 UPDATE messages.
//! * [`zonefile`] reads the RFC 1035 fixtures with `domain`'s zone file parser.

pub mod client;
pub mod netns;
pub mod normalize;
pub mod rng;
pub mod servers;
pub mod stats;
pub mod update;
pub mod wire;
pub mod zonefile;

use std::path::PathBuf;

/// The workspace root (the directory holding the top-level `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// `tests/zones/<name>`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("zones")
        .join(name)
}

/// `examples/<name>`.
pub fn example(name: &str) -> PathBuf {
    workspace_root().join("examples").join(name)
}
