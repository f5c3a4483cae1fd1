//! `cargo xtask test`: what CI runs (`.ci/run`).

use std::ffi::OsString;

use anyhow::Result;

use crate::{ebpf, setup, util};

pub fn run(args: &[OsString]) -> Result<()> {
    setup::ensure(setup::Scope::All)?;
    if !util::is_root() {
        eprintln!(
            "xtask: warning: not running as root; the XDP tests (root_*) will fail \
             because loading eBPF programs needs CAP_BPF and CAP_NET_ADMIN"
        );
    }
    util::run(util::cargo().args(["build", "--workspace"]))?;
    let tests = util::run(
        util::cargo()
            .args(["test", "--workspace", "--no-fail-fast"])
            .args(args),
    );
    // The checks below are silent when clean, so cargo test's summary stays
    // the last output; they run even when tests failed, so one CI run
    // reports everything.
    let fmt = util::run_captured(util::cargo().args(["fmt", "--all", "--", "--check"]));
    let clippy = util::run_captured(util::cargo().args([
        "clippy",
        "--quiet",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]));
    let ebpf_clippy = ebpf::clippy();
    let fuzz = fuzz_build();
    tests.and(fmt).and(clippy).and(ebpf_clippy).and(fuzz)
}

/// The fuzz crate must build (it is not run here: fuzzing has no place in a
/// CI time budget). The XDP object is not needed for it.
fn fuzz_build() -> Result<()> {
    let manifest = util::workspace_root().join("fuzz/Cargo.toml");
    util::run_captured(
        util::nightly_cargo()
            .args(["build", "--quiet", "--bins", "--manifest-path"])
            .arg(manifest)
            .env("AYA_BUILD_SKIP", "1"),
    )
}
