//! The home-address workflow through XDP (issue 5, items 5 and 8): dnsd
//! serves the personal-setup zone (examples/zones/example.info.zone, whose
//! wildcard CNAME points every name at `subspace`) in one network
//! namespace with XDP attached in native mode to a veth; a client in the
//! other namespace changes `subspace A` with RFC 2136 UPDATEs (one through
//! knsupdate signed with TSIG, a hundred through our own client to time
//! them, unsigned from an allowed address) and polls
//! `<name>.example.info A` until XDP answers with the CNAME and the new
//! address. Quoted: the time from the UPDATE's acknowledgement to the
//! first XDP answer with the new address, median and worst.
//!
//! Consistency: no answer after the acknowledgement may carry an older
//! address, the SOA serial is at least the acknowledged one, and the XDP
//! counters must show that XDP answered the polls.
//!
//! A second test serves a zone of 200,000 names beside the personal one
//! and prints what one update costs then, step by step (snapshot build,
//! journal fsync, XDP table build and load, from the server's log): the
//! XDP table is rebuilt whole, so its cost grows with every zone served.
//!
//! Needs root; fails (never skips) without it. Traffic stays inside the
//! namespaces the test creates (198.18.0.0/15 only); every loop is
//! bounded in count and time.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::Path;
use std::process::Stdio;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use dnsd_e2e::netns::{self, NetPair, NsChild, NsDnsd, require_root};
use dnsd_e2e::normalize::Response;
use dnsd_e2e::stats;
use dnsd_e2e::update;
use dnsd_e2e::wire::{QueryBuilder, rcode, rtype};

/// Keeps these tests' namespaces apart from other tests' (198.18.64.0/24
/// and 198.18.65.0/24).
const INDEX: u8 = 64;
const LARGE_INDEX: u8 = 65;
const UPDATES: usize = 100;
/// Updates timed beside the large zone.
const LARGE_UPDATES: usize = 20;
/// Names in the large zone.
const LARGE_NAMES: u32 = 200_000;
/// Longest wait for one new address to show through XDP.
const SHOW_TIMEOUT: Duration = Duration::from_secs(2);
const QUERY_TIMEOUT: Duration = Duration::from_secs(1);
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// Compiling 200,000 names and filling the XDP table, in a debug build.
const LARGE_START_TIMEOUT: Duration = Duration::from_secs(300);
/// One update beside the large zone, in a debug build.
const LARGE_UPDATE_TIMEOUT: Duration = Duration::from_secs(180);
/// The home router's TSIG secret (hmac-sha256), base64.
const HOME_SECRET: &str = "aG9tZS1yb3V0ZXItc2VjcmV0LWZvci10ZXN0cy0zMmI=";
/// The example zone's serial.
const INITIAL_SERIAL: u32 = 2024060101;

/// The tests time the server: one at a time, so they do not slow each
/// other down.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The name polled: a label long enough that the response fits the
/// tailroom XDP has on a veth (the query frame rounded up to 64 bytes,
/// see xdp_veth.rs), so that XDP can answer it.
fn polled_name(label_len: usize) -> String {
    format!("{}.example.info", "h".repeat(label_len))
}

fn fits_veth_tailroom(query_len: usize, response_len: usize) -> bool {
    let frame = |dns: usize| 14 + 20 + 8 + dns;
    frame(response_len) <= frame(query_len).div_ceil(64) * 64
}

/// What one answer to `<name> A` says: the CNAME target and the address.
fn cname_and_address(r: &Response) -> Option<(String, Ipv4Addr)> {
    let cname = r.answer.iter().find(|a| a.rtype == rtype::CNAME)?;
    let a = r.answer.iter().find(|a| a.rtype == rtype::A)?;
    Some((cname.rdata.to_ascii_lowercase(), a.rdata.parse().ok()?))
}

struct Client {
    sock: UdpSocket,
    server: SocketAddr,
    id: u16,
}

