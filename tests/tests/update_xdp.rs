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
//! Needs root; fails (never skips) without it. Traffic stays inside the
//! namespaces the test creates (198.18.0.0/15 only); every loop is
//! bounded in count and time.

use std::ffi::OsStr;
use std::fs;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::process::Stdio;
use std::time::{Duration, Instant};

use dnsd_e2e::netns::{self, NetPair, NsChild, NsDnsd, require_root};
use dnsd_e2e::normalize::Response;
use dnsd_e2e::servers::dnsd_binary;
use dnsd_e2e::stats;
use dnsd_e2e::update;
use dnsd_e2e::wire::{QueryBuilder, rcode, rtype};

/// Keeps this test's namespaces apart from other tests' (198.18.64.0/24).
const INDEX: u8 = 64;
const UPDATES: usize = 100;
/// Longest wait for one new address to show through XDP.
const SHOW_TIMEOUT: Duration = Duration::from_secs(2);
const QUERY_TIMEOUT: Duration = Duration::from_secs(1);
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// The home router's TSIG secret (hmac-sha256), base64.
const HOME_SECRET: &str = "aG9tZS1yb3V0ZXItc2VjcmV0LWZvci10ZXN0cy0zMmI=";
/// The example zone's serial.
const INITIAL_SERIAL: u32 = 2024060101;

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
        self.id = self.id.wrapping_add(1);
        msg[..2].copy_from_slice(&self.id.to_be_bytes());
        netns::udp_exchange(&self.sock, self.server, msg, QUERY_TIMEOUT)
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

#[test]
fn updated_home_address_is_answered_by_xdp_within_milliseconds() {
    require_root("update_xdp");
    let pair = NetPair::new(INDEX).unwrap_or_else(|e| panic!("cannot create the veth pair: {e}"));
    let _client_xdp = pair
        .prepare_client_for_xdp()
        .unwrap_or_else(|e| panic!("preparing the client end of the veth: {e}"));
    let dir = tempfile::Builder::new()
        .prefix("dnsd-e2e-update-xdp-")
        .tempdir()
        .expect("tempdir");
    fs::copy(
        dnsd_e2e::example("zones/example.info.zone"),
        dir.path().join("example.info.zone"),
    )
    .expect("copy the example zone");
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
             [[key.allow]]\nzone = \"example.info\"\nnames = [\"subspace.example.info\"]\ntypes = [\"A\"]\n",
            pair.server_if, pair.client_v4
        ),
    )
    .expect("write the config");
    let dnsd = NsDnsd {
        child: NsChild::spawn(
            &pair.server_ns,
            &dnsd_binary(),
            &[
                OsStr::new("serve"),
                OsStr::new("--config"),
                config.as_os_str(),
            ],
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
    let deadline = Instant::now() + START_TIMEOUT;
    while client.serial().is_none() {
        if Instant::now() > deadline {
            dnsd.fail("no SOA answer within 20 s");
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
    let after = client
        .query(&name, rtype::A)
        .and_then(|r| cname_and_address(&r));
    assert_eq!(
        after.map(|a| a.1),
        Some(Ipv4Addr::new(198, 19, 255, 1)),
        "after knsupdate"
    );
    let mut serial = INITIAL_SERIAL + 1;

    // A hundred timed updates.
    let before = dnsd.stats();
    let mut latencies = Vec::with_capacity(UPDATES);
    // From sending the UPDATE, for comparison: includes the fsync and the
    // table swap, which come before the acknowledgement.
    let mut round_trips = Vec::with_capacity(UPDATES);
    let mut polls = 0u64;
    let mut old = vec![Ipv4Addr::new(198, 19, 255, 1)];
    for i in 1..=UPDATES {
        let new = Ipv4Addr::new(198, 19, 0, i as u8);
        let mut msg = update::set_a(0, "example.info", "subspace.example.info", 60, new.octets());
        let sent = Instant::now();
        let response = client
            .exchange(&mut msg)
            .unwrap_or_else(|| dnsd.fail(&format!("update {i}: no response")));
        let acked = Instant::now();
        assert_eq!(update::rcode(&msg, &response), Some(0), "update {i}");
        serial += 1;
        loop {
            polls += 1;
            let r = client
                .query(&name, rtype::A)
                .unwrap_or_else(|| dnsd.fail(&format!("update {i}: no answer to {name} A")));
            assert_eq!(r.rcode, rcode::NOERROR);
            let (target, addr) = cname_and_address(&r)
                .unwrap_or_else(|| panic!("update {i}: no CNAME and A in\n{}", r.render()));
            assert_eq!(target, "subspace.example.info.");
            if addr == new {
                latencies.push(acked.elapsed());
                round_trips.push(sent.elapsed());
                break;
            }
            // Before the swap only the previous address may show.
            assert_eq!(
                Some(&addr),
                old.last(),
                "update {i}: an answer after the acknowledgement has neither the previous nor the new address"
            );
            if acked.elapsed() > SHOW_TIMEOUT {
                dnsd.fail(&format!(
                    "update {i}: {new} not answered within {SHOW_TIMEOUT:?}"
                ));
            }
        }
        old.push(new);
        let now_serial = client
            .serial()
            .unwrap_or_else(|| dnsd.fail("no SOA answer"));
        assert!(
            now_serial >= serial,
            "update {i}: serial {now_serial} is below the acknowledged {serial}"
        );
    }
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
    for (line, field) in [
        ("update applied", "fsync_us"),
        ("update applied", "publish_us"),
        ("XDP table updated", "build_us"),
        ("XDP table updated", "load_us"),
    ] {
        let mut v = logged_values(&log, line, field);
        assert!(v.len() > UPDATES, "{field} in every {line:?} line");
        v.sort_unstable();
        println!(
            "server side {field}: median {} us, worst {} us",
            v[v.len() / 2],
            v[v.len() - 1]
        );
    }
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
