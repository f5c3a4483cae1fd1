//! The network benchmark: every server in turn on the same zones and mixes,
//! spot-checked, then measured; one report with ratios to dnsd with XDP.

use std::collections::BTreeMap;
use std::fs;
use std::os::fd::OwnedFd;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::loadgen::{self, Step};
use super::mixes::Mix;
use super::netns::{self, CLIENT_IF, CLIENT_NS, NetPair, Program};
use super::probe::Prober;
use super::report::{self, RunInfo, ServerResult};
use super::servers::{self, Kind, Server};
use super::{chart, check, compile, xdpcost};
use crate::{setup, util};

/// Run lengths: full and `--quick`.
struct Plan {
    mixes: Vec<Mix>,
    start_qps: u64,
    steps: usize,
    step_secs: u64,
    latency_qps: u64,
    latency_secs: u64,
}

impl Plan {
    fn new(quick: bool) -> Plan {
        if quick {
            Plan {
                mixes: vec![Mix::Personal],
                start_qps: 50_000,
                steps: 4,
                step_secs: 1,
                latency_qps: 5_000,
                latency_secs: 2,
            }
        } else {
            Plan {
                mixes: Mix::ALL.to_vec(),
                start_qps: 50_000,
                steps: 8,
                step_secs: 2,
                latency_qps: 20_000,
                latency_secs: 5,
            }
        }
    }
}

pub fn run(quick: bool, records: usize, runs: u32, command: &str) -> Result<()> {
    let started = Instant::now();
    let load_at_start = load_avg();
    setup::ensure(setup::Scope::All)?;
    if !util::is_root() {
        bail!(
            "`cargo xtask bench` creates network namespaces and loads XDP programs: run it as root"
        );
    }
    netns::install_signal_handlers();
    util::run(util::cargo().args(["build", "--release", "-p", "dnsd"]))?;
    let xdp_cost = xdpcost::measure(runs)?;
    netns::check_interrupted()?;

    let plan = Plan::new(quick);
    let work = util::target_dir().join("bench/servers");
    let zones = servers::zone_set(&work.join("zones"), records)?;
    let mix_files: BTreeMap<&str, _> = plan
        .mixes
        .iter()
        .map(|m| Ok((m.short(), m.path()?)))
        .collect::<Result<_>>()?;

    let _pair = NetPair::new()?;
    let prober = Prober::new()?;
    let mut pass = Some(attach_pass()?);
    let mut results = Vec::new();
    for kind in Kind::ALL {
        eprintln!("xtask: bench: {}", kind.name());
        let mut server = servers::start(kind, &zones, &work.join(slug(kind)), &prober)
            .with_context(|| format!("starting {}", kind.name()))?;
        let checked = check::spot_check(kind)?;
        eprintln!(
            "xtask: bench: {} answers {checked} spot-check queries correctly{}",
            kind.name(),
            if kind.is_server() {
                format!("; load time {:.2?}", server.load_time)
            } else {
                String::new()
            }
        );
        let mut result = ServerResult::new(kind);
        if kind.is_server() {
            result.load_time = Some(server.load_time);
        }
        for &mix in &plan.mixes {
            let file = &mix_files[mix.short()];
            let before = dnsd_stats(&server)?;
            // kxdpgun attaches its own XDP program to the client veth.
            pass = None;
            let rate = loadgen::rate_search(
                kind.addr(),
                file,
                plan.start_qps,
                plan.steps,
                plan.step_secs,
                &mut |s: &Step| {
                    eprintln!(
                        "xtask: bench:   {} {}: offered {} sent {:.0}/s answered {:.0}/s loss {:.2}%",
                        kind.name(),
                        mix.short(),
                        s.offered,
                        s.sent_rate(),
                        s.answered_rate(),
                        s.loss() * 100.0
                    )
                },
            );
            pass.get_or_insert(attach_pass()?);
            let rate = rate?;
            if let (Some(b), Some(a)) = (before, dnsd_stats(&server)?) {
                let xdp = stat_delta(&b, &a, "xdp.answered_");
                let user = stat_delta(&b, &a, "userspace.udp_responses");
                if kind == Kind::DnsdXdp {
                    if xdp == 0 {
                        bail!(
                            "dnsd XDP: the XDP program answered nothing during mix {}",
                            mix.short()
                        );
                    }
                    result
                        .xdp_share
                        .push((mix, xdp as f64 / (xdp + user).max(1) as f64));
                } else if xdp != 0 {
                    bail!("dnsd userspace: {xdp} answers came from XDP");
                }
            }
            result.rates.push((mix, rate));
            loadgen::settle()?;
            let scratch = work.join("scratch");
            fs::create_dir_all(&scratch)?;
            let latency = loadgen::dnsperf(
                kind.addr(),
                mix,
                plan.latency_qps,
                plan.latency_secs,
                &scratch,
            )?;
            eprintln!(
                "xtask: bench:   {} {}: {:.0} q/s max with <1% loss{}; latency avg {:.0} µs max {:.0} µs lost {:.2}%",
                kind.name(),
                mix.short(),
                rate.rate,
                if rate.generator_bound {
                    " (generator-bound)"
                } else {
                    ""
                },
                latency.avg_us,
                latency.max_us,
                latency.lost_pct
            );
            result.latency.push((mix, latency));
            server.check_running()?;
        }
        if kind == Kind::DnsdXdp {
            let reload = reload_latency(&server, &prober)?;
            eprintln!("xtask: bench:   zone change → XDP answer: {reload:.2?}");
            result.reload = Some(reload);
        }
        if let Some(pid) = server.pid() {
            result.memory_kib = Some(servers::peak_memory_kib(pid));
        }
        server.check_running()?;
        drop(server);
        results.push(result);
    }
    drop(pass);

    let date = compile::today();
    let info = RunInfo {
        date: date.clone(),
        machine: machine(),
        command: command.to_owned(),
        large_records: zones.large_records,
        latency_qps: plan.latency_qps,
        step_secs: plan.step_secs,
        mixes: plan.mixes.clone(),
        elapsed: started.elapsed(),
        load_avg: (load_at_start, load_avg()),
    };
    let png = format!("{date}.png");
    let mut md = report::markdown(&info, &results, &xdp_cost);
    md.push_str(&format!("\n![rates]({png})\n"));
    println!("{md}");
    super::write_result(quick, &format!("{date}.md"), &md)?;
    let png_path = super::results_dir(quick).join(&png);
    chart::rates_png(
        &png_path,
        &format!("dnsd benchmark {date}: highest rate with < 1% loss (veth, kxdpgun)"),
        &plan.mixes,
        &results,
    )?;
    eprintln!("xtask: wrote {}", png_path.display());
    Ok(())
}

