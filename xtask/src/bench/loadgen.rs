//! The load generators, run in the client namespace pinned to CPU 0:
//! kxdpgun (AF_XDP) for the rate search, dnsperf for latency.

use std::fs;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::mixes::Mix;
use super::netns::{self, CLIENT_IF};
use super::servers::client;

/// One kxdpgun run.
#[derive(Clone, Copy, Debug)]
pub struct Step {
    pub offered: u64,
    pub sent: u64,
    pub received: u64,
    pub secs: f64,
}

impl Step {
    pub fn loss(&self) -> f64 {
        if self.sent == 0 {
            1.0
        } else {
            1.0 - self.received as f64 / self.sent as f64
        }
    }

    pub fn answered_rate(&self) -> f64 {
        self.received as f64 / self.secs
    }

    pub fn sent_rate(&self) -> f64 {
        self.sent as f64 / self.secs
    }
}

/// The outcome of a rate search.
#[derive(Clone, Copy, Debug)]
pub struct RateResult {
    /// Answered queries per second at the best step with < 1% loss.
    pub rate: f64,
    /// Whether the generator could not send faster than that (the result
    /// is then a lower bound set by the generator, not the server).
    pub generator_bound: bool,
}

/// kxdpgun for `secs` at `qps`; its XDP program replaces whatever the
/// client veth had while it runs. The previous run's AF_XDP socket is
/// released asynchronously, so "resource is busy" is retried.
pub fn kxdpgun(addr: IpAddr, mix: &Path, qps: u64, secs: u64) -> Result<Step> {
    let mut attempt = 0;
    loop {
        match kxdpgun_once(addr, mix, qps, secs) {
            Err(e) if attempt < 3 && format!("{e:#}").contains("busy") => {
                attempt += 1;
                netns::sleep(Duration::from_secs(1))?;
            }
            other => return other,
        }
    }
}

