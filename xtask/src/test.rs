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
    let tests = util::run(util::cargo().args(["test", "--workspace"]).args(args));
    // Silent when clean, so cargo test's summary stays the last output; runs
    // even when tests failed, so one CI run reports both.
    let clippy = ebpf::clippy();
    tests.and(clippy)
}
