//! `cargo xtask bench`: placeholder until the benchmarks land.

use std::ffi::OsString;

use anyhow::{Result, bail};

pub fn run(_args: &[OsString]) -> Result<()> {
    bail!("`cargo xtask bench` is not yet implemented")
}