impl Client {
    fn exchange(&mut self, msg: &mut [u8]) -> Option<Vec<u8>> {
        self.exchange_within(msg, QUERY_TIMEOUT)
    }

    fn exchange_within(&mut self, msg: &mut [u8], timeout: Duration) -> Option<Vec<u8>> {
        self.id = self.id.wrapping_add(1);
        msg[..2].copy_from_slice(&self.id.to_be_bytes());
        netns::udp_exchange(&self.sock, self.server, msg, timeout)
    }

    fn query(&mut self, name: &str, qtype: u16) -> Option<Response> {
        let mut q = QueryBuilder::new(name, qtype).build();
        let r = self.exchange(&mut q)?;
        Response::parse(&r).ok()
    }

    fn serial(&mut self) -> Option<u32> {
        let r = self.query("example.info", rtype::SOA)?;
        r.answer
            .iter()
            .find(|a| a.rtype == rtype::SOA)?
            .rdata
            .split_whitespace()
            .nth(2)?
            .parse()
            .ok()
    }
}

fn median(sorted: &[Duration]) -> Duration {
    sorted[sorted.len() / 2]
}

/// dnsd serving the personal zone (and `extra`, config text of more
/// zones in `dir`) with XDP attached natively, and a client polling it.
/// Fields drop in order: the daemon before its namespaces.
struct Setup {
    client: Client,
    dnsd: NsDnsd,
    /// A name under the wildcard whose CNAME answer XDP can send.
    name: String,
    /// Longest wait for an UPDATE's acknowledgement.
    update_timeout: Duration,
    pair: NetPair,
    _client_xdp: std::os::fd::OwnedFd,
    _dir: tempfile::TempDir,
}

