//! `cargo xtask bench xdp`: the XDP program's per-packet cost next to the
//! address-swapping XDP_TX program `dnsd_swap`, from BPF_PROG_TEST_RUN
//! (`dnsd/examples/xdp_bench.rs`).

use std::process::Stdio;

use anyhow::{Context, Result, bail};

use crate::util;

/// Runs the measurement and returns its Markdown table (with a heading).
pub fn measure(runs: u32) -> Result<String> {
    if !util::is_root() {
        bail!("`cargo xtask bench xdp` loads XDP programs and needs root");
    }
    let mut cmd = util::cargo();
    cmd.args([
        "run",
        "--quiet",
        "--release",
        "-p",
        "dnsd",
        "--example",
        "xdp_bench",
        "--",
    ])
    .arg(runs.to_string())
    .current_dir(util::workspace_root())
    .stdout(Stdio::piped());
    eprintln!("xtask: $ {}", util::display(&cmd));
    let out = cmd.output().context("cannot run the xdp_bench example")?;
    if !out.status.success() {
        bail!("xdp_bench failed ({})", out.status);
    }
    Ok(format!(
        "BPF_PROG_TEST_RUN, {runs} runs each:\n\n{}",
        String::from_utf8_lossy(&out.stdout)
    ))
}
