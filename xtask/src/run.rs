//! `cargo xtask run`: set up, build dnsd (release) and exec it.

use std::{ffi::OsString, os::unix::process::CommandExt as _, process::Command};

use anyhow::{Result, bail};

use crate::{setup, util};

/// The config the lead keeps in the repository.
const CONFIG: &str = "examples/dnsd.toml";

pub fn run(args: &[OsString]) -> Result<()> {
    setup::ensure(setup::Scope::All)?;
    util::run(util::cargo().args(["build", "--release", "--package", "dnsd", "--bin", "dnsd"]))?;
    let binary = util::target_dir().join("release").join("dnsd");
    let mut cmd = Command::new(&binary);
    cmd.args(["serve", "--config", CONFIG])
        .args(args)
        .current_dir(util::workspace_root());
    eprintln!("xtask: exec {}", util::display(&cmd));
    let error = cmd.exec();
    bail!("exec {}: {error}", binary.display())
}
