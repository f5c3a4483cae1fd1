//! The XDP fast path: the embedded eBPF object and its userspace loader.
//!
//! The object is `dnsd-ebpf`, built by `dnsd/build.rs` (aya-build, nightly +
//! bpf-linker) and embedded here. Built with `AYA_BUILD_SKIP=1`, the binary
//! carries an empty placeholder instead and [`XdpProgram::load`] fails with
//! [`XdpError::NotBuilt`].
//!
//! The program answers a DNS/UDP query with XDP_TX only when its reply is
//! byte for byte the engine's (shared/spec/xdp-fast-path.md); everything
//! else is passed untouched. It answers nothing until it has a table
//! ([`XdpProgram::load_table`], built by `crate::fastpath::table::build`)
//! and an allow-list of served addresses ([`XdpProgram::set_addresses`]).
//! `Config::edns_udp_size` must equal the engine's `edns_udp_size`.
//!
//! ```no_run
//! use dnsd::engine::EngineSettings;
//! use dnsd::xdp::{AttachMode, Config, XdpProgram, COUNTER_DNS_UDP};
//! # fn snapshot() -> dnsd::zone::snapshot::Snapshot { unimplemented!() }
//!
//! let settings = EngineSettings::default();
//! let mut xdp = XdpProgram::load(Config::new(53).with_edns_udp_size(settings.edns_udp_size))?;
//! xdp.load_table(&dnsd::fastpath::table::build(&snapshot(), &settings))?;
//! xdp.set_addresses(&["192.0.2.53".parse().unwrap()])?;
//! let mode = xdp.attach("eth0", AttachMode::NativeOrGeneric)?;
//! println!("attached in {mode} mode");
//! let counters = xdp.counters()?;
//! println!("DNS/UDP frames seen: {}", counters.get(COUNTER_DNS_UDP));
//! // Reloads: build the new table and call `load_table` again (one atomic swap).
//! // Dropping `xdp` detaches it from every interface.
//! # Ok::<(), dnsd::xdp::XdpError>(())
//! ```

pub mod bench;
mod error;
pub mod frame;
mod loader;

#[cfg(test)]
mod tests;

pub use dnsd_common::{
    COUNTER_ANSWERED_ANSWER, COUNTER_ANSWERED_BASE, COUNTER_ANSWERED_NODATA,
    COUNTER_ANSWERED_NXDOMAIN, COUNTER_ANSWERED_REFERRAL, COUNTER_ANSWERED_SLOTS,
    COUNTER_ANSWERED_WILDCARD, COUNTER_DNS_UDP, COUNTER_NAMES, COUNTER_PACKETS_SEEN,
    COUNTER_PASS_ADJUST_TAIL, COUNTER_PASS_BAD_CHECKSUM, COUNTER_PASS_BAD_ENTRY,
    COUNTER_PASS_BAD_IP_VERSION, COUNTER_PASS_BAD_LENGTH, COUNTER_PASS_BAD_NAME,
    COUNTER_PASS_BAD_SOURCE, COUNTER_PASS_BASE, COUNTER_PASS_COLLISION, COUNTER_PASS_COUNTS,
    COUNTER_PASS_EDNS, COUNTER_PASS_IP_FRAGMENT, COUNTER_PASS_IPV4_OPTIONS, COUNTER_PASS_MISS,
    COUNTER_PASS_NAME_TOO_LONG, COUNTER_PASS_NO_CHECKSUM, COUNTER_PASS_NO_TABLE, COUNTER_PASS_NODE,
    COUNTER_PASS_NOT_IP, COUNTER_PASS_NOT_OURS, COUNTER_PASS_NOT_QUERY, COUNTER_PASS_NOT_UDP,
    COUNTER_PASS_OTHER_PORT, COUNTER_PASS_QCLASS, COUNTER_PASS_QTYPE, COUNTER_PASS_SHORT,
    COUNTER_PASS_SLOTS, COUNTER_PASS_TOO_BIG, COUNTER_PASS_TOO_MANY_VLANS, COUNTER_PASS_TRUNCATED,
    COUNTER_SLOTS, Config, DEFAULT_DNS_PORT, DEFAULT_EDNS_UDP_SIZE, counter_name,
};
pub use error::XdpError;
pub use loader::{AttachMode, Counters, ProgramStats, TestRunOutput, XdpProgram};

/// XDP verdicts (`enum xdp_action`), as returned by [`XdpProgram::test_run`].
pub mod action {
    /// Error in the program; the frame is dropped.
    pub const ABORTED: u32 = 0;
    /// Drop the frame.
    pub const DROP: u32 = 1;
    /// Hand the frame to the kernel network stack.
    pub const PASS: u32 = 2;
    /// Send the (rewritten) frame back out of the ingress interface.
    pub const TX: u32 = 3;
    /// Redirect the frame to another interface, CPU or socket.
    pub const REDIRECT: u32 = 4;
}

/// The embedded eBPF object (ELF), 8-byte aligned; empty when built with
/// `AYA_BUILD_SKIP=1`.
pub static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/dnsd-ebpf"));

/// Whether this binary carries the XDP program (false when built with
/// `AYA_BUILD_SKIP=1`).
pub fn object_embedded() -> bool {
    !OBJECT.is_empty()
}