/// The client veth's XDP_PASS program. kxdpgun leaves its own program
/// attached when it exits (netlink attachment, not a link), so that one is
/// removed first.
fn attach_pass() -> Result<OwnedFd> {
    netns::detach_netlink(CLIENT_NS, CLIENT_IF);
    netns::attach(CLIENT_NS, CLIENT_IF, Program::Pass)
}

fn slug(kind: Kind) -> String {
    kind.name().to_lowercase().replace(' ', "-")
}

/// dnsd's counters (`dnsd stats`), `None` for other servers.
fn dnsd_stats(server: &Server) -> Result<Option<BTreeMap<String, u64>>> {
    let Some(config) = &server.config else {
        return Ok(None);
    };
    let out = Command::new(super::dnsd_binary())
        .arg("stats")
        .arg("--config")
        .arg(config)
        .output()
        .context("dnsd stats")?;
    if !out.status.success() {
        bail!(
            "dnsd stats failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let (k, v) = l.split_once(' ')?;
                Some((k.to_owned(), v.trim().parse().ok()?))
            })
            .collect(),
    ))
}

/// How much the counters starting with `prefix` grew.
fn stat_delta(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>, prefix: &str) -> u64 {
    after
        .iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .map(|(k, v)| v.saturating_sub(before.get(k).copied().unwrap_or(0)))
        .sum()
}

/// Zone file change → new answer served by XDP: renames a copy of the
/// example zone with www's address changed into place, polls until the new
/// address is answered, then checks that XDP answers it.
fn reload_latency(server: &Server, prober: &Prober) -> Result<Duration> {
    const OLD: &str = "www             IN A     192.0.2.10";
    const NEW: &str = "www             IN A     192.0.2.11";
    let zone = server.dir.join("example.info.zone");
    let text = fs::read_to_string(&zone)?;
    if !text.contains(OLD) {
        bail!("{} has no line {OLD:?}", zone.display());
    }
    let new = text
        .replace(OLD, NEW)
        .replace("2024060101 ; serial", "2024060102 ; serial");
    let tmp = server.dir.join(".example.info.zone.new");
    fs::write(&tmp, new)?;
    let addr = Kind::DnsdXdp.addr();
    let since = Instant::now();
    fs::rename(&tmp, &zone)?;
    let took = prober.time_until_a(
        addr,
        "www.example.info",
        [192, 0, 2, 11],
        since,
        Duration::from_secs(300),
    )?;
    let before = dnsd_stats(server)?.unwrap_or_default();
    const CHECKS: u64 = 20;
    for _ in 0..CHECKS {
        prober.time_until_a(
            addr,
            "www.example.info",
            [192, 0, 2, 11],
            Instant::now(),
            Duration::from_secs(1),
        )?;
    }
    let after = dnsd_stats(server)?.unwrap_or_default();
    let by_xdp = stat_delta(&before, &after, "xdp.answered_answer");
    if by_xdp < CHECKS {
        bail!(
            "after the zone change XDP answered {by_xdp} of {CHECKS} queries for the new address"
        );
    }
    Ok(took)
}

/// The 1-minute load average.
fn load_avg() -> String {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// CPU model, CPUs, memory, kernel and the peers' versions.
fn machine() -> String {
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mem = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(String::new(), |k| format!(", {} GiB RAM", k / 1024 / 1024));
    let version = |cmd: &mut Command| {
        util::output(cmd)
            .map(|s| s.lines().next().unwrap_or("").trim().to_owned())
            .unwrap_or_default()
    };
    let kernel = version(Command::new("uname").arg("-r"));
    let knot = version(Command::new("knotd").arg("--version"));
    let nsd = fs::read_to_string("/var/lib/dpkg/status")
        .ok()
        .and_then(|s| {
            s.split("\n\n")
                .find(|p| p.starts_with("Package: nsd\n"))
                .and_then(|p| p.lines().find_map(|l| l.strip_prefix("Version: ")))
                .map(str::to_owned)
        })
        .unwrap_or_default();
    format!(
        "{cpu}, {cpus} CPUs{mem}, Linux {kernel} (a shared VM); {knot}, NSD {nsd}, tinydns 1.05 (Debian)"
    )
}
