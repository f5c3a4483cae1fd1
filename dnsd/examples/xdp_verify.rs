//! Loads the embedded XDP program as `dnsd serve` does (verifier included),
//! fills its table from a config's zones and checks a few queries with
//! `BPF_PROG_TEST_RUN`: every XDP_TX reply must be byte for byte the
//! engine's response (shared/spec/xdp-fast-path.md), every pass untouched.
//!
//! `xdp_verify [CONFIG]` (default `examples/dnsd.toml`). Needs root. Prints
//! one line per case and ends with `xdp_verify: PASS` or `xdp_verify: FAIL`;
//! a verifier rejection prints the kernel's verifier log. Used by
//! `tests/tests/old_kernel.rs` inside a VM booting an old kernel.

use std::{
    net::{IpAddr, SocketAddr},
    path::PathBuf,
    process::ExitCode,
};

use dnsd::{
    config::Config,
    engine::{self, EngineSettings, Transport},
    fastpath::table,
    xdp::{self, XdpProgram, action, bench::query, frame::FrameSpec},
    zone::{compile, snapshot::Snapshot},
};

/// What the program must do with a query.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    /// XDP_TX with this RCODE (the reply must also equal the engine's).
    Tx { rcode: u8 },
    /// XDP_PASS, frame untouched.
    Pass,
}

struct Case {
    what: &'static str,
    name: &'static str,
    qtype: u16,
    /// Add an OPT record advertising 1232 bytes (RFC 6891).
    edns: bool,
    expect: Expect,
}

const A: u16 = 1;
const MX: u16 = 15;
const AAAA: u16 = 28;
const NOERROR: Expect = Expect::Tx { rcode: 0 };
const NXDOMAIN: Expect = Expect::Tx { rcode: 3 };

/// Cases over the example zones (examples/zones/example.info.zone and
/// examples/tinydns/data); each runs over IPv4 and IPv6.
const CASES: &[Case] = &[
    Case {
        what: "exact hit",
        name: "www.example.info",
        qtype: A,
        edns: false,
        expect: NOERROR,
    },
    Case {
        what: "exact hit, mixed case, EDNS",
        name: "WwW.eXample.INFO",
        qtype: AAAA,
        edns: true,
        expect: NOERROR,
    },
    Case {
        what: "apex MX",
        name: "example.info",
        qtype: MX,
        edns: true,
        expect: NOERROR,
    },
    Case {
        what: "wildcard CNAME, chased",
        name: "anything.example.info",
        qtype: A,
        edns: false,
        expect: NOERROR,
    },
    Case {
        what: "wildcard below a name",
        name: "a.host.example.info",
        qtype: AAAA,
        edns: true,
        expect: NOERROR,
    },
    Case {
        what: "NXDOMAIN",
        name: "nope.www.example.info",
        qtype: A,
        edns: false,
        expect: NXDOMAIN,
    },
    Case {
        what: "tinydns zone, exact hit",
        name: "www.example.net",
        qtype: A,
        edns: false,
        expect: NOERROR,
    },
    Case {
        what: "out of zone (userspace refuses)",
        name: "www.example.com",
        qtype: A,
        edns: false,
        expect: Expect::Pass,
    },
];

