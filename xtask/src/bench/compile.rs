//! `cargo xtask bench compile`: zone compilation, dnsd against tinydns-data
//! and nsd-checkzone on the same generated data (also the generator of the
//! large zone the server benchmark serves).

use std::fmt::Write as _;
use std::fs;
use std::io::{BufWriter, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{setup, util};

/// One measured run of a command.
struct Measurement {
    tool: String,
    input: &'static str,
    wall: Duration,
    max_rss_kib: u64,
}

/// Runs `cmd` to completion, measuring wall time and peak RSS (wait4).
fn measure(tool: &str, input: &'static str, cmd: &mut Command) -> Result<Measurement> {
    let shown = util::display(cmd);
    let start = Instant::now();
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {shown}"))?;
    let pid = child.id() as libc::pid_t;
    let mut stderr = child.stderr.context("stderr pipe")?;
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    let mut status = 0;
    // SAFETY: plain libc call; `usage` is a valid, zeroed rusage the kernel fills.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child by pid; status and usage are valid pointers.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    let err = reader.join().unwrap_or_default();
    if r != pid {
        bail!(
            "wait4 failed for {shown}: {}",
            std::io::Error::last_os_error()
        );
    }
    let status = std::process::ExitStatus::from_raw(status);
    if !status.success() {
        bail!("{shown} failed ({status}):\n{}", tail(&err, 20));
    }
    Ok(Measurement {
        tool: tool.to_owned(),
        input,
        wall,
        max_rss_kib: usage.ru_maxrss as u64,
    })
}

fn tail(s: &str, lines: usize) -> String {
    let all: Vec<&str> = s.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The zone compile benchmark (issue: "Compiling 1,000,000 records takes
/// seconds"): the same records in tinydns and RFC 1035 form.
pub fn compile(records: usize, quick: bool) -> Result<()> {
    setup::ensure(setup::Scope::All)?;
    util::run(util::cargo().args(["build", "--release", "-p", "dnsd"]))?;
    let dnsd = util::target_dir().join("release/dnsd");
    let dir = util::target_dir().join("bench/compile");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir)?;
    let total = generate(&dir, records)?;
    eprintln!("xtask: generated {total} records in {}", dir.display());

    let runs = vec![
        measure(
            "dnsd check",
            "tinydns data",
            Command::new(&dnsd)
                .arg("check")
                .arg(dir.join("dnsd-tinydns.toml")),
        )?,
        measure(
            "tinydns-data",
            "tinydns data",
            Command::new("tinydns-data").current_dir(dir.join("tinydns")),
        )?,
        measure(
            "dnsd check",
            "RFC 1035 zone",
            Command::new(&dnsd)
                .arg("check")
                .arg(dir.join("dnsd-rfc1035.toml")),
        )?,
        measure(
            "nsd-checkzone",
            "RFC 1035 zone",
            Command::new("nsd-checkzone")
                .arg("bench.example")
                .arg(dir.join("bench.example.zone")),
        )?,
    ];
    let table = report(&runs, total);
    println!("{table}");
    super::write_result(quick, &format!("compile-{}.md", today()), &table)?;
    Ok(())
}

fn report(runs: &[Measurement], total: usize) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "## Zone compile, {total} records ({}, {} CPUs)\n",
        today(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let _ = writeln!(
        t,
        "| tool | input | seconds | records/s | peak RSS MiB | time vs dnsd on the same input |"
    );
    let _ = writeln!(t, "|---|---|---:|---:|---:|---:|");
    for m in runs {
        let base = runs
            .iter()
            .find(|b| b.input == m.input && b.tool == "dnsd check")
            .map_or(m.wall, |b| b.wall);
        let secs = m.wall.as_secs_f64();
        let _ = writeln!(
            t,
            "| {} | {} | {:.2} | {:.0} | {:.0} | {:.2}× |",
            m.tool,
            m.input,
            secs,
            total as f64 / secs,
            m.max_rss_kib as f64 / 1024.0,
            secs / base.as_secs_f64()
        );
    }
    t
}

pub fn today() -> String {
    util::output(Command::new("date").arg("+%Y-%m-%d"))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| "unknown".into())
}

/// Writes the same `total` records as tinydns `data`, as an RFC 1035 zone,
/// and the two dnsd configs. A deterministic mix: 70% A, 10% AAAA, 10% TXT,
/// 10% MX; names `hN.bench.example`. Returns the record count.
pub fn generate(dir: &Path, total: usize) -> Result<usize> {
    let tiny_dir = dir.join("tinydns");
    fs::create_dir_all(&tiny_dir)?;
    let mut tiny = BufWriter::new(fs::File::create(tiny_dir.join("data"))?);
    let mut zone = BufWriter::new(fs::File::create(dir.join("bench.example.zone"))?);
    // SOA + NS + glue A = 3 records.
    writeln!(
        tiny,
        "Zbench.example:ns1.bench.example:hostmaster.bench.example:1:16384:2048:1048576:2560:2560"
    )?;
    writeln!(tiny, "&bench.example:198.18.0.53:ns1.bench.example:259200")?;
    writeln!(zone, "$ORIGIN bench.example.\n$TTL 86400")?;
    writeln!(
        zone,
        "@ 2560 IN SOA ns1.bench.example. hostmaster.bench.example. 1 16384 2048 1048576 2560"
    )?;
    writeln!(zone, "@ 259200 IN NS ns1.bench.example.")?;
    writeln!(zone, "ns1 259200 IN A 198.18.0.53")?;
    let mut count = 3;
    let mut i = 0usize;
    while count < total {
        let (a, b) = ((i >> 8) & 0xff, i & 0xff);
        match i % 10 {
            0 => {
                writeln!(
                    tiny,
                    ":h{i}.bench.example:28:\\040\\001\\015\\270\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\{:03o}\\{:03o}:300",
                    a, b
                )?;
                writeln!(zone, "h{i} 300 IN AAAA 2001:db8::{a:x}{b:02x}")?;
            }
            1 => {
                writeln!(
                    tiny,
                    "'h{i}.bench.example:v=spf1 ip4\\072198.18.{a}.{b} -all:300"
                )?;
                writeln!(zone, "h{i} 300 IN TXT \"v=spf1 ip4:198.18.{a}.{b} -all\"")?;
            }
            2 => {
                writeln!(
                    tiny,
                    "@h{i}.bench.example::mx{}.bench.example.:10:300",
                    i % 97
                )?;
                writeln!(zone, "h{i} 300 IN MX 10 mx{}.bench.example.", i % 97)?;
            }
            _ => {
                writeln!(tiny, "+h{i}.bench.example:198.18.{a}.{b}:300")?;
                writeln!(zone, "h{i} 300 IN A 198.18.{a}.{b}")?;
            }
        }
        count += 1;
        i += 1;
    }
    tiny.flush()?;
    zone.flush()?;
    fs::write(
        dir.join("dnsd-tinydns.toml"),
        "[[zone]]\nfile = \"tinydns/data\"\nformat = \"tinydns\"\n",
    )?;
    fs::write(
        dir.join("dnsd-rfc1035.toml"),
        "[[zone]]\nname = \"bench.example\"\nfile = \"bench.example.zone\"\n",
    )?;
    Ok(count)
}
