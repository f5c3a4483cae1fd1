//! The dnsd XDP program (`bpfel-unknown-none`), see `program.rs`.
//!
//! Built by `dnsd/build.rs` (aya-build) or `cargo xtask build-ebpf`. For other
//! targets (e.g. `cargo build --workspace` on the host) this binary is a stub
//! that says so: the real program is `no_std`/`no_main`, which cannot link for
//! a hosted target, and a std-using dependency on the host (feature
//! unification) would clash with its panic handler.
#![cfg_attr(target_arch = "bpf", no_std, no_main)]

#[cfg(target_arch = "bpf")]
mod answer;
#[cfg(target_arch = "bpf")]
mod program;

#[cfg(not(target_arch = "bpf"))]
fn main() {
    eprintln!(
        "dnsd-ebpf is an XDP program for bpfel-unknown-none; it is embedded into dnsd \
         by dnsd/build.rs and built on its own by `cargo xtask build-ebpf`, not run."
    );
    std::process::exit(2);
}
