//! The dnsd command line and robustness: `dnsd check` on the examples and on
//! broken zone files (every error as `file:line: message`, one bad file per
//! strict rule of tinydns-data.md §8), `dnsd serve` refusing a broken zone,
//! and malformed packets over UDP and TCP that must never take the server
//! down (checklist 8).
//!
//! Run: `cargo build -p dnsd && cargo test -p dnsd-e2e --test cli`

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use dnsd_e2e::client::{self, TcpOutcome};
use dnsd_e2e::normalize::Response;
use dnsd_e2e::servers::{self, Zone, dnsd_command};
use dnsd_e2e::wire::{QueryBuilder, rcode, rtype};
use dnsd_e2e::{example, fixture, zonefile};

fn run(cmd: &mut Command) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run dnsd");
    // Bounded: `dnsd check` must finish quickly.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "{cmd:?} did not finish within 30 s; stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A temporary directory with `dnsd.toml` and the zone file `file` holding
/// `content`; returns (dir, config path).
fn setup(file: &str, content: &[u8], zone_lines: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix("dnsd-e2e-cli-")
        .tempdir()
        .expect("tempdir");
    std::fs::write(dir.path().join(file), content).expect("write zone");
    let config = dir.path().join("dnsd.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = [\"127.0.0.1:5399\"]\n\n[[zone]]\nfile = \"{file}\"\n{zone_lines}"
        ),
    )
    .expect("write config");
    (dir, config)
}

// ---------------------------------------------------------------------------
// dnsd check

#[test]
fn check_accepts_the_examples_with_one_line_per_zone() {
    let out = run(dnsd_command().arg("check").arg(example("dnsd.toml")));
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "dnsd check examples/dnsd.toml failed ({}):\n{stdout}{}",
        out.status,
        text(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    let zones = [
        "example.info",
        "example.net",
        "example.org",
        "2.0.192.in-addr.arpa",
    ];
    assert_eq!(
        lines.len(),
        zones.len(),
        "one line per zone expected:\n{stdout}"
    );
    // Records of example.info counted independently, with domain's parser.
    let info = zonefile::load(&example("zones/example.info.zone"), "example.info.");
    for z in zones {
        let line = lines
            .iter()
            .find(|l| {
                l.starts_with(z) || l.contains(&format!(" {z}")) || l.contains(&format!("{z}."))
            })
            .unwrap_or_else(|| panic!("no line for zone {z}:\n{stdout}"));
        assert!(line.contains("2024060101"), "{z}: serial missing: {line}");
        assert!(line.contains("record"), "{z}: record count missing: {line}");
        if z == "example.info" || z == "example.net" {
            // Both forms hold the same records.
            assert!(
                line.contains(&format!("{} record", info.len())),
                "{z}: {} records expected: {line}",
                info.len()
            );
        }
    }
}

#[test]
fn check_accepts_the_test_fixtures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("dnsd.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = [\"127.0.0.1:5399\"]\n[[zone]]\nname = \"example.\"\nfile = \"{}\"\n[[zone]]\nname = \"diff.test.\"\nfile = \"{}\"\n[[zone]]\nfile = \"{}\"\nformat = \"tinydns\"\n",
            fixture("example.zone").display(),
            fixture("diff.test.zone").display(),
            fixture("tinydns-test.data").display()
        ),
    )
    .expect("write");
    let out = run(dnsd_command().arg("check").arg(&config));
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(
        text(&out.stdout)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .count(),
        3,
        "{}",
        text(&out.stdout)
    );
}

const TINY_GOOD: &str = "Zbad.test:ns1.bad.test:hostmaster.bad.test:1:16384:2048:1048576:300:1000\n&bad.test:192.0.2.1:ns1.bad.test\n+www.bad.test:192.0.2.2\n";

