//! The results of one run and their Markdown form: absolute figures, each
//! with its ratio to dnsd with XDP from the same run.

use std::fmt::Write as _;
use std::time::Duration;

use super::loadgen::{Latency, RateResult};
use super::mixes::Mix;
use super::servers::Kind;

/// Everything measured for one server.
pub struct ServerResult {
    pub kind: Kind,
    pub rates: Vec<(Mix, RateResult)>,
    pub latency: Vec<(Mix, Latency)>,
    pub load_time: Option<Duration>,
    /// (peak RSS, BPF maps), KiB.
    pub memory_kib: Option<(u64, u64)>,
    /// dnsd XDP: share of the answers sent by the XDP program, per mix.
    pub xdp_share: Vec<(Mix, f64)>,
    /// dnsd XDP: zone file renamed into place → new answer over the veth.
    pub reload: Option<Duration>,
}

impl ServerResult {
    pub fn new(kind: Kind) -> ServerResult {
        ServerResult {
            kind,
            rates: Vec::new(),
            latency: Vec::new(),
            load_time: None,
            memory_kib: None,
            xdp_share: Vec::new(),
            reload: None,
        }
    }

    pub fn rate(&self, mix: Mix) -> Option<RateResult> {
        self.rates.iter().find(|(m, _)| *m == mix).map(|(_, r)| *r)
    }

    fn latency(&self, mix: Mix) -> Option<Latency> {
        self.latency
            .iter()
            .find(|(m, _)| *m == mix)
            .map(|(_, l)| *l)
    }
}

/// How the run was set up, for the header.
pub struct RunInfo {
    pub date: String,
    pub machine: String,
    pub command: String,
    pub large_records: usize,
    pub latency_qps: u64,
    pub step_secs: u64,
    pub mixes: Vec<Mix>,
    pub elapsed: Duration,
    /// /proc/loadavg's 1-minute figure at the start and the end: how busy
    /// the (shared) machine was apart from the benchmark.
    pub load_avg: (String, String),
}

/// `value (ratio×)`, the ratio against the dnsd XDP figure.
fn with_ratio(value: Option<f64>, base: Option<f64>, digits: usize) -> String {
    match value {
        None => "–".to_owned(),
        Some(v) => {
            let ratio = base
                .filter(|b| *b > 0.0)
                .map_or(String::new(), |b| format!(" ({:.2}×)", v / b));
            format!("{}{ratio}", group(v, digits))
        }
    }
}

