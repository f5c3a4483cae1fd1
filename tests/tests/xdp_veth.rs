//! The XDP fast path over a real link: two network namespaces joined by a
//! veth pair, dnsd with XDP attached in native mode on the server side,
//! our own UDP client, kdig and dnsperf on the client side. The XDP
//! counters prove XDP answered, and every answer is byte for byte the one
//! the same query gets from a second dnsd without XDP (the userspace
//! oracle) in the same namespace (shared/spec/xdp-fast-path.md §11).
//!
//! On a veth, XDP can only answer when the response fits the frame's
//! small tailroom (see [`fits_veth_tailroom`]); the rest it passes, and
//! userspace answers them (the bytes are compared all the same). Queries
//! that fit must be answered by XDP, and dnsperf is run with those.
//!
//! Needs root; fails (never skips) without it. Traffic stays inside the
//! namespaces the test creates (198.18.0.0/15 and 2001:db8::/32 only);
//! every load is bounded in count and time.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dnsd_e2e::netns::{self, NetPair, NsChild, require_root};
use dnsd_e2e::normalize::Response;
use dnsd_e2e::rng::{Rng, seed};
use dnsd_e2e::servers::dnsd_binary;
use dnsd_e2e::stats;
use dnsd_e2e::wire::{Edns, QueryBuilder, class, rcode, rtype};

/// Keeps this test's namespaces apart from other tests' (198.18.61.0/24).
const INDEX: u8 = 61;
/// The port of the XDP instance; XDP serves the first listen port only.
const XDP_PORT: u16 = 53;
/// The userspace oracle's port (its packets pass XDP as `pass_other_port`).
const ORACLE_PORT: u16 = 5300;
const START_TIMEOUT: Duration = Duration::from_secs(20);
const QUERY_TIMEOUT: Duration = Duration::from_secs(2);

const ANSWERED: [&str; 5] = [
    "xdp.answered_answer",
    "xdp.answered_wildcard",
    "xdp.answered_nxdomain",
    "xdp.answered_nodata",
    "xdp.answered_referral",
];

// ---------------------------------------------------------------------------
// dnsd in the server namespace

struct Daemon {
    name: &'static str,
    child: NsChild,
    config: PathBuf,
    control: PathBuf,
    addrs: [SocketAddr; 2],
}