/// One bad line per strict rule (tinydns-data.md §8), with the rule number.
fn strict_rules() -> Vec<(&'static str, String)> {
    let long_label = "a".repeat(64);
    let long_name = vec!["b".repeat(60); 5].join(".");
    vec![
        (
            "1: CR at the end of a line",
            "+cr.bad.test:192.0.2.3\r".into(),
        ),
        ("1: CR inside a line", "+cr.bad.test:192.0.2.3\r:300".into()),
        ("2: IPv4 octet above 255", "+o.bad.test:192.0.2.300".into()),
        ("2: text after an address", "+x.bad.test:192.0.2.3x".into()),
        ("2: unparsable address", "+u.bad.test:not-an-address".into()),
        ("2: unparsable MX address", "@bad.test:1.2.3:mx9".into()),
        ("3: TTL 300x", "+t.bad.test:192.0.2.3:300x".into()),
        ("3: TTL abc", "+t.bad.test:192.0.2.3:abc".into()),
        (
            "3: TTL above 2^31-1",
            "+t.bad.test:192.0.2.3:2147483648".into(),
        ),
        (
            "3: MX distance 70000",
            "@bad.test::mx.example.com:70000".into(),
        ),
        (
            "4: 64-byte label",
            format!("+{long_label}.bad.test:192.0.2.3"),
        ),
        (
            "4: name over 255 bytes",
            format!("+{long_name}.bad.test:192.0.2.3"),
        ),
        ("4: empty label", "+a..bad.test:192.0.2.3".into()),
        (
            "5: timestamp of 14 digits",
            "+ts.bad.test:192.0.2.3::40000000700000".into(),
        ),
        (
            "5: upper-case timestamp",
            "+ts.bad.test:192.0.2.3::400000007000000A".into(),
        ),
        (
            "5: non-hex timestamp",
            "+ts.bad.test:192.0.2.3::400000007000000g".into(),
        ),
        ("6: ':' with type 5 (CNAME)", ":t.bad.test:5:\\001a".into()),
        ("6: ':' with type 0", ":t.bad.test:0:x".into()),
        ("6: ':' with type 6 (SOA)", ":t.bad.test:6:x".into()),
        ("6: ':' with type 41 (OPT)", ":t.bad.test:41:x".into()),
        ("6: ':' with type 252 (AXFR)", ":t.bad.test:252:x".into()),
        ("6: ':' with type 65536", ":t.bad.test:65536:x".into()),
        (
            "6: A RDATA of 3 bytes",
            ":a.bad.test:1:\\001\\002\\003".into(),
        ),
        (
            "6: AAAA RDATA of 2 bytes",
            ":a.bad.test:28:\\001\\002".into(),
        ),
        (
            "syntax: leading whitespace",
            " +lead.bad.test:192.0.2.1".into(),
        ),
        (
            "syntax: unknown leading character",
            "!x.bad.test:192.0.2.1".into(),
        ),
    ]
}

