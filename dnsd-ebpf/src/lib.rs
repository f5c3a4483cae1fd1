//! Empty: the XDP program is the `dnsd-ebpf` binary (`src/main.rs`), built for
//! `bpfel-unknown-none` by `dnsd/build.rs` (aya-build) or `cargo xtask build-ebpf`.
//! This library only exists so `dnsd` can list the crate as a build-dependency.
#![no_std]
