//! `cargo xtask bench`: dnsd against NSD, Knot DNS (UDP and XDP), tinydns
//! and an address-swapping XDP program, in one run, with ratios.
//!
//! * `suite` (the default, `servers`): the network benchmark — rates,
//!   latency, memory, load and reload time — over a veth pair between two
//!   namespaces (`netns`), servers from `servers`, load from `loadgen`,
//!   queries from `mixes`, answers checked by `check`, output by `report`
//!   and `chart`;
//! * `xdpcost` (`xdp`): per-packet cost through BPF_PROG_TEST_RUN;
//! * `compile`: zone compile time against tinydns-data and nsd-checkzone.

use std::ffi::OsString;
use std::fs;
use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Parser;

use crate::{setup, util};

mod chart;
mod check;
mod compile;
mod loadgen;
mod mixes;
mod netns;
mod probe;
mod report;
mod servers;
mod suite;
mod xdpcost;

#[derive(Parser)]
#[command(
    name = "cargo xtask bench",
    about = "Benchmarks against NSD, Knot DNS and tinydns"
)]
struct Args {
    /// CI smoke run (< 3 minutes): every server started and spot-checked,
    /// mix (a) only, short steps, a 50,000-record large zone.
    #[arg(long)]
    quick: bool,
    /// Records in the generated large zone (default 1,000,000; 50,000 with --quick).
    #[arg(long)]
    records: Option<usize>,
    /// `servers` (the network benchmark, with the per-packet cost in its
    /// report; the default), `compile` (zone compilation), `xdp`
    /// (per-packet cost only) or `all` (servers, then compile).
    #[arg(default_value = "servers")]
    which: String,
}

pub fn run(args: &[OsString]) -> Result<()> {
    let raw: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let args =
        Args::try_parse_from(std::iter::once(OsString::from("bench")).chain(args.iter().cloned()))?;
    let records = args
        .records
        .unwrap_or(if args.quick { 50_000 } else { 1_000_000 });
    let runs = if args.quick { 100_000 } else { 1_000_000 };
    let command = format!("cargo xtask bench {}", raw.join(" "))
        .trim()
        .to_owned();
    match args.which.as_str() {
        "servers" => suite::run(args.quick, records, runs, &command),
        "compile" => compile::compile(records, args.quick),
        "xdp" => {
            setup::ensure(setup::Scope::All)?;
            let table = xdpcost::measure(runs)?;
            println!("{table}");
            write_result(args.quick, &format!("xdp-{}.md", compile::today()), &table)?;
            Ok(())
        }
        "all" => suite::run(args.quick, records, runs, &command)
            .and_then(|()| compile::compile(records, args.quick)),
        other => bail!("unknown benchmark {other:?}; available: servers, compile, xdp, all"),
    }
}

/// The release dnsd the benchmarks run.
fn dnsd_binary() -> PathBuf {
    util::target_dir().join("release/dnsd")
}

/// Where results go: `bench/results/` (committed), or for `--quick` smoke
/// runs `target/bench/results/` (so CI leaves the work tree clean).
fn results_dir(quick: bool) -> PathBuf {
    if quick {
        util::target_dir().join("bench/results")
    } else {
        util::workspace_root().join("bench/results")
    }
}

/// Writes `<results>/<name>`; returns its path.
fn write_result(quick: bool, name: &str, text: &str) -> Result<PathBuf> {
    let dir = results_dir(quick);
    fs::create_dir_all(&dir)?;
    let file = dir.join(name);
    fs::write(&file, text)?;
    eprintln!("xtask: wrote {}", file.display());
    Ok(file)
}
