//! `cargo xtask test`: what CI runs (`.ci/run`).

use std::ffi::OsString;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use anyhow::{Context, Result, bail};

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
    let tests = run_tests(args);
    // The checks below are silent when clean; they run even when tests
    // failed, so one CI run reports everything.
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
    // Last: every benchmarked server must start and answer the spot checks.
    let bench = crate::bench::run(&[OsString::from("--quick")]);
    let result = tests.and_then(|totals| {
        fmt.and(clippy).and(ebpf_clippy).and(fuzz).and(bench)?;
        Ok(totals)
    });
    // One closing line for the whole suite, after every check.
    match &result {
        Ok(t) => println!(
            "summary: {} passed, 0 failed, {} skipped",
            t.passed, t.ignored
        ),
        Err(e) => println!("summary: failed: {e:#}"),
    }
    result.map(|_| ())
}

/// Runs `cargo test --workspace`, echoing its output, and adds up the
/// `test result:` lines of every test binary.
struct Totals {
    passed: u64,
    failed: u64,
    ignored: u64,
}

fn run_tests(args: &[OsString]) -> Result<Totals> {
    let mut cmd = util::cargo();
    cmd.args(["test", "--workspace", "--no-fail-fast"])
        .args(args);
    eprintln!("xtask: $ {}", util::display(&cmd));
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot start cargo test")?;
    let stdout = child.stdout.take().context("cargo test stdout")?;
    let mut totals = Totals {
        passed: 0,
        failed: 0,
        ignored: 0,
    };
    for line in BufReader::new(stdout).lines() {
        let line = line.context("reading cargo test output")?;
        println!("{line}");
        if let Some(rest) = line.strip_prefix("test result: ") {
            for part in rest.split(['.', ';']) {
                let mut words = part.split_whitespace();
                if let (Some(n), Some(what)) = (words.next(), words.next())
                    && let Ok(n) = n.parse::<u64>()
                {
                    match what {
                        "passed" => totals.passed += n,
                        "failed" => totals.failed += n,
                        "ignored" => totals.ignored += n,
                        _ => {}
                    }
                }
            }
        }
    }
    let status = child.wait().context("waiting for cargo test")?;
    if !status.success() || totals.failed > 0 {
        bail!(
            "cargo test failed ({status}): {} passed, {} failed",
            totals.passed,
            totals.failed
        );
    }
    if totals.passed == 0 {
        bail!("cargo test ran no test");
    }
    Ok(totals)
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
