//! The XDP fast path: the embedded eBPF object and its userspace loader.
//!
//! The object is `dnsd-ebpf`, built by `dnsd/build.rs` (aya-build, nightly +
//! bpf-linker) and embedded here. Built with `AYA_BUILD_SKIP=1`, the binary
//! carries an empty placeholder instead and [`XdpProgram::load`] fails with
//! [`XdpError::NotBuilt`].
//!
//! ```no_run
//! use dnsd::xdp::{AttachMode, Config, XdpProgram, COUNTER_DNS_UDP};
//!
//! let mut xdp = XdpProgram::load(Config::new(53))?;
//! let mode = xdp.attach("eth0", AttachMode::NativeOrGeneric)?;
//! println!("attached in {mode} mode");
//! let counters = xdp.counters()?;
//! println!("DNS/UDP frames seen: {}", counters.get(COUNTER_DNS_UDP));
//! // Dropping `xdp` detaches it from every interface.
//! # Ok::<(), dnsd::xdp::XdpError>(())
//! ```

mod error;
mod loader;

#[cfg(test)]
mod tests;

pub use dnsd_common::{
    COUNTER_ANSWERED_BASE, COUNTER_ANSWERED_SLOTS, COUNTER_DNS_UDP, COUNTER_NAMES,
    COUNTER_PACKETS_SEEN, COUNTER_PASS_BAD_IP_VERSION, COUNTER_PASS_BAD_LENGTH, COUNTER_PASS_BASE,
    COUNTER_PASS_IP_FRAGMENT, COUNTER_PASS_IPV4_OPTIONS, COUNTER_PASS_NOT_IP, COUNTER_PASS_NOT_UDP,
    COUNTER_PASS_OTHER_PORT, COUNTER_PASS_SLOTS, COUNTER_PASS_TOO_MANY_VLANS,
    COUNTER_PASS_TRUNCATED, COUNTER_SLOTS, Config, DEFAULT_DNS_PORT, counter_name,
};
pub use error::XdpError;
pub use loader::{AttachMode, Counters, TestRunOutput, XdpProgram};

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