/// Thousands separators for large figures.
fn group(v: f64, digits: usize) -> String {
    if digits > 0 || v.abs() < 10_000.0 {
        return format!("{v:.digits$}");
    }
    let s = format!("{:.0}", v);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn markdown(info: &RunInfo, results: &[ServerResult], xdp_cost: &str) -> String {
    let base = results.iter().find(|r| r.kind == Kind::DnsdXdp);
    let mut t = String::new();
    let _ = writeln!(t, "# dnsd benchmark, {}\n", info.date);
    let _ = writeln!(t, "Machine: {}  ", info.machine);
    let _ = writeln!(
        t,
        "Command: `{}` (took {:.0} s; load average {} at the start, {} at the end)\n",
        info.command,
        info.elapsed.as_secs_f64(),
        info.load_avg.0,
        info.load_avg.1
    );
    let _ = writeln!(
        t,
        "Setup: two network namespaces joined by a veth pair (198.18.53.0/24, \
         2001:db8:0:53::/64), native XDP on the server side. Each server runs alone, \
         pinned to CPU 1, on the same zones (examples/zones/example.info.zone and a \
         generated zone of {} names); the load generators run on CPU 0. Ratios are to \
         dnsd with XDP in this run. Queries go over IPv6 (kxdpgun sends IPv4 UDP with a \
         zero checksum, which dnsd's XDP program passes by design), except to tinydns, \
         which only speaks IPv4.\n",
        group(info.large_records as f64, 0)
    );
    let _ = writeln!(
        t,
        "Load generators: kxdpgun (AF_XDP in native mode on the client veth) for the \
         rates, dnsperf (kernel sockets; an XDP_PASS program on the client veth makes \
         veth deliver the server's XDP_TX frames) for latency. Query mixes: \
         `bench/mixes/*.txt`; (c) and (d) hold 50,000 names each, which the generators \
         cycle through. Every server was spot-checked with kdig (answer sections and \
         RCODEs against the zone files) before it was measured.\n"
    );

    let _ = writeln!(
        t,
        "## Highest rate answered with < 1% loss (kxdpgun, answered queries/s)\n"
    );
    let _ = writeln!(
        t,
        "Offered rate searched (doubling, then bisection; {} s per step). † = the \
         generator could not send faster: a lower bound set by kxdpgun and the veth \
         path, not by the server.\n",
        info.step_secs
    );
    header(&mut t, "server", &info.mixes);
    for r in results {
        let _ = write!(t, "| {} |", r.kind.name());
        for &mix in &info.mixes {
            let v = r.rate(mix);
            let b = base.and_then(|b| b.rate(mix)).map(|x| x.rate);
            let mark = if v.is_some_and(|v| v.generator_bound) {
                " †"
            } else {
                ""
            };
            let _ = write!(t, " {}{mark} |", with_ratio(v.map(|v| v.rate), b, 0));
        }
        t.push('\n');
    }

    let _ = writeln!(
        t,
        "\n## Latency at {} queries/s (dnsperf, 8 clients): average µs (ratio) / max µs / lost\n",
        group(info.latency_qps as f64, 0)
    );
    header(&mut t, "server", &info.mixes);
    for r in results {
        let _ = write!(t, "| {} |", r.kind.name());
        for &mix in &info.mixes {
            let l = r.latency(mix);
            let b = base.and_then(|b| b.latency(mix)).map(|x| x.avg_us);
            match l {
                Some(l) => {
                    let _ = write!(
                        t,
                        " {} / {:.0} / {:.2}% |",
                        with_ratio(Some(l.avg_us), b, 0),
                        l.max_us,
                        l.lost_pct
                    );
                }
                None => t.push_str(" – |"),
            }
        }
        t.push('\n');
    }

    let _ = writeln!(
        t,
        "\n## Large zone ({} names): zone load time and peak memory\n",
        group(info.large_records as f64, 0)
    );
    let _ = writeln!(
        t,
        "Load time: from starting the server until it answers the large zone's SOA \
         (tinydns: including tinydns-data). Memory: VmHWM summed over the server's \
         processes, plus BPF map memory (memlock) they hold.\n"
    );
    let _ = writeln!(
        t,
        "| server | load time s | peak RSS MiB | BPF maps MiB | total MiB |"
    );
    let _ = writeln!(t, "|---|---:|---:|---:|---:|");
    let base_load = base.and_then(|b| b.load_time).map(|d| d.as_secs_f64());
    let base_mem = base
        .and_then(|b| b.memory_kib)
        .map(|(r, m)| (r + m) as f64 / 1024.0);
    for r in results.iter().filter(|r| r.kind.is_server()) {
        let mem = r.memory_kib;
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} |",
            r.kind.name(),
            with_ratio(r.load_time.map(|d| d.as_secs_f64()), base_load, 2),
            mem.map_or("–".into(), |(rss, _)| format!(
                "{:.0}",
                rss as f64 / 1024.0
            )),
            mem.map_or("–".into(), |(_, m)| format!("{:.1}", m as f64 / 1024.0)),
            with_ratio(mem.map(|(rss, m)| (rss + m) as f64 / 1024.0), base_mem, 0)
        );
    }

    if let Some(b) = base {
        let _ = writeln!(t, "\n## dnsd with XDP\n");
        if let Some(d) = b.reload {
            let _ = writeln!(
                t,
                "- Zone file change → new answer served by XDP: **{:.0} ms** (a modified \
                 example.info.zone renamed into place while polling `www.example.info A` \
                 over the veth every millisecond; dnsd recompiles every zone, the \
                 {}-name zone included, and swaps the XDP table).",
                d.as_secs_f64() * 1000.0,
                group(info.large_records as f64, 0)
            );
        }
        for (mix, share) in &b.xdp_share {
            let _ = writeln!(
                t,
                "- Answers sent by the XDP program during the rate search of {}: {:.0}% \
                 (the rest by userspace).",
                mix.label(),
                share * 100.0
            );
        }
    }

    let _ = writeln!(t, "\n## Per-packet cost of the XDP program\n\n{xdp_cost}");
    let _ = writeln!(t, "## Targets (not tuned for; where we stand)\n");
    targets(&mut t, results, xdp_cost);
    t
}

