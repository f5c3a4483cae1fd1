//! `cargo xtask build-ebpf`, and the eBPF clippy run by `cargo xtask test`.

use std::{ffi::OsString, path::PathBuf};

use anyhow::Result;

use crate::{setup, util};

/// The eBPF package and its single binary.
pub const PACKAGE: &str = "dnsd-ebpf";

/// `bpfel` or `bpfeb`, matching the host, as aya-build picks it.
fn bpf_target() -> &'static str {
    if cfg!(target_endian = "big") {
        "bpfeb-unknown-none"
    } else {
        "bpfel-unknown-none"
    }
}

/// The `bpf_target_arch` cfg value: the host architecture (aya-build's rule).
fn bpf_target_arch() -> &'static str {
    match std::env::consts::ARCH {
        arch if arch.starts_with("riscv64") => "riscv64",
        arch => arch,
    }
}

/// Where `build-ebpf` leaves the object.
pub fn object_path() -> PathBuf {
    util::target_dir()
        .join("ebpf")
        .join(bpf_target())
        .join("release")
        .join(PACKAGE)
}

/// `cargo xtask build-ebpf`: make sure the toolchain is there, then build.
pub fn build_command() -> Result<()> {
    setup::ensure(setup::Scope::Toolchain)?;
    build()?;
    eprintln!("xtask: eBPF object: {}", object_path().display());
    Ok(())
}

/// Builds the XDP program with the command aya-build 0.2.0 runs
/// (shared/spec/toolchain.md §3), but with `--target-dir target/ebpf` and
/// human-readable output.
pub fn build() -> Result<()> {
    let mut rustflags = OsString::new();
    for (i, flag) in [
        format!("--cfg=bpf_target_arch=\"{}\"", bpf_target_arch()),
        "-Cdebuginfo=2".to_owned(),
        "-Clink-arg=--btf".to_owned(),
    ]
    .iter()
    .enumerate()
    {
        if i > 0 {
            rustflags.push("\x1f");
        }
        rustflags.push(flag);
    }
    let target_dir = util::target_dir().join("ebpf");
    let mut cmd = util::nightly_cargo();
    cmd.args(["build", "--package", PACKAGE, "--bins", "--release"])
        .args(["--target", bpf_target()])
        .args(["-Z", "build-std=core"])
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("RUSTFLAGS")
        .env("CARGO_ENCODED_RUSTFLAGS", rustflags);
    util::run(&mut cmd)
}

/// Clippy for the eBPF crate built for the BPF target (a host `cargo clippy`
/// only sees the host stub); warnings are errors. Silent when clean.
pub fn clippy() -> Result<()> {
    let mut cmd = util::nightly_cargo();
    cmd.args(["clippy", "--quiet", "--package", PACKAGE])
        .args(["--target", bpf_target()])
        .args(["-Z", "build-std=core"])
        .args(["--", "-D", "warnings"])
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env(
            "RUSTFLAGS",
            format!("--cfg bpf_target_arch=\"{}\"", bpf_target_arch()),
        );
    util::run_captured(&mut cmd)
}