#[test]
fn check_rejects_each_strict_tinydns_rule_with_file_and_line() {
    let mut failures = Vec::new();
    for (i, (rule, bad)) in strict_rules().into_iter().enumerate() {
        // Vary the line number: 0-2 comment lines before the bad line.
        let pad = i % 3;
        let mut content = String::from(TINY_GOOD);
        for _ in 0..pad {
            content.push_str("# padding\n");
        }
        let line = 3 + pad + 1;
        content.push_str(&bad);
        content.push('\n');
        content.push_str("+after.bad.test:192.0.2.9\n");
        let (_dir, config) = setup("data", content.as_bytes(), "format = \"tinydns\"\n");
        let out = run(dnsd_command().arg("check").arg(&config));
        let stderr = text(&out.stderr);
        let want = format!("data:{line}:");
        if out.status.success() {
            failures.push(format!("rule {rule}: `dnsd check` exited 0 on {bad:?}"));
        } else if !stderr.contains(&want) {
            failures.push(format!(
                "rule {rule}: stderr lacks `{want}` for {bad:?}:\n{stderr}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} strict rules not enforced:\n{}",
        failures.len(),
        strict_rules().len(),
        failures.join("\n")
    );
}

#[test]
fn check_rejects_cname_next_to_other_data() {
    // Strict rule 7 (RFC 2181 §10.1): www has an A record on line 3.
    let content = format!("{TINY_GOOD}Cwww.bad.test:other.example.com\n");
    let (_dir, config) = setup("data", content.as_bytes(), "format = \"tinydns\"\n");
    let out = run(dnsd_command().arg("check").arg(&config));
    let stderr = text(&out.stderr);
    assert!(
        !out.status.success(),
        "CNAME and A at www.bad.test accepted"
    );
    assert!(
        stderr.contains("data:4:") || stderr.contains("data:3:"),
        "{stderr}"
    );
}

#[test]
fn check_reports_every_error() {
    let content = format!(
        "{TINY_GOOD}+a.bad.test:192.0.2.256\n+ok.bad.test:192.0.2.4\n+b.bad.test:192.0.2.5:12x\n:c.bad.test:5:x\n"
    );
    let (_dir, config) = setup("data", content.as_bytes(), "format = \"tinydns\"\n");
    let out = run(dnsd_command().arg("check").arg(&config));
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    for line in [4, 6, 7] {
        assert!(
            stderr.contains(&format!("data:{line}:")),
            "error on line {line} not reported:\n{stderr}"
        );
    }
    assert!(!stderr.contains("data:5:"), "line 5 is valid:\n{stderr}");
}

#[test]
fn check_rejects_a_bad_rfc1035_file_with_file_and_line() {
    let good = "$ORIGIN bad.test.\n$TTL 3600\n@ IN SOA ns1 hostmaster 1 3600 600 86400 300\n@ IN NS ns1\nns1 IN A 192.0.2.1\n";
    let cases = [
        ("address with an octet above 255", "www IN A 192.0.2.300"),
        ("unknown type mnemonic", "www IN BOGUS 1"),
        ("bad TTL", "www notattl IN A 192.0.2.1"),
        ("MX without exchange", "www IN MX 10"),
        ("unterminated parenthesis", "www IN TXT ( \"x\""),
        ("CNAME and A at one owner", "ns1 IN CNAME www"),
    ];
    let mut failures = Vec::new();
    for (what, bad) in cases {
        let content = format!("{good}{bad}\n");
        let (_dir, config) = setup("bad.zone", content.as_bytes(), "name = \"bad.test\"\n");
        let out = run(dnsd_command().arg("check").arg(&config));
        let stderr = text(&out.stderr);
        if out.status.success() {
            failures.push(format!("{what}: accepted"));
        } else if !(stderr.contains("bad.zone:6:")
            || (what.starts_with("CNAME") && stderr.contains("bad.zone:5:")))
        {
            failures.push(format!("{what}: stderr lacks `bad.zone:6:`:\n{stderr}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------
// dnsd serve

#[test]
fn serve_refuses_a_broken_zone() {
    let content = format!("{TINY_GOOD}+o.bad.test:192.0.2.300\n");
    let (dir, config) = setup("data", content.as_bytes(), "format = \"tinydns\"\n");
    // Listen on a free port so a wrongly started server harms nothing.
    let port = servers::free_port();
    let text_cfg = std::fs::read_to_string(&config).expect("read");
    std::fs::write(
        &config,
        text_cfg.replace("127.0.0.1:5399", &format!("127.0.0.1:{port}")),
    )
    .expect("write");
    let mut child = dnsd_command()
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("dnsd serve kept running with a broken zone");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = child.wait_with_output().expect("output");
    assert!(!status.success(), "dnsd serve exited 0 with a broken zone");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("data:4:"),
        "error lacks `data:4:`:\n{stderr}"
    );
}

// ---------------------------------------------------------------------------
// Malformed input never takes the server down (checklist 8)

fn good_query_answered(addr: SocketAddr) -> Result<(), String> {
    let q = QueryBuilder::new("www.diff.test", rtype::A)
        .id(0x600d)
        .build();
    let r = client::udp(addr, &q, client::TIMEOUT).ok_or("no UDP answer to a good query")?;
    let r = Response::parse(&r)?;
    if r.id != 0x600d || r.rcode != rcode::NOERROR || r.answer.is_empty() {
        return Err(format!("bad answer to a good query:\n{}", r.render()));
    }
    match client::tcp(addr, &q, client::TIMEOUT) {
        TcpOutcome::Response(_) => Ok(()),
        other => Err(format!("no TCP answer to a good query: {other:?}")),
    }
}

/// A deterministic xorshift generator.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn malformed_packets(rng: &mut Rng) -> Vec<Vec<u8>> {
    let good = QueryBuilder::new("www.diff.test", rtype::A).build();
    let hdr = |qd: u16, an: u16, ns: u16, ar: u16| {
        let mut m = vec![0xab, 0xcd, 0x01, 0x00];
        for c in [qd, an, ns, ar] {
            m.extend_from_slice(&c.to_be_bytes());
        }
        m
    };
    let mut v: Vec<Vec<u8>> = vec![
        vec![],
        vec![0],
        good[..5].to_vec(),
        good[..11].to_vec(),
        good[..12].to_vec(),
        good[..good.len() - 1].to_vec(),
        // 0x40 and 0x80 label types.
        [hdr(1, 0, 0, 0), vec![0x40, 0, 0, 1, 0, 1]].concat(),
        [hdr(1, 0, 0, 0), vec![0x80, 1, b'x', 0, 0, 1, 0, 1]].concat(),
        // Compression loops: self, two pointers pointing at each other.
        [hdr(1, 0, 0, 0), vec![0xc0, 12, 0, 1, 0, 1]].concat(),
        [
            hdr(1, 0, 0, 0),
            vec![1, b'a', 0xc0, 16, 0xc0, 12, 0, 1, 0, 1],
        ]
        .concat(),
        // Pointer past the end, forward pointer.
        [hdr(1, 0, 0, 0), vec![0xc3, 0xff, 0, 1, 0, 1]].concat(),
        [
            hdr(1, 0, 0, 0),
            vec![0xc0, 18, 0, 1, 0, 1, 3, b'w', b'w', b'w', 0],
        ]
        .concat(),
        // Counts far beyond the content.
        [hdr(0xffff, 0xffff, 0xffff, 0xffff), vec![0; 20]].concat(),
        [good.clone(), vec![0xc0]].concat(),
        // A record in the additional section whose RDLENGTH overruns.
        [
            {
                let mut g = good.clone();
                g[11] = 1;
                g
            },
            vec![0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0xff, 0xff, 1, 2],
        ]
        .concat(),
        // 256 labels of length 1 (name over 255 bytes).
        [
            hdr(1, 0, 0, 0),
            [1u8, b'a'].repeat(200),
            vec![0, 0, 1, 0, 1],
        ]
        .concat(),
        // A 65 KB datagram is impossible; a 4 KB one of zeros is not.
        vec![0; 4096],
    ];
    // Random bytes, and random corruptions of a good query.
    for _ in 0..1500 {
        let len = rng.below(80) as usize;
        v.push((0..len).map(|_| rng.next() as u8).collect());
    }
    for _ in 0..1500 {
        let mut m = good.clone();
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(m.len() as u64) as usize;
            m[i] = rng.next() as u8;
        }
        // Never a response (QR=1 would just be dropped, which is fine too).
        v.push(m);
    }
    v
}

#[test]
fn malformed_packets_never_take_the_server_down() {
    let zones = [Zone::rfc1035("diff.test.", fixture("diff.test.zone"))];
    let mut dnsd = servers::start_dnsd(&zones);
    let seed = std::env::var("DNSD_E2E_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_u64);
    let mut rng = Rng(seed);
    let packets = malformed_packets(&mut rng);
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.connect(dnsd.addr).expect("connect");
    sock.set_read_timeout(Some(Duration::from_millis(1)))
        .expect("timeout");
    let mut buf = [0u8; 65535];
    for (i, p) in packets.iter().enumerate() {
        let _ = sock.send(p);
        // Drain whatever comes back; a response must parse (structure, 78).
        while let Ok(n) = sock.recv(&mut buf) {
            if n >= 12
                && let Err(e) = dnsd_e2e::wire::walk(&buf[..n])
            {
                panic!("response to malformed packet #{i} {p:02x?} is itself malformed: {e}");
            }
        }
        if i % 500 == 499 {
            dnsd.assert_running();
            if let Err(e) = good_query_answered(dnsd.addr) {
                panic!(
                    "after {} malformed packets (seed {seed}): {e}\n{}",
                    i + 1,
                    dnsd.log()
                );
            }
        }
    }
    dnsd.assert_running();
    good_query_answered(dnsd.addr).unwrap_or_else(|e| panic!("{e}"));

    // Truncated and malformed TCP frames, each on its own connection.
    let good = QueryBuilder::new("www.diff.test", rtype::A).build();
    let frames: Vec<Vec<u8>> = vec![
        vec![],
        vec![0],
        vec![0, 0],
        vec![0, 1, 0],
        vec![0, 100, 1, 2, 3],
        vec![0xff, 0xff],
        client::frame(&good)[..10].to_vec(),
        client::frame(&good[..good.len() - 2]),
        client::frame(&[0xc0; 40]),
        client::frame(&[hdr_only(), vec![0xc0, 12, 0, 1, 0, 1]].concat()),
    ];
    for f in &frames {
        if let Some(mut s) = client::tcp_connect(dnsd.addr, client::TIMEOUT) {
            let _ = s.write_all(f);
            let _ = s.shutdown(std::net::Shutdown::Write);
            // Whatever it answers must be well-formed; then it closes.
            if let TcpOutcome::Response(r) = client::read_frame(&mut s)
                && let Err(e) = dnsd_e2e::wire::walk(&r)
            {
                panic!("TCP response to {f:02x?} is malformed: {e}");
            }
        }
    }
    // Connections that send half a frame and stall (fewer than the default
    // per-client cap of 32, which may refuse further connections).
    let mut held = Vec::new();
    for _ in 0..20 {
        if let Some(mut s) = client::tcp_connect(dnsd.addr, client::TIMEOUT) {
            let _ = s.write_all(&[0, 50, 1]);
            held.push(s);
        }
    }
    good_query_answered(dnsd.addr)
        .unwrap_or_else(|e| panic!("with 20 stalled TCP connections: {e}"));
    drop(held);
    dnsd.assert_running();
    good_query_answered(dnsd.addr).unwrap_or_else(|e| panic!("{e}"));
}

fn hdr_only() -> Vec<u8> {
    vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
}