fn kxdpgun_once(addr: IpAddr, mix: &Path, qps: u64, secs: u64) -> Result<Step> {
    netns::check_interrupted()?;
    let mut cmd = client("timeout");
    cmd.args(["-s", "KILL"])
        .arg((secs + 15).to_string())
        .args(["kxdpgun", "-F", "0", "-b", "16", "-I", CLIENT_IF, "-t"])
        .arg(secs.to_string())
        .arg("-Q")
        .arg(qps.to_string())
        .arg("-i")
        .arg(mix)
        .arg(addr.to_string());
    let out = cmd.output().context("cannot run kxdpgun")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
    };
    match (field("total queries:"), field("total replies:")) {
        (Some(sent), Some(received)) if out.status.success() => Ok(Step {
            offered: qps,
            sent,
            received,
            secs: secs as f64,
        }),
        _ => bail!(
            "kxdpgun failed ({}): {}{}",
            out.status,
            text,
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// The highest answered rate with under 1% loss: double the offered rate
/// from `start` until a step loses ≥ 1% (or the generator falls short of
/// the offered rate), then bisect; at most `steps` runs of `secs` each.
pub fn rate_search(
    addr: IpAddr,
    mix: &Path,
    start: u64,
    steps: usize,
    secs: u64,
    log: &mut dyn FnMut(&Step),
) -> Result<RateResult> {
    let mut good: Option<Step> = None;
    let mut bad: Option<u64> = None;
    let mut qps = start;
    let mut generator_bound = false;
    for _ in 0..steps {
        let step = kxdpgun(addr, mix, qps, secs)?;
        log(&step);
        let short = step.sent_rate() < 0.9 * qps as f64;
        if step.loss() < 0.01 {
            if good.is_none_or(|g| step.answered_rate() > g.answered_rate()) {
                good = Some(step);
            }
            if short {
                // The generator's own ceiling: asking for more is pointless.
                // The result is its bound only if no step lost ≥ 1% yet.
                generator_bound = bad.is_none();
                break;
            }
        } else {
            bad = Some(bad.map_or(qps, |b| b.min(qps)));
        }
        let lo = good.map_or(0, |g| g.offered);
        qps = match bad {
            None => qps * 2,
            Some(hi) if hi > lo + lo / 20 => (lo + hi) / 2,
            Some(_) => break, // within 5%: close enough
        };
        if qps == 0 {
            break;
        }
    }
    Ok(RateResult {
        rate: good.map_or(0.0, |g| g.answered_rate()),
        generator_bound,
    })
}

/// dnsperf at a fixed rate.
#[derive(Clone, Copy, Debug)]
pub struct Latency {
    pub avg_us: f64,
    pub max_us: f64,
    pub lost_pct: f64,
}

/// dnsperf for `secs` at `qps` (kernel sockets; the client veth needs its
/// XDP_PASS program for replies sent with XDP_TX).
pub fn dnsperf(addr: IpAddr, mix: Mix, qps: u64, secs: u64, scratch: &Path) -> Result<Latency> {
    netns::check_interrupted()?;
    // dnsperf takes `name type`; the DO bit is its -D flag.
    let text = fs::read_to_string(mix.path()?)?;
    let input = scratch.join(format!("dnsperf-{}.txt", mix.short()));
    let stripped: String = text
        .lines()
        .map(|l| format!("{}\n", l.trim_end_matches(" D")))
        .collect();
    fs::write(&input, stripped)?;
    let mut cmd = client("taskset");
    cmd.args(["-c", "0", "timeout", "-s", "KILL"])
        .arg((secs + 20).to_string())
        .args(["dnsperf", "-s"])
        .arg(addr.to_string())
        .arg("-d")
        .arg(&input)
        .arg("-l")
        .arg(secs.to_string())
        .arg("-Q")
        .arg(qps.to_string())
        .args(["-c", "8", "-q", "500", "-t", "1"]);
    if mix.dnssec_ok() {
        cmd.arg("-D");
    }
    let out = cmd.output().context("cannot run dnsperf")?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_dnsperf(&text).with_context(|| {
        format!(
            "dnsperf failed ({}): {text}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn parse_dnsperf(text: &str) -> Option<Latency> {
    let line = |key: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(key))
            .map(str::trim)
    };
    // "Average Latency (s):  0.000137 (min 0.000031, max 0.002134)"
    let avg_line = line("Average Latency (s):")?;
    let avg: f64 = avg_line.split_whitespace().next()?.parse().ok()?;
    let max: f64 = avg_line
        .split("max ")
        .nth(1)?
        .trim_end_matches(')')
        .parse()
        .ok()?;
    // "Queries lost:         0 (0.00%)"
    let lost = line("Queries lost:")?;
    let pct: f64 = lost
        .split('(')
        .nth(1)?
        .trim_end_matches(')')
        .trim_end_matches('%')
        .parse()
        .ok()?;
    Some(Latency {
        avg_us: avg * 1e6,
        max_us: max * 1e6,
        lost_pct: pct,
    })
}

/// A pause between runs so queues drain and the server settles.
pub fn settle() -> Result<()> {
    netns::sleep(Duration::from_millis(300))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dnsperf_statistics() {
        let text = "Statistics:\n\n  Queries sent:         100000\n  Queries completed:    99990 (99.99%)\n  Queries lost:         10 (0.01%)\n\n  Response codes:       NOERROR 99990 (100.00%)\n  Average Latency (s):  0.000137 (min 0.000031, max 0.002134)\n  Latency StdDev (s):   0.000050\n";
        let l = parse_dnsperf(text).expect("parses");
        assert!((l.avg_us - 137.0).abs() < 1e-6);
        assert!((l.max_us - 2134.0).abs() < 1e-6);
        assert!((l.lost_pct - 0.01).abs() < 1e-9);
        assert!(parse_dnsperf("Statistics:\n").is_none());
    }
}