/// Writes `<name>.toml` into `dir` (zones already there) and starts dnsd
/// in the server namespace; waits until it answers over IPv4 and IPv6 from
/// the client namespace.
fn start_dnsd(
    pair: &NetPair,
    client: &Client,
    dir: &Path,
    name: &'static str,
    port: u16,
    xdp: bool,
) -> Daemon {
    let addrs = [
        SocketAddr::new(IpAddr::V4(pair.server_v4), port),
        SocketAddr::new(IpAddr::V6(pair.server_v6), port),
    ];
    let mut conf = format!(
        "[server]\nlisten = [\"{}\", \"{}\"]\nudp_sockets = 1\ncontrol_socket = \"{name}.sock\"\n\n[log]\nlevel = \"info\"\n",
        addrs[0], addrs[1]
    );
    if xdp {
        let _ = write!(
            conf,
            "\n[xdp]\ninterfaces = [\"{}\"]\nmode = \"native\"\n",
            pair.server_if
        );
    }
    conf.push_str(
        "\n[[zone]]\nname = \"example.info\"\nfile = \"example.info.zone\"\nformat = \"rfc1035\"\n\
         \n[[zone]]\nfile = \"data\"\nformat = \"tinydns\"\nwildcards = \"rfc4592\"\nserial = 2024060101\n",
    );
    let config = dir.join(format!("{name}.toml"));
    fs::write(&config, conf).expect("write config");
    let child = NsChild::dnsd(
        &pair.server_ns,
        &config,
        dir,
        dir.join(format!("{name}.log")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut daemon = Daemon {
        name,
        child,
        control: dir.join(format!("{name}.sock")),
        config,
        addrs,
    };
    let probe = QueryBuilder::new("example.info", rtype::SOA)
        .id(0x5151)
        .build();
    let deadline = Instant::now() + START_TIMEOUT;
    for addr in addrs {
        loop {
            if let Some(status) = daemon.child.exited() {
                daemon.fail(&format!("exited ({status}) before answering"));
            }
            if let Some(r) = client.exchange(addr, &probe, Duration::from_millis(200))
                && r.len() > 3
                && r[3] & 0x0f == 0
                && r[2] & 0x04 != 0
            {
                break;
            }
            if Instant::now() > deadline {
                daemon.fail(&format!("no SOA answer on {addr} within {START_TIMEOUT:?}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    daemon
}

impl Daemon {
    fn fail(&self, why: &str) -> ! {
        panic!(
            "dnsd {} ({}): {why}; its log:\n{}",
            self.name,
            self.config.display(),
            self.child.log_text()
        )
    }

    /// The counters, straight from the control socket (what `dnsd stats`
    /// prints).
    fn stats(&self) -> BTreeMap<String, u64> {
        stats::query(&self.control).unwrap_or_else(|e| self.fail(&e))
    }

    /// `dnsd stats --config FILE`, the operator's command.
    fn stats_command(&self) -> BTreeMap<String, u64> {
        let out = std::process::Command::new(dnsd_binary())
            .args(["stats", "--config"])
            .arg(&self.config)
            .output()
            .expect("run dnsd stats");
        assert!(
            out.status.success(),
            "dnsd stats failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        stats::parse(&String::from_utf8_lossy(&out.stdout))
    }
}

fn answered(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> u64 {
    ANSWERED
        .iter()
        .map(|k| stats::delta(before, after, k))
        .sum()
}

/// The XDP counters that grew (but the packet counters), as `name +n`.
fn grown(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> String {
    let list: Vec<String> = after
        .keys()
        .filter(|k| k.starts_with("xdp.") && *k != "xdp.packets_seen" && *k != "xdp.dns_udp")
        .filter(|k| stats::delta(before, after, k) != 0)
        .map(|k| format!("{k} +{}", stats::delta(before, after, k)))
        .collect();
    if list.is_empty() {
        "none grew".into()
    } else {
        list.join(", ")
    }
}

// ---------------------------------------------------------------------------
// Our UDP client, its sockets made inside the client namespace

struct Client {
    v4: UdpSocket,
    v6: UdpSocket,
}

impl Client {
    fn new(pair: &NetPair) -> Client {
        let (v4, v6) = (pair.client_v4, pair.client_v6);
        let (a, b) = pair
            .in_client(move || (UdpSocket::bind((v4, 0)), UdpSocket::bind((v6, 0))))
            .unwrap_or_else(|e| panic!("{e}"));
        Client {
            v4: a.expect("bind an IPv4 socket in the client namespace"),
            v6: b.expect("bind an IPv6 socket in the client namespace"),
        }
    }

    /// Sends `query` to `server` and returns the first datagram from
    /// `server` carrying the query's ID, or `None` after `timeout`.
    fn exchange(&self, server: SocketAddr, query: &[u8], timeout: Duration) -> Option<Vec<u8>> {
        let sock = if server.is_ipv4() { &self.v4 } else { &self.v6 };
        netns::udp_exchange(sock, server, query, timeout)
    }
}

// ---------------------------------------------------------------------------
// Queries

/// Who must answer a query on the XDP instance: the XDP counter that must
/// grow by one, or `None` for userspace.
type Expect = Option<&'static str>;
const ANSWER: Expect = Some("xdp.answered_answer");
const WILDCARD: Expect = Some("xdp.answered_wildcard");
const NXDOMAIN: Expect = Some("xdp.answered_nxdomain");
const NODATA: Expect = Some("xdp.answered_nodata");
const REFERRAL: Expect = Some("xdp.answered_referral");
const USERSPACE: Expect = None;

/// Names and types the fast path answers, with the counter of each.
const XDP_CASES: &[(&str, u16, Expect)] = &[
    // example.info (RFC 1035 file): exact hits.
    ("example.info", rtype::SOA, ANSWER),
    ("example.info", rtype::NS, ANSWER),
    ("example.info", rtype::A, ANSWER),
    ("example.info", rtype::MX, ANSWER),
    ("example.info", rtype::TXT, ANSWER),
    ("www.example.info", rtype::A, ANSWER),
    ("www.example.info", rtype::AAAA, ANSWER),
    ("ns2.example.info", rtype::A, ANSWER),
    ("subspace.example.info", rtype::A, ANSWER),
    ("host.example.info", rtype::AAAA, ANSWER),
    // Wildcard CNAMEs: *.example.info and the per-host *.host.example.info.
    ("anything.example.info", rtype::A, WILDCARD),
    ("anything.example.info", rtype::AAAA, WILDCARD),
    ("a.much.longer.name.example.info", rtype::MX, WILDCARD),
    ("x.host.example.info", rtype::A, WILDCARD),
    ("x.host.example.info", rtype::AAAA, WILDCARD),
    ("y.z.host.example.info", rtype::TXT, WILDCARD),
    // Negative answers.
    ("a.subspace.example.info", rtype::A, NXDOMAIN),
    ("example.info", rtype::AAAA, NODATA),
    ("www.example.info", rtype::MX, NODATA),
    ("host.example.info", rtype::TXT, NODATA),
    // example.net (the same records, from tinydns data).
    ("example.net", rtype::MX, ANSWER),
    ("example.net", rtype::TXT, ANSWER),
    ("www.example.net", rtype::AAAA, ANSWER),
    ("other.example.net", rtype::A, WILDCARD),
    ("q.host.example.net", rtype::AAAA, WILDCARD),
    ("www.example.net", rtype::TXT, NODATA),
    // example.org: MX with glue, empty non-terminal, delegation.
    ("example.org", rtype::MX, ANSWER),
    ("example.org", rtype::NS, ANSWER),
    ("www.example.org", rtype::A, ANSWER),
    ("mx1.mx.example.org", rtype::A, ANSWER),
    ("mx.example.org", rtype::A, NODATA),
    ("www.example.org", rtype::AAAA, NODATA),
    ("nope.example.org", rtype::A, NXDOMAIN),
    ("deep.nope.example.org", rtype::MX, NXDOMAIN),
    ("child.example.org", rtype::A, REFERRAL),
    ("child.example.org", rtype::NS, REFERRAL),
    ("www.child.example.org", rtype::AAAA, REFERRAL),
    // Names of stepped lengths, so that some of each kind fit the tailroom
    // of a veth frame whatever its alignment (see fits_veth_tailroom).
    ("w.example.info", rtype::A, WILDCARD),
    ("wwww.example.info", rtype::A, WILDCARD),
    ("wwwwwww.example.info", rtype::A, WILDCARD),
    ("wwwwwwwwww.example.info", rtype::A, WILDCARD),
    ("n.nope.example.org", rtype::A, NXDOMAIN),
    ("nnnnnnn.nope.example.org", rtype::A, NXDOMAIN),
    ("nnnnnnnnnnnnnnnnnn.nope.example.org", rtype::A, NXDOMAIN),
    (
        "nnnnnnnnnnnnnnnnnnnnnnnnnnn.nope.example.org",
        rtype::A,
        NXDOMAIN,
    ),
    (
        "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn.nope.example.org",
        rtype::A,
        NXDOMAIN,
    ),
    ("mx1.mx.example.org", rtype::AAAA, NODATA),
    ("subspace.example.info", rtype::AAAA, NODATA),
    ("ns1.example.org", rtype::AAAA, NODATA),
    ("ns2.example.info", rtype::TXT, NODATA),
    // The reverse zone.
    ("80.2.0.192.in-addr.arpa", rtype::PTR, ANSWER),
    ("25.2.0.192.in-addr.arpa", rtype::PTR, ANSWER),
    ("7.2.0.192.in-addr.arpa", rtype::PTR, NXDOMAIN),
];

struct Case {
    label: String,
    /// The name and type as written in [`XDP_CASES`], for XDP cases sent
    /// without EDNS (dnsperf's kind of query).
    plain: Option<(&'static str, u16)>,
    query: QueryBuilder,
    expect: Expect,
}

/// Every XDP case with and without EDNS (1232, 4096 with DO, 512), in
/// random letter case; then queries that must reach userspace.
fn cases(rng: &mut Rng) -> Vec<Case> {
    let mut out = Vec::new();
    for &(name, qtype, expect) in XDP_CASES {
        let ednses: [(&str, Option<Edns>); 4] = [
            ("no EDNS", None),
            ("EDNS 1232", Some(Edns::size(1232))),
            (
                "EDNS 4096 DO",
                Some(Edns {
                    dnssec_ok: true,
                    ..Edns::size(4096)
                }),
            ),
            ("EDNS 512", Some(Edns::size(512))),
        ];
        for (what, edns) in ednses {
            let qname = rng.case(name);
            let mut q = QueryBuilder::new(&qname, qtype);
            let plain = edns.is_none().then_some((name, qtype));
            if let Some(e) = edns {
                q = q.edns(e);
            }
            out.push(Case {
                label: format!("{qname} {} ({what})", dnsd_e2e::wire::type_name(qtype)),
                plain,
                query: q,
                expect,
            });
        }
    }
    let cookie = Edns {
        options: vec![(10, vec![1, 2, 3, 4, 5, 6, 7, 8])],
        ..Edns::size(1232)
    };
    let specials = [
        (
            "EDNS cookie (options go to userspace)",
            QueryBuilder::new("www.example.info", rtype::A).edns(cookie),
        ),
        (
            "EDNS version 1",
            QueryBuilder::new("www.example.info", rtype::A).edns(Edns {
                version: 1,
                ..Edns::size(1232)
            }),
        ),
        (
            "out of zone",
            QueryBuilder::new("www.example.com", rtype::A),
        ),
        (
            "class CH",
            QueryBuilder::new("www.example.info", rtype::A).class(class::CH),
        ),
        (
            "AXFR over UDP",
            QueryBuilder::new("example.info", rtype::AXFR),
        ),
        (
            "two questions",
            QueryBuilder::new("www.example.info", rtype::A).question(
                "www.example.net",
                rtype::A,
                class::IN,
            ),
        ),
    ];
    for (what, q) in specials {
        out.push(Case {
            label: what.to_string(),
            plain: None,
            query: q,
            expect: USERSPACE,
        });
    }
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn render(b: Option<&[u8]>) -> String {
    match b {
        None => "(no response)".into(),
        Some(b) => match Response::parse(b) {
            Ok(r) => format!("{}\n    hex {}", r.render(), hex(b)),
            Err(e) => format!("(unparsable: {e})\n    hex {}", hex(b)),
        },
    }
}

/// The RCODE an XDP answer of `counter` has.
fn rcode_of(counter: &str) -> u16 {
    if counter == "xdp.answered_nxdomain" {
        rcode::NXDOMAIN
    } else {
        rcode::NOERROR
    }
}

// ---------------------------------------------------------------------------
// kdig and dnsperf in the client namespace

fn kdig(pair: &NetPair, server: SocketAddr, args: &[&str]) -> String {
    let at = format!("@{}", server.ip());
    let port = server.port().to_string();
    let mut all = vec![
        at.as_str(),
        "-p",
        &port,
        "+noall",
        "+answer",
        "+authority",
        "+additional",
        "+nocookie",
        "+retry=0",
        "+time=2",
    ];
    all.extend_from_slice(args);
    let out = pair.client_run("timeout", &[&["10", "kdig"], &all[..]].concat());
    assert!(
        out.status.success(),
        "kdig {all:?} failed (install knot-dnsutils; `cargo xtask setup`): {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

struct Perf {
    sent: u64,
    completed: u64,
    lost: u64,
    qps: f64,
    text: String,
}

fn dnsperf(pair: &NetPair, server: IpAddr, file: &Path, seconds: u32, qps: u32) -> Perf {
    let out = pair.client_run(
        "timeout",
        &[
            &(seconds + 20).to_string(),
            "dnsperf",
            "-s",
            &server.to_string(),
            "-p",
            &XDP_PORT.to_string(),
            "-d",
            &file.to_string_lossy(),
            "-l",
            &seconds.to_string(),
            "-Q",
            &qps.to_string(),
            "-t",
            "2",
        ],
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "dnsperf failed (Debian package dnsperf; `cargo xtask setup`):\n{text}"
    );
    let field = |name: &str| -> Option<&str> {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
    };
    let num = |name: &str| -> u64 {
        field(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name:?} in the dnsperf output:\n{text}"))
    };
    Perf {
        sent: num("Queries sent:"),
        completed: num("Queries completed:"),
        lost: num("Queries lost:"),
        qps: field("Queries per second:")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0),
        text: text.clone(),
    }
}

// ---------------------------------------------------------------------------
// What a veth can carry

/// Size of the Ethernet frame carrying a DNS message of `dns_len` bytes
/// over IPv4 (`family` 0) or IPv6 (1).
fn frame_len(family: usize, dns_len: usize) -> usize {
    14 + if family == 0 { 20 } else { 40 } + 8 + dns_len
}

/// Whether the XDP program can always grow the query's frame into its
/// response on a veth. veth runs native XDP on a copy of the sender's skb
/// in a page-pool fragment sized to the frame (`skb_pp_cow_data`), so the
/// tailroom `bpf_xdp_adjust_tail` may use is only the cache-line
/// alignment slack, `round_up(frame, 64) - frame` (sometimes more,
/// apparently when the fragment is the last of its page). Responses that
/// need more are passed (`pass_adjust_tail`, shared/spec/xdp-fast-path.md
/// §5) and answered by userspace: correct, just not fast. XDP drivers of
/// real NICs receive into whole pages, so the limit is veth's.
fn fits_veth_tailroom(family: usize, query_len: usize, response_len: usize) -> bool {
    frame_len(family, response_len) <= frame_len(family, query_len).div_ceil(64) * 64
}

#[derive(Default)]
struct Tally {
    queries: u64,
    /// Responses that fit the veth tailroom: XDP must answer these.
    fitting: u64,
    by_xdp: u64,
}

// ---------------------------------------------------------------------------

#[test]
fn xdp_answers_over_veth_equal_userspace_answers() {
    require_root("xdp_veth");
    let started = Instant::now();
    let (pair, _client_xdp, dir) = netns::xdp_test_bed(INDEX, "dnsd-e2e-xdp-veth-");
    fs::copy(
        dnsd_e2e::example("zones/example.info.zone"),
        dir.path().join("example.info.zone"),
    )
    .expect("copy example.info.zone");
    fs::copy(dnsd_e2e::example("tinydns/data"), dir.path().join("data")).expect("copy data");
    let client = Client::new(&pair);
    let xdp = start_dnsd(&pair, &client, dir.path(), "xdp", XDP_PORT, true);
    let oracle = start_dnsd(&pair, &client, dir.path(), "oracle", ORACLE_PORT, false);
    let log = xdp.child.log_text();
    if !log.contains("XDP fast path attached") || !log.contains("mode=native") {
        xdp.fail("XDP is not attached in native mode");
    }

    // 1. Every query to both instances over IPv4 and IPv6: identical bytes;
    //    the XDP instance's counters say who answered.
    let seed = seed();
    eprintln!("xdp_veth: letter-case seed {seed} (DNSD_E2E_SEED={seed} repeats it)");
    let mut rng = Rng(seed);
    let cases = cases(&mut rng);
    let mut failures: Vec<String> = Vec::new();
    let mut tally: BTreeMap<&str, Tally> = BTreeMap::new();
    let (mut total, mut by_xdp) = (0u64, 0u64);
    // Per family, the plain queries XDP must answer on this link (dnsperf's).
    let mut fitting: [Vec<(&str, u16)>; 2] = [Vec::new(), Vec::new()];
    let mut id: u16 = 0x2000;
    let mut before = xdp.stats();
    let oracle_before = oracle.stats();
    for case in &cases {
        for family in [0usize, 1] {
            id = id.wrapping_add(1);
            let query = case.query.clone().id(id).build();
            let got = client.exchange(xdp.addrs[family], &query, QUERY_TIMEOUT);
            let want = client.exchange(oracle.addrs[family], &query, QUERY_TIMEOUT);
            let after = xdp.stats();
            total += 1;
            let label = format!(
                "{} over {}",
                case.label,
                if family == 0 { "IPv4" } else { "IPv6" }
            );
            let udp = stats::delta(&before, &after, "userspace.udp_queries");
            let xdp_n = answered(&before, &after);
            by_xdp += xdp_n;
            let mut problems = Vec::new();
            match (&got, &want) {
                (None, _) => problems.push("no response from the XDP instance".to_string()),
                (_, None) => problems.push("no response from the userspace oracle".to_string()),
                (Some(g), Some(w)) if g != w => problems.push("responses differ".to_string()),
                _ => {}
            }
            if let Some(g) = got.as_deref()
                && let Err(e) = Response::parse(g)
            {
                problems.push(format!("the XDP instance's response does not parse: {e}"));
            }
            match case.expect {
                Some(counter) => {
                    let fits = want
                        .as_ref()
                        .is_some_and(|w| fits_veth_tailroom(family, query.len(), w.len()));
                    let t = tally.entry(counter).or_default();
                    t.queries += 1;
                    t.fitting += u64::from(fits);
                    t.by_xdp += xdp_n;
                    if fits && let Some((name, qtype)) = case.plain {
                        fitting[family].push((name, qtype));
                    }
                    let passed_for_room =
                        stats::delta(&before, &after, "xdp.pass_adjust_tail") == 1 && udp == 1;
                    if xdp_n == 1 && udp == 0 && stats::delta(&before, &after, counter) == 1 {
                        // Answered by XDP, as the right kind.
                    } else if xdp_n == 0 && passed_for_room && !fits {
                        // No tailroom on this veth frame: userspace answered.
                    } else {
                        problems.push(format!(
                            "expected XDP to answer ({counter} +1{}); userspace.udp_queries +{udp}, XDP counters {}",
                            if fits {
                                ", the response fits the frame's tailroom"
                            } else {
                                ", or pass_adjust_tail +1"
                            },
                            grown(&before, &after)
                        ));
                    }
                    if xdp_n == 1
                        && let Some(r) = got.as_deref().and_then(|g| Response::parse(g).ok())
                        && (r.rcode != rcode_of(counter) || r.tc)
                    {
                        problems.push(format!(
                            "RCODE {} TC {} (expected {} without TC)",
                            r.rcode,
                            r.tc,
                            rcode_of(counter)
                        ));
                    }
                }
                None => {
                    if xdp_n != 0 || udp != 1 {
                        problems.push(format!(
                            "expected userspace to answer; userspace.udp_queries +{udp}, XDP counters {}",
                            grown(&before, &after)
                        ));
                    }
                }
            }
            if !problems.is_empty() {
                failures.push(format!(
                    "{label}: {}\n  query          {}\n  XDP (:{XDP_PORT})      {}\n  oracle (:{ORACLE_PORT}) {}",
                    problems.join("; "),
                    hex(&query),
                    render(got.as_deref()),
                    render(want.as_deref())
                ));
            }
            before = after;
        }
    }
    let oracle_after = oracle.stats();
    eprintln!(
        "xdp_veth: {total} queries to each instance, identical responses but {} failures; {by_xdp} answered by XDP ({:.1}%), {} by userspace",
        failures.len(),
        100.0 * by_xdp as f64 / total as f64,
        total - by_xdp,
    );
    for (counter, t) in &tally {
        eprintln!(
            "xdp_veth:   {counter}: {} queries, {} fit the veth tailroom, {} answered by XDP",
            t.queries, t.fitting, t.by_xdp
        );
    }
    assert!(
        failures.is_empty(),
        "{} of {total} queries failed (seed {seed}):\n\n{}\n\nXDP instance log:\n{}",
        failures.len(),
        failures.join("\n\n"),
        xdp.child.log_text()
    );
    assert_eq!(
        answered(&oracle_before, &oracle_after),
        0,
        "the oracle has no XDP"
    );
    // Every kind but referrals (whose NS and glue always need more room
    // than a veth frame has: 68 bytes in example.org) was proven on at
    // least one query that XDP had to answer.
    for counter in [ANSWER, WILDCARD, NXDOMAIN, NODATA].into_iter().flatten() {
        let t = &tally[counter];
        assert!(
            t.fitting > 0 && t.by_xdp >= t.fitting,
            "{counter}: {} queries fit the veth tailroom, {} answered by XDP: extend XDP_CASES",
            t.fitting,
            t.by_xdp
        );
    }

    // 2. kdig: the same text from both instances; XDP answered or passed
    //    for tailroom, nothing else.
    let before = xdp.stats();
    let mut kdig_queries = 0;
    for (server_xdp, server_oracle) in [
        (xdp.addrs[0], oracle.addrs[0]),
        (xdp.addrs[1], oracle.addrs[1]),
    ] {
        for args in [
            &["www.example.info", "AAAA"][..],
            &["AnYthing.Example.INFO", "A", "+edns"][..],
            &["example.org", "MX", "+edns=0", "+bufsize=1232", "+dnssec"][..],
            &["www.child.example.org", "A"][..],
            &["nope.example.org", "TXT", "+edns"][..],
        ] {
            let a = kdig(&pair, server_xdp, args);
            let b = kdig(&pair, server_oracle, args);
            kdig_queries += 1;
            assert!(!a.trim().is_empty(), "kdig {args:?}: empty output");
            assert_eq!(a, b, "kdig {args:?} via {server_xdp} vs {server_oracle}");
        }
    }
    let after = xdp.stats_command();
    let (kdig_xdp, kdig_room) = (
        answered(&before, &after),
        stats::delta(&before, &after, "xdp.pass_adjust_tail"),
    );
    eprintln!(
        "xdp_veth: kdig: {kdig_queries} queries to each instance, identical output; {kdig_xdp} answered by XDP"
    );
    assert!(
        kdig_xdp >= 1 && kdig_xdp + kdig_room == kdig_queries,
        "kdig: XDP answered {kdig_xdp} and passed {kdig_room} for tailroom of {kdig_queries} queries: {}",
        grown(&before, &after)
    );
    assert_eq!(
        stats::delta(&before, &after, "userspace.udp_queries"),
        kdig_room
    );

    // 3. dnsperf, bounded in rate and time, over IPv4 then IPv6, with the
    //    queries whose responses fit the veth frames: no loss, and XDP
    //    answered every one.
    for (family, seconds) in [(0usize, 3u32), (1, 2)] {
        let server = xdp.addrs[family].ip();
        let file = dir.path().join(format!("queries-{family}.txt"));
        let lines: String = fitting[family]
            .iter()
            .map(|&(n, t)| format!("{n} {}\n", dnsd_e2e::wire::type_name(t)))
            .collect();
        assert!(
            fitting[family].len() >= 5,
            "only {} plain queries fit over {server}",
            fitting[family].len()
        );
        fs::write(&file, lines).unwrap();
        let before = xdp.stats();
        let perf = dnsperf(&pair, server, &file, seconds, 2000);
        let after = xdp.stats();
        let by_xdp = answered(&before, &after);
        let udp = stats::delta(&before, &after, "userspace.udp_queries");
        eprintln!(
            "xdp_veth: dnsperf to {server} ({} names): {} sent, {} completed, {} lost, {:.0} qps; XDP answered {by_xdp}, userspace {udp}",
            fitting[family].len(),
            perf.sent,
            perf.completed,
            perf.lost,
            perf.qps
        );
        assert!(
            perf.sent >= u64::from(seconds) * 1000,
            "dnsperf sent too little:\n{}",
            perf.text
        );
        assert!(
            perf.lost <= perf.sent / 1000,
            "dnsperf lost {} of {} queries:\n{}",
            perf.lost,
            perf.sent,
            perf.text
        );
        assert!(
            by_xdp >= perf.completed && udp == 0,
            "XDP answered {by_xdp} and userspace {udp} of {} completed queries (XDP counters {}):\n{}",
            perf.completed,
            grown(&before, &after),
            perf.text
        );
    }
    eprintln!("xdp_veth: done in {:.1?}", started.elapsed());
}
