//! Per-packet cost of the XDP program, measured with `BPF_PROG_TEST_RUN`,
//! next to the trivial `dnsd_swap` program (swap MACs, addresses, ports;
//! XDP_TX) as the floor. For `cargo xtask bench` and the measurement test.
//!
//! **Why one run per call:** with `repeat` > 1 the kernel runs the program
//! again on the frame the previous run left behind (it does not restore
//! the input between repetitions), so from the second run on `dnsd` sees
//! its own reply and passes it. The answering cases are therefore sampled
//! with `repeat = 1` per call, averaging the kernel's own per-run time
//! (which excludes the syscall, but includes the timer's fixed cost). The
//! swap baseline, which is its own inverse, is measured both ways; the
//! difference is that fixed cost, subtracted in [`Measurement::net_ns`].
//!
//! Needs root (loads the program). Numbers depend on the machine and
//! kernel; they exclude the driver and the NIC.

use std::{
    net::{IpAddr, Ipv4Addr},
    path::{Path, PathBuf},
    sync::Arc,
};

use super::{Config, XdpError, XdpProgram, action, frame::FrameSpec};
use crate::{
    config::WildcardMode,
    engine::EngineSettings,
    fastpath::table,
    wire::name::Name,
    zone::{
        compile::{ZoneInput, compile_inputs},
        master,
        snapshot::Snapshot,
    },
};

/// The zone every measurement answers from.
pub const BENCH_ZONE: &str = "\
$ORIGIN example.com.
$TTL 3600
@       SOA   ns1 hostmaster 1 3600 900 604800 300
@       NS    ns1
ns1     A     192.0.2.53
www     A     192.0.2.1
*.wild  A     192.0.2.99
";

/// The address the benchmark frames are sent to (allow-listed).
pub const BENCH_SERVER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 53));
/// The address the benchmark frames come from.
pub const BENCH_CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));

/// Why a benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Xdp(#[from] XdpError),
    #[error("the benchmark zone does not compile: {0}")]
    Zone(String),
    #[error("{case}: the program returned action {action}, expected {expected} ({reason})")]
    Verdict {
        case: &'static str,
        action: u32,
        expected: u32,
        /// The counters that moved in a single run.
        reason: String,
    },
}

/// One measured case.
#[derive(Clone, Debug, PartialEq)]
pub struct Measurement {
    /// What was measured.
    pub case: &'static str,
    /// The program's verdict (the same for every run).
    pub action: u32,
    /// Mean kernel time per run, in nanoseconds.
    pub ns_per_packet: f64,
    /// Runs measured.
    pub runs: u32,
    /// Runs per `BPF_PROG_TEST_RUN` call (1, or `runs` for the in-kernel
    /// repeat of the swap baseline).
    pub repeat: u32,
    /// `ns_per_packet` minus the fixed cost of a one-run call (see the
    /// module notes); equal to `ns_per_packet` for in-kernel repeats.
    pub net_ns: f64,
}

/// Mean kernel-measured time of `runs` single-run calls; every run must
/// return `expected`.
fn sample(
    runs: u32,
    case: &'static str,
    expected: u32,
    mut run_once: impl FnMut() -> Result<super::TestRunOutput, XdpError>,
) -> Result<f64, BenchError> {
    let mut total_ns: u128 = 0;
    for _ in 0..runs {
        let out = run_once()?;
        if out.action != expected {
            return Err(BenchError::Verdict {
                case,
                action: out.action,
                expected,
                reason: "changed between runs".into(),
            });
        }
        total_ns += out.duration.as_nanos();
    }
    Ok(total_ns as f64 / f64::from(runs.max(1)))
}

/// Compiles [`BENCH_ZONE`].
pub fn bench_snapshot() -> Result<Snapshot, BenchError> {
    let apex = Name::parse_text("example.com.").map_err(|e| BenchError::Zone(e.to_string()))?;
    let file: Arc<Path> = Arc::from(Path::new("bench.zone"));
    let parsed = master::parse(BENCH_ZONE, &file, &apex, 3600);
    if parsed.has_errors() {
        return Err(BenchError::Zone(format!("{:?}", parsed.diagnostics)));
    }
    let input = ZoneInput {
        apex,
        records: parsed.records,
        wildcards: WildcardMode::Rfc4592,
        source: PathBuf::from("bench.zone"),
    };
    compile_inputs(vec![input], Vec::new())
        .map(|c| c.snapshot)
        .map_err(|e| BenchError::Zone(format!("{e}: {:?}", e.diagnostics)))
}