fn header(t: &mut String, first: &str, mixes: &[Mix]) {
    let _ = write!(t, "| {first} |");
    for m in mixes {
        let _ = write!(t, " {} |", m.label());
    }
    let _ = write!(t, "\n|---|");
    for _ in mixes {
        t.push_str("---:|");
    }
    t.push('\n');
}

fn targets(t: &mut String, results: &[ServerResult], xdp_cost: &str) {
    let result = |k: Kind, m: Mix| results.iter().find(|r| r.kind == k).and_then(|r| r.rate(m));
    let rate = |k: Kind, m: Mix| result(k, m).map(|r| r.rate);
    let a = Mix::Personal;
    if let (Some(d), Some(s)) = (result(Kind::DnsdXdp, a), result(Kind::Swap, a)) {
        // A ceiling the generator could not reach is no ceiling.
        let caveat = if s.generator_bound {
            "; the swap program's rate is itself only kxdpgun's limit here (†), \
             so the path's real ceiling is higher and this share an upper bound"
        } else {
            ""
        };
        let _ = writeln!(
            t,
            "- dnsd XDP vs the address-swap ceiling on mix (a): {:.0}% (target ≥ 90%){caveat}",
            d.rate / s.rate * 100.0
        );
    }
    if let (Some(d), Some(k)) = (rate(Kind::DnsdXdp, a), rate(Kind::KnotXdp, a)) {
        let _ = writeln!(
            t,
            "- dnsd XDP vs Knot DNS XDP on mix (a): {:.2}× (target ≥ 2.5×)",
            d / k
        );
    }
    for mix in Mix::ALL {
        if let (Some(d), Some(n)) = (rate(Kind::DnsdUser, mix), rate(Kind::Nsd, mix)) {
            let _ = writeln!(
                t,
                "- dnsd userspace vs NSD on mix {}: {:.2}× (target ≥ 1)",
                mix.label(),
                d / n
            );
        }
    }
    if let Some(line) = xdp_cost_ratio(xdp_cost) {
        let _ = writeln!(t, "- {line} (target ≤ 2×)");
    }
}

/// From the BPF_PROG_TEST_RUN table: the exact hit's ns/packet against the
/// swap baseline's, raw and net of the timer's fixed cost.
fn xdp_cost_ratio(table: &str) -> Option<String> {
    let row = |prefix: &str| -> Option<Vec<String>> {
        table
            .lines()
            .find(|l| l.starts_with(&format!("| {prefix}")))
            .map(|l| l.split('|').map(|c| c.trim().to_owned()).collect())
    };
    let hit = row("exact hit")?;
    let swap = row("baseline dnsd_swap (")?;
    let ns = |r: &[String]| r.get(3).and_then(|c| c.parse::<f64>().ok());
    Some(format!(
        "XDP program vs address swap, exact hit, BPF_PROG_TEST_RUN: {:.1}× raw ns/packet, {} net",
        ns(&hit)? / ns(&swap)?,
        hit.get(5)?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_cells() {
        assert_eq!(
            with_ratio(Some(150_000.0), Some(100_000.0), 0),
            "150,000 (1.50×)"
        );
        assert_eq!(with_ratio(Some(0.5), Some(2.0), 2), "0.50 (0.25×)");
        assert_eq!(with_ratio(None, Some(2.0), 0), "–");
        assert_eq!(with_ratio(Some(3.0), None, 1), "3.0");
    }

    #[test]
    fn reads_the_xdp_cost_table() {
        let table = "| case | runs | ns/packet | net ns/packet | net vs address swap |\n|---|\n| exact hit (www A) | 1 | 300 | 240 | 8.0× |\n| baseline dnsd_swap (swap, XDP_TX) | 1 | 100 | 30 | 1.0× |\n";
        let line = xdp_cost_ratio(table).expect("rows found");
        assert!(line.contains("3.0× raw"), "{line}");
        assert!(line.contains("8.0× net"), "{line}");
    }
}
