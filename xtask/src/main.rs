//! `cargo xtask`: project automation (alias in `.cargo/config.toml`).
//!
//! One module per subcommand: `setup`, `ebpf` (build-ebpf and the eBPF
//! clippy), `run`, `test`, `bench`. Shared process helpers live in `util`.

use std::{ffi::OsString, process::ExitCode};

use clap::{Parser, Subcommand};

mod bench;
mod ebpf;
mod run;
mod setup;
mod test;
mod util;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "dnsd project tasks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install what is missing: nightly rust-src, LLVM 22, bpf-linker 0.13.0 and the
    /// test peers (nsd, knot, tinydns, dnsperf, dig, bpftool, iproute2, qemu). Quick when
    /// everything is present.
    Setup,
    /// Build the XDP program into target/ebpf with the exact command aya-build runs.
    BuildEbpf,
    /// Set up, build dnsd in release mode and exec
    /// `target/release/dnsd serve --config examples/dnsd.toml [ARGS...]`.
    Run {
        /// Extra arguments for `dnsd serve`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// Set up, `cargo build --workspace`, `cargo test --workspace [ARGS...]`, then
    /// clippy for the eBPF crate, then `cargo xtask bench --quick`. Run as root:
    /// the XDP tests load programs.
    Test {
        /// Extra arguments for `cargo test --workspace`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// Benchmarks, as root: dnsd (XDP and userspace) against NSD, Knot DNS (UDP and
    /// XDP), tinydns and an address-swapping XDP program over a veth pair, with
    /// ratios to dnsd XDP; writes bench/results/<date>.md and .png. `--quick`: CI
    /// smoke run (< 3 min). Also `compile` (zone compile time) and `xdp`
    /// (per-packet cost).
    Bench {
        /// Arguments for the benchmarks.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Setup => setup::run(),
        Command::BuildEbpf => ebpf::build_command(),
        Command::Run { args } => run::run(&args),
        Command::Test { args } => test::run(&args),
        Command::Bench { args } => bench::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