fn main() -> ExitCode {
    let path = std::env::args_os()
        .nth(1)
        .map_or_else(|| PathBuf::from("examples/dnsd.toml"), PathBuf::from);
    println!("xdp_verify: kernel {}", kernel_release());
    match run(&path) {
        Ok(0) => {
            println!("xdp_verify: PASS");
            ExitCode::SUCCESS
        }
        Ok(failed) => {
            println!("xdp_verify: FAIL ({failed} case(s) failed)");
            ExitCode::FAILURE
        }
        Err(error) => {
            println!("xdp_verify: FAIL: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Loads and checks; returns the number of failed cases.
fn run(path: &std::path::Path) -> Result<usize, String> {
    let config = Config::load(path).map_err(|e| e.to_string())?;
    let snapshot = compile::compile(&config)
        .map_err(|e| format!("{e}: {:?}", e.diagnostics))?
        .snapshot;
    // As `dnsd serve` does (main.rs, xdp_service.rs).
    let settings = EngineSettings {
        edns_udp_size: config.server.edns_udp_size,
    };
    let listen: Vec<SocketAddr> = config.server.listen.clone();
    let port = listen.first().ok_or("no listen address")?.port();
    let servers: Vec<IpAddr> = listen.iter().map(SocketAddr::ip).collect();
    if servers.iter().any(IpAddr::is_unspecified) {
        return Err("listen on explicit addresses: test frames need a destination".into());
    }
    let mut program =
        XdpProgram::load(xdp::Config::new(port).with_edns_udp_size(settings.edns_udp_size))
            .map_err(|e| format!("loading the XDP program: {e}"))?;
    let stats = program.program_stats().map_err(|e| e.to_string())?;
    println!(
        "xdp_verify: loaded; verifier processed {} instructions, {} after rewrites",
        stats
            .verified_instructions
            .map_or("(not reported before Linux 5.16)".to_owned(), |n| n
                .to_string()),
        stats
            .xlated_instructions
            .map_or("?".to_owned(), |n| n.to_string()),
    );
    program
        .load_table(&table::build(&snapshot, &settings))
        .map_err(|e| e.to_string())?;
    program.set_addresses(&servers).map_err(|e| e.to_string())?;
    let mut failed = 0;
    for server in &servers {
        let client: IpAddr = if server.is_ipv4() {
            "198.18.0.7".parse()
        } else {
            "2001:db8::7".parse()
        }
        .map_err(|e| format!("{e}"))?;
        let mut spec = FrameSpec::new(client, *server);
        spec.dst_port = port;
        for (id, case) in CASES.iter().enumerate() {
            let label = format!(
                "{} ({} type {}, to {server})",
                case.what, case.name, case.qtype
            );
            let mut msg = query(id as u16 + 1, case.name, case.qtype);
            if case.edns {
                add_opt(&mut msg);
            }
            match check(&program, &snapshot, &settings, &spec, &msg, case.expect) {
                Ok(()) => println!("xdp_verify: ok   {label}: {:?}", case.expect),
                Err(reason) => {
                    failed += 1;
                    println!("xdp_verify: FAIL {label}: {reason}");
                }
            }
        }
    }
    Ok(failed)
}

/// Runs `msg` once and checks the verdict and reply against `expect` and
/// the engine.
fn check(
    program: &XdpProgram,
    snapshot: &Snapshot,
    settings: &EngineSettings,
    spec: &FrameSpec,
    msg: &[u8],
    expect: Expect,
) -> Result<(), String> {
    let frame = spec.build(msg);
    let out = program.test_run(&frame, 1).map_err(|e| e.to_string())?;
    match (expect, out.action) {
        (Expect::Pass, action::PASS) if out.frame == frame => Ok(()),
        (Expect::Pass, action::PASS) => Err("XDP_PASS with a modified frame".into()),
        (Expect::Tx { rcode }, action::TX) => {
            let reply = xdp::frame::check_reply(spec, &frame, &out.frame)?;
            let mut want = Vec::new();
            if !engine::respond(snapshot, settings, msg, Transport::Udp, &mut want) {
                return Err("XDP answered what the engine drops".into());
            }
            if reply != want {
                return Err(format!(
                    "XDP reply differs from the engine's\n  xdp    {reply:02x?}\n  engine {want:02x?}"
                ));
            }
            match reply.get(3).map(|b| b & 0x0f) {
                Some(got) if got == rcode => Ok(()),
                got => Err(format!("RCODE {got:?}, expected {rcode}")),
            }
        }
        (_, verdict) => Err(format!("verdict {verdict}")),
    }
}

/// Appends an OPT record (root owner, UDP size 1232, version 0, no
/// options; RFC 6891 §6.1.2) and sets ARCOUNT to 1.
fn add_opt(msg: &mut Vec<u8>) {
    msg.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
    if let Some(arcount) = msg.get_mut(10..12) {
        arcount.copy_from_slice(&1u16.to_be_bytes());
    }
}

/// `uname -r`.
fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|e| format!("unknown ({e})"), |s| s.trim().to_owned())
}