impl Setup {
    /// `write_extra` may write zone files into the directory and returns
    /// their config text.
    fn start(index: u8, timeout: Duration, write_extra: impl FnOnce(&Path) -> String) -> Setup {
        let (pair, client_xdp, dir) = netns::xdp_test_bed(index, "dnsd-e2e-update-xdp-");
        fs::copy(
            dnsd_e2e::example("zones/example.info.zone"),
            dir.path().join("example.info.zone"),
        )
        .expect("copy the example zone");
        let extra = write_extra(dir.path());
        let server = SocketAddr::new(IpAddr::V4(pair.server_v4), 53);
        let config = dir.path().join("dnsd.toml");
        fs::write(
            &config,
            format!(
                "[server]\nlisten = [\"{server}\"]\nudp_sockets = 1\ncontrol_socket = \"control.sock\"\n\
                 journal_dir = \"journal\"\n\n[log]\nlevel = \"info\"\n\n\
                 [xdp]\ninterfaces = [\"{}\"]\nmode = \"native\"\n\n\
                 [[zone]]\nname = \"example.info\"\nfile = \"example.info.zone\"\n\
                 allow_update_from = [\"{}/32\"]\nupdate_rate = 100000\n\n\
                 [[key]]\nname = \"home-router\"\nalgorithm = \"hmac-sha256\"\nsecret = \"{HOME_SECRET}\"\n\
                 [[key.allow]]\nzone = \"example.info\"\nnames = [\"subspace.example.info\"]\ntypes = [\"A\"]\n\n{extra}",
                pair.server_if, pair.client_v4
            ),
        )
        .expect("write the config");
        let dnsd = NsDnsd {
            child: NsChild::dnsd(
                &pair.server_ns,
                &config,
                dir.path(),
                dir.path().join("dnsd.log"),
            )
            .unwrap_or_else(|e| panic!("{e}")),
            control: dir.path().join("control.sock"),
        };
        let v4 = pair.client_v4;
        let sock = pair
            .in_client(move || UdpSocket::bind((v4, 0)))
            .unwrap_or_else(|e| panic!("{e}"))
            .expect("bind a socket in the client namespace");
        let mut client = Client {
            sock,
            server,
            id: 0,
        };

        // Ready, with XDP attached natively.
        let deadline = Instant::now() + timeout;
        while client.serial().is_none() {
            if Instant::now() > deadline {
                dnsd.fail(&format!("no SOA answer within {timeout:?}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let log = dnsd.child.log_text();
        if !log.contains("XDP fast path attached") || !log.contains("mode=native") {
            dnsd.fail("XDP is not attached in native mode");
        }

        // A polled name whose answer XDP can send on a veth.
        let name = (1..=63)
            .map(polled_name)
            .find(|n| {
                let q = QueryBuilder::new(n, rtype::A).build();
                let mut q2 = q.clone();
                client
                    .exchange(&mut q2)
                    .is_some_and(|r| fits_veth_tailroom(q.len(), r.len()))
            })
            .unwrap_or_else(|| dnsd.fail("no name's CNAME answer fits the veth tailroom"));
        let first = client
            .query(&name, rtype::A)
            .and_then(|r| cname_and_address(&r))
            .unwrap_or_else(|| dnsd.fail(&format!("no CNAME and A for {name}")));
        assert_eq!(
            first,
            (
                "subspace.example.info.".into(),
                Ipv4Addr::new(203, 0, 113, 7)
            )
        );
        Setup {
            client,
            dnsd,
            name,
            update_timeout: QUERY_TIMEOUT,
            pair,
            _client_xdp: client_xdp,
            _dir: dir,
        }
    }

    /// Sets `subspace A` to `new` with an unsigned UPDATE and polls until
    /// the name answers it. Returns the time from the acknowledgement and
    /// from sending to that answer, and the number of polls.
    fn update_and_poll(
        &mut self,
        i: usize,
        new: Ipv4Addr,
        old: Ipv4Addr,
    ) -> (Duration, Duration, u64) {
        let (client, dnsd, name) = (&mut self.client, &self.dnsd, &self.name);
        let mut msg = update::set_a(0, "example.info", "subspace.example.info", 60, new.octets());
        let sent = Instant::now();
        let response = client
            .exchange_within(&mut msg, self.update_timeout)
            .unwrap_or_else(|| dnsd.fail(&format!("update {i}: no response")));
        let acked = Instant::now();
        assert_eq!(update::rcode(&msg, &response), Some(0), "update {i}");
        let mut polls = 0;
        loop {
            polls += 1;
            let r = client
                .query(name, rtype::A)
                .unwrap_or_else(|| dnsd.fail(&format!("update {i}: no answer to {name} A")));
            assert_eq!(r.rcode, rcode::NOERROR);
            let (target, addr) = cname_and_address(&r)
                .unwrap_or_else(|| panic!("update {i}: no CNAME and A in\n{}", r.render()));
            assert_eq!(target, "subspace.example.info.");
            if addr == new {
                return (acked.elapsed(), sent.elapsed(), polls);
            }
            // Before the swap only the previous address may show.
            assert_eq!(
                addr, old,
                "update {i}: an answer after the acknowledgement has neither the previous nor the new address"
            );
            if acked.elapsed() > SHOW_TIMEOUT {
                dnsd.fail(&format!(
                    "update {i}: {new} not answered within {SHOW_TIMEOUT:?}"
                ));
            }
        }
    }
}

#[test]
fn updated_home_address_is_answered_by_xdp_within_milliseconds() {
    require_root("update_xdp");
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut setup = Setup::start(INDEX, START_TIMEOUT, |_| String::new());
    let (pair, name) = (&setup.pair, setup.name.clone());

    // One update through knsupdate (the Debian client), signed with the
    // home router's TSIG key.
    let script = format!(
        "server {} 53\nkey hmac-sha256:home-router {HOME_SECRET}\nzone example.info\n\
         update delete subspace.example.info A\nupdate add subspace.example.info 60 A 198.19.255.1\nsend\n",
        pair.server_v4
    );
    let mut knsupdate = NetPair::command(&pair.client_ns, "knsupdate")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run knsupdate (package knot-dnsutils)");
    knsupdate
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("write the knsupdate script");
    let out = knsupdate.wait_with_output().expect("knsupdate");
    assert!(
        out.status.success(),
        "knsupdate failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let after = setup
        .client
        .query(&name, rtype::A)
        .and_then(|r| cname_and_address(&r));
    assert_eq!(
        after.map(|a| a.1),
        Some(Ipv4Addr::new(198, 19, 255, 1)),
        "after knsupdate"
    );
    let mut serial = INITIAL_SERIAL + 1;

    // A hundred timed updates.
    let before = setup.dnsd.stats();
    let mut latencies = Vec::with_capacity(UPDATES);
    // From sending the UPDATE, for comparison: includes the fsync and the
    // table swap, which come before the acknowledgement.
    let mut round_trips = Vec::with_capacity(UPDATES);
    let mut polls = 0u64;
    let mut old = Ipv4Addr::new(198, 19, 255, 1);
    for i in 1..=UPDATES {
        let new = Ipv4Addr::new(198, 19, 0, i as u8);
        let (latency, round_trip, n) = setup.update_and_poll(i, new, old);
        latencies.push(latency);
        round_trips.push(round_trip);
        polls += n;
        serial += 1;
        old = new;
        let now_serial = setup
            .client
            .serial()
            .unwrap_or_else(|| setup.dnsd.fail("no SOA answer"));
        assert!(
            now_serial >= serial,
            "update {i}: serial {now_serial} is below the acknowledged {serial}"
        );
    }
    let dnsd = &setup.dnsd;
    let after = dnsd.stats();
    let answered = stats::delta(&before, &after, "xdp.answered_wildcard");
    assert!(
        answered >= polls,
        "XDP answered {answered} wildcard queries of the {polls} polls: userspace answered the rest"
    );
    latencies.sort();
    let median = median(&latencies);
    let worst = *latencies.last().expect("100 latencies");
    println!(
        "update acknowledged -> new address answered by XDP, {UPDATES} updates: median {:.3} ms, worst {:.3} ms ({polls} polls)",
        median.as_secs_f64() * 1e3,
        worst.as_secs_f64() * 1e3
    );
    round_trips.sort();
    println!(
        "update sent -> new address answered by XDP: median {:.3} ms, worst {:.3} ms",
        self::median(&round_trips).as_secs_f64() * 1e3,
        round_trips[round_trips.len() - 1].as_secs_f64() * 1e3
    );
    assert!(
        worst < Duration::from_millis(50),
        "the worst update took {worst:?} to reach XDP (milliseconds promised)"
    );
    // Every update is logged, with the server's own timings: the journal
    // fsync, and from its end to the end of the XDP table swap.
    let log = dnsd.child.log_text();
    assert_eq!(log.matches("update applied").count(), UPDATES + 1, "{log}");
    assert!(
        log.lines()
            .any(|l| l.contains("update applied") && l.contains("home-router")),
        "the knsupdate update was not applied under the key:\n{log}"
    );
    print_server_timings(&log, UPDATES + 1);
}

/// The server's own timings of each step of the updates in `log`, median
/// and worst; each must be logged at least `count` times.
fn print_server_timings(log: &str, count: usize) {
    for (line, field, what) in [
        ("update applied", "build_us", "snapshot build"),
        ("update applied", "fsync_us", "journal fsync"),
        ("XDP table updated", "build_us", "XDP table build"),
        ("XDP table updated", "load_us", "XDP table load"),
        (
            "update applied",
            "publish_us",
            "publish (XDP build + load + engine swap)",
        ),
    ] {
        let mut v = logged_values(log, line, field);
        assert!(v.len() >= count, "{field} in every {line:?} line");
        v.sort_unstable();
        println!(
            "server side {what} ({field}): median {} us, worst {} us",
            v[v.len() / 2],
            v[v.len() - 1]
        );
    }
}

/// A zone `large.example` of `LARGE_NAMES` names with one A record each,
/// written into `dir`; its config text.
fn write_large_zone(dir: &Path) -> String {
    let mut text = String::from(
        "$TTL 300\n@ SOA ns1 hostmaster 1 7200 900 1209600 300\n@ NS ns1\nns1 A 198.18.0.53\n",
    );
    for i in 0..LARGE_NAMES {
        let _ = writeln!(text, "n{i} A {}", large_address(i));
    }
    fs::write(dir.join("large.example.zone"), text).expect("write the large zone");
    "[[zone]]\nname = \"large.example\"\nfile = \"large.example.zone\"\n".into()
}

/// The address of `n<i>.large.example`, in 198.18.0.0/15.
fn large_address(i: u32) -> Ipv4Addr {
    let i = i % (1 << 17);
    Ipv4Addr::new(198, 18 + (i >> 16) as u8, (i >> 8) as u8, i as u8)
}

/// A measurement: with a debug build of dnsd each update takes about a
/// minute here. Run it on a release build:
/// `cargo build --release -p dnsd && DNSD_BIN=target/release/dnsd cargo
/// test -p dnsd-e2e --test update_xdp -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement of several minutes; run with DNSD_BIN=target/release/dnsd -- --ignored"]
fn update_cost_beside_a_large_zone() {
    require_root("update_xdp");
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let started = Instant::now();
    let mut setup = Setup::start(LARGE_INDEX, LARGE_START_TIMEOUT, write_large_zone);
    setup.update_timeout = LARGE_UPDATE_TIMEOUT;
    println!(
        "start with {LARGE_NAMES} more names: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let probes = [0, LARGE_NAMES / 2, LARGE_NAMES - 1];
    let check_large = |setup: &mut Setup, when: &str| {
        for i in probes {
            let name = format!("n{i}.large.example");
            let r = setup
                .client
                .query(&name, rtype::A)
                .unwrap_or_else(|| setup.dnsd.fail(&format!("{when}: no answer to {name} A")));
            let addr = r.answer.iter().find(|a| a.rtype == rtype::A);
            assert_eq!(
                addr.map(|a| a.rdata.clone()),
                Some(large_address(i).to_string()),
                "{when}: {name} A in\n{}",
                r.render()
            );
        }
    };
    check_large(&mut setup, "before the updates");
    let mut round_trips = Vec::with_capacity(LARGE_UPDATES);
    let mut old = Ipv4Addr::new(203, 0, 113, 7);
    for i in 1..=LARGE_UPDATES {
        let new = Ipv4Addr::new(198, 19, 1, i as u8);
        let (_, round_trip, _) = setup.update_and_poll(i, new, old);
        round_trips.push(round_trip);
        old = new;
    }
    check_large(&mut setup, "after the updates");
    round_trips.sort();
    println!(
        "beside {LARGE_NAMES} names, update sent -> new address answered, {LARGE_UPDATES} updates: median {:.3} ms, worst {:.3} ms",
        median(&round_trips).as_secs_f64() * 1e3,
        round_trips[round_trips.len() - 1].as_secs_f64() * 1e3
    );
    let log = setup.dnsd.child.log_text();
    assert_eq!(
        log.matches("update applied").count(),
        LARGE_UPDATES,
        "{log}"
    );
    if let Some(entries) = logged_values(&log, "XDP table updated", "entries").last() {
        println!("XDP table entries: {entries}");
    }
    print_server_timings(&log, LARGE_UPDATES);
}

/// Every `field=N` value in the log's lines containing `line`.
fn logged_values(log: &str, line: &str, field: &str) -> Vec<u64> {
    let key = format!("{field}=");
    log.lines()
        .filter(|l| l.contains(line))
        .filter_map(|l| {
            let rest = &l[l.find(&key)? + key.len()..];
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .collect()
}