/// A query for `name`/`qtype` with RD set, no OPT.
pub fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut m = Vec::with_capacity(64);
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&[1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.trim_end_matches('.').split('.') {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.push(0);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    m
}

/// Measures `runs` runs (at least 1,000,000 make a stable number) each
/// of: an exact hit, a wildcard hit, an NXDOMAIN (all XDP_TX from `dnsd`),
/// the exact hit's frame through the `dnsd_swap` baseline (once with one
/// run per call and once repeated in the kernel), and two passed frames
/// (repeated in the kernel).
pub fn run(runs: u32) -> Result<Vec<Measurement>, BenchError> {
    let runs = runs.max(1);
    let snapshot = bench_snapshot()?;
    let settings = EngineSettings::default();
    let table = table::build(&snapshot, &settings);
    let mut program = XdpProgram::load(Config::new(53).with_edns_udp_size(settings.edns_udp_size))?;
    program.load_table(&table)?;
    program.set_addresses(&[BENCH_SERVER])?;
    let spec = FrameSpec::new(BENCH_CLIENT, BENCH_SERVER);
    let cases: [(&'static str, Vec<u8>); 3] = [
        (
            "exact hit (www.example.com A)",
            query(1, "www.example.com", 1),
        ),
        (
            "wildcard hit (host.wild.example.com A)",
            query(2, "host.wild.example.com", 1),
        ),
        (
            "NXDOMAIN (nope.example.com A)",
            query(3, "nope.example.com", 1),
        ),
    ];
    let mut out = Vec::new();
    for (case, msg) in &cases {
        let frame = spec.build(msg);
        let before = program.counters()?;
        let once = program.test_run(&frame, 1)?;
        if once.action != action::TX {
            let after = program.counters()?;
            let moved: Vec<String> = (0..super::COUNTER_SLOTS)
                .filter(|&i| after.get(i) != before.get(i))
                .map(|i| super::counter_name(i).unwrap_or("unnamed").to_owned())
                .collect();
            return Err(BenchError::Verdict {
                case,
                action: once.action,
                expected: action::TX,
                reason: moved.join(", "),
            });
        }
        let ns = sample(runs, case, action::TX, || program.test_run(&frame, 1))?;
        out.push(Measurement {
            case,
            action: action::TX,
            ns_per_packet: ns,
            runs,
            repeat: 1,
            net_ns: ns,
        });
    }
    let frame = spec.build(&cases[0].1);
    const SWAP: &str = "baseline dnsd_swap (swap MACs/IPs/ports, XDP_TX)";
    const SWAP_REPEAT: &str = "baseline dnsd_swap, repeated in the kernel";
    let one = sample(runs, SWAP, action::TX, || program.test_run_swap(&frame, 1))?;
    let repeated = program.test_run_swap(&frame, runs)?;
    if repeated.action != action::TX {
        return Err(BenchError::Verdict {
            case: SWAP_REPEAT,
            action: repeated.action,
            expected: action::TX,
            reason: String::new(),
        });
    }
    let in_kernel = repeated.duration.as_nanos() as f64;
    let fixed = (one - in_kernel).max(0.0);
    for m in &mut out {
        m.net_ns = (m.ns_per_packet - fixed).max(0.0);
    }
    out.push(Measurement {
        case: SWAP,
        action: action::TX,
        ns_per_packet: one,
        runs,
        repeat: 1,
        net_ns: (one - fixed).max(0.0),
    });
    out.push(Measurement {
        case: SWAP_REPEAT,
        action: action::TX,
        ns_per_packet: in_kernel,
        runs,
        repeat: runs,
        net_ns: in_kernel,
    });
    // Passed frames are left untouched, so the kernel's repeat is exact.
    let elsewhere = FrameSpec::new(BENCH_CLIENT, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 54)));
    let passes: [(&'static str, Vec<u8>); 2] = [
        (
            "pass: destination not allow-listed",
            elsewhere.build(&cases[0].1),
        ),
        (
            "pass: out of zone (www.example.net A; 3 probes, 5 before the shortest-name hint)",
            spec.build(&query(4, "www.example.net", 1)),
        ),
    ];
    for (case, frame) in &passes {
        let run = program.test_run(frame, runs)?;
        if run.action != action::PASS {
            return Err(BenchError::Verdict {
                case,
                action: run.action,
                expected: action::PASS,
                reason: String::new(),
            });
        }
        let ns = run.duration.as_nanos() as f64;
        out.push(Measurement {
            case,
            action: action::PASS,
            ns_per_packet: ns,
            runs,
            repeat: runs,
            net_ns: ns,
        });
    }
    Ok(out)
}
