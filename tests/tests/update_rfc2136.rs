//! RFC 2136 UPDATE of the real binary, with knsupdate (knot-dnsutils) and
//! nsupdate (bind9-dnsutils) as clients over UDP and TCP, signed with TSIG
//! (RFC 8945: hmac-sha256, hmac-sha512, hmac-sha1), checked with queries
//! afterwards. Checklist items 62–69 (shared/spec/authoritative-checklist.md).
//!
//! The exact TSIG error codes (BADKEY, BADSIG, BADTIME) are read from raw
//! responses to requests signed here, with `openssl dgst` computing the
//! HMACs (RFC 8945 §4.3), since neither client shows them reliably and
//! neither can sign with a stale clock.

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dnsd_e2e::client;
use dnsd_e2e::servers::{Dnsd, Server, Zone, peer_binary};
use dnsd_e2e::wire::name_to_wire;

const ZONE: &str = "example.info";

/// The zone updated with TSIG keys only (no `allow_update_from`).
const ZONE_TEXT: &str = "$ORIGIN example.info.
$TTL 3600
@        IN SOA ns1 hostmaster 10 16384 2048 1048576 2560
@        IN NS  ns1
@        IN NS  ns2
ns1      IN A   198.18.0.53
ns2      IN A   198.18.1.53
www      IN A   198.18.0.10
www      IN A   198.18.0.11
alias    IN CNAME www
subspace 300 IN A 198.18.0.7
*        IN CNAME subspace
";

/// A zone that also takes unsigned updates from 127.0.0.1.
const OPEN_ZONE: &str = "example.net";
const OPEN_ZONE_TEXT: &str = "$ORIGIN example.net.
$TTL 3600
@        IN SOA ns1 hostmaster 1 16384 2048 1048576 2560
@        IN NS  ns1
ns1      IN A   198.18.0.53
";

/// A TSIG key as the config, the clients and the raw signer see it.
#[derive(Clone, Copy, Debug)]
struct Key {
    name: &'static str,
    algorithm: &'static str,
    /// `secret` decoded.
    raw: &'static [u8],
    base64: &'static str,
}

impl Key {
    const fn new(
        name: &'static str,
        algorithm: &'static str,
        raw: &'static [u8],
        base64: &'static str,
    ) -> Key {
        Key {
            name,
            algorithm,
            raw,
            base64,
        }
    }

    /// The key's `[[key]]` table, allowed `rule` (`[[key.allow]]` lines
    /// besides the zone) in [`ZONE`], with a rate limit no test reaches.
    fn config(&self, rule: &str) -> String {
        format!(
            "[[key]]\nname = \"{}\"\nalgorithm = \"{}\"\nsecret = \"{}\"\nrate = 100000\n\
             [[key.allow]]\nzone = \"{ZONE}\"\n{rule}",
            self.name, self.algorithm, self.base64
        )
    }
}

const K256: Key = Key::new(
    "k256",
    "hmac-sha256",
    b"0123456789abcdef0123456789abcdef",
    "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
);
const K512: Key = Key::new(
    "k512",
    "hmac-sha512",
    b"sixty-four bytes of secret for hmac-sha512 keys, padded to 64B!!",
    "c2l4dHktZm91ciBieXRlcyBvZiBzZWNyZXQgZm9yIGhtYWMtc2hhNTEyIGtleXMsIHBhZGRlZCB0byA2NEIhIQ==",
);
const K1: Key = Key::new(
    "k1",
    "hmac-sha1",
    b"twenty-byte sha1 key",
    "dHdlbnR5LWJ5dGUgc2hhMSBrZXk=",
);
/// May change only subspace.example.info's A and AAAA.
const HOME: Key = Key::new(
    "home",
    "hmac-sha256",
    b"home router key, 32 bytes long!!",
    "aG9tZSByb3V0ZXIga2V5LCAzMiBieXRlcyBsb25nISE=",
);
/// Not in the server's config.
const UNKNOWN: Key = Key {
    name: "nobody",
    ..K256
};
/// K256's name with another secret.
const WRONG_SECRET: Key = Key {
    raw: b"not the secret of k256, 32 bytes",
    base64: "bm90IHRoZSBzZWNyZXQgb2YgazI1NiwgMzIgYnl0ZXM=",
    ..K256
};

/// dnsd with both zones, the four keys (rate limits high enough for the
/// tests) and a journal in its private directory.
fn start() -> Server {
    let dir = tempfile::Builder::new()
        .prefix("dnsd-e2e-update-zones-")
        .tempdir()
        .expect("temporary directory");
    let zone_file = dir.path().join("example.info.zone");
    let open_file = dir.path().join("example.net.zone");
    std::fs::write(&zone_file, ZONE_TEXT).expect("write zone");
    std::fs::write(&open_file, OPEN_ZONE_TEXT).expect("write zone");
    let zones = [
        Zone::rfc1035(ZONE, &zone_file),
        Zone::rfc1035(OPEN_ZONE, &open_file)
            .option("allow_update_from = [\"127.0.0.1/32\"]")
            .option("update_rate = 100000"),
    ];
    let keys = [
        K256.config(""),
        K512.config(""),
        K1.config(""),
        HOME.config("names = [\"subspace.example.info\"]\ntypes = [\"A\", \"AAAA\"]\n"),
    ];
    // dnsd copies the zone files; `dir` may go once it has started.
    Dnsd::new(&zones)
        .server_option("journal_dir = \"journal\"")
        .config_text(&keys.join("\n"))
        .start()
}

// ---------------------------------------------------------------------------
// The clients

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tool {
    Nsupdate,
    Knsupdate,
}

/// How an update is sent.
#[derive(Clone, Copy, Debug)]
struct Client {
    tool: Tool,
    tcp: bool,
    key: Option<Key>,
}

const fn nsupdate(tcp: bool, key: Key) -> Client {
    Client {
        tool: Tool::Nsupdate,
        tcp,
        key: Some(key),
    }
}

const fn knsupdate(tcp: bool, key: Key) -> Client {
    Client {
        tool: Tool::Knsupdate,
        tcp,
        key: Some(key),
    }
}

/// Every tool, transport and algorithm, for tests that go round them.
const CLIENTS: [Client; 6] = [
    nsupdate(false, K256),
    knsupdate(true, K512),
    nsupdate(true, K1),
    knsupdate(false, K256),
    nsupdate(false, K512),
    knsupdate(true, K1),
];

/// What a client reported.
#[derive(Debug)]
struct Outcome {
    /// The RCODE mnemonic (`NOERROR`, `NXRRSET`…), or `None` if the client
    /// printed none (it failed for another reason: see `text`).
    rcode: Option<String>,
    /// Everything it printed, for failure messages.
    text: String,
}

/// Sends one update: `lines` are client commands (`prereq …`, `update …`)
/// for `zone`; the client sends them as one message.
fn send(server: &Server, client: Client, zone: &str, lines: &[&str]) -> Outcome {
    let (bin, package) = match client.tool {
        Tool::Nsupdate => ("nsupdate", "bind9-dnsutils"),
        Tool::Knsupdate => ("knsupdate", "knot-dnsutils"),
    };
    let mut cmd = Command::new(peer_binary(bin, package));
    // Bounded: nsupdate -t is the whole update's timeout; knsupdate -t is
    // per try and -r the retries.
    match client.tool {
        Tool::Nsupdate => cmd.args(["-t", "5", "-u", "2"]),
        Tool::Knsupdate => cmd.args(["-t", "5", "-r", "0"]),
    };
    if client.tcp {
        cmd.arg("-v");
    }
    let mut script = format!(
        "server {} {}\nzone {zone}\n",
        server.addr.ip(),
        server.addr.port()
    );
    if let Some(k) = client.key {
        script.push_str(&match client.tool {
            Tool::Nsupdate => format!("key {}:{} {}\n", k.algorithm, k.name, k.base64),
            Tool::Knsupdate => format!("key {}:{}:{}\n", k.algorithm, k.name, k.base64),
        });
    }
    for l in lines {
        script.push_str(l);
        script.push('\n');
    }
    script.push_str("send\n");
    let out = run_with_input(&mut cmd, script.as_bytes());
    let text = format!(
        "{bin} ({client:?}) exit code {:?}:\n{script}--\n{}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let rcode = if out.status.success() {
        Some("NOERROR".to_string())
    } else {
        reported_rcode(&text)
    };
    Outcome { rcode, text }
}

/// Runs `cmd` with `input` on its stdin; its stdout and stderr captured.
fn run_with_input(cmd: &mut Command, input: &[u8]) -> std::process::Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {cmd:?}: {e}"));
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input)
        .unwrap_or_else(|e| panic!("write to {cmd:?}: {e}"));
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait for {cmd:?}: {e}"))
}

/// The RCODE in a client's failure message: nsupdate says `update failed:
/// NXRRSET`, knsupdate `update failed with error 'NXRRSET'` and prints the
/// response header (`opcode: UPDATE; status: NXRRSET;`).
fn reported_rcode(text: &str) -> Option<String> {
    for marker in ["update failed: ", "failed with error '", "; status: "] {
        if let Some(at) = text.find(marker) {
            let word: String = text[at + marker.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            if !word.is_empty() {
                return Some(word);
            }
        }
    }
    None
}

#[track_caller]
fn expect_rcode(server: &Server, client: Client, zone: &str, lines: &[&str], want: &str) {
    let got = send(server, client, zone, lines);
    assert_eq!(
        got.rcode.as_deref(),
        Some(want),
        "{}\nserver log:\n{}",
        got.text,
        server.log()
    );
}

// ---------------------------------------------------------------------------
// Queries

/// The answer section for `name`/`qtype` as kdig (knot-dnsutils) reads
/// it: (owner lower-cased, type, RDATA) per record.
fn kdig(server: &Server, name: &str, qtype: &str) -> Vec<(String, String, String)> {
    let out = Command::new(peer_binary("kdig", "knot-dnsutils"))
        .arg(format!("@{}", server.addr.ip()))
        .args(["-p", &server.addr.port().to_string()])
        .args(["+noall", "+answer", "+norecurse", "+time=2", "+retry=1"])
        .args([name, qtype])
        .output()
        .expect("run kdig");
    assert!(out.status.success(), "kdig {name} {qtype}: {out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 5 && !l.starts_with(';'))
                .then(|| (f[0].to_lowercase(), f[3].to_string(), f[4..].join(" ")))
        })
        .collect()
}

/// The RDATA (presentation form, lower-cased, sorted) of `name`/`qtype`
/// as served now; empty for no data.
fn rdatas(server: &Server, name: &str, qtype: &str) -> Vec<String> {
    let owner = format!("{}.", name.to_lowercase());
    let mut v: Vec<String> = kdig(server, name, qtype)
        .into_iter()
        .filter(|(o, t, _)| *o == owner && t == qtype)
        .map(|(_, _, rdata)| rdata.to_lowercase())
        .collect();
    v.sort();
    v
}

fn serial(server: &Server, zone: &str) -> u32 {
    let soa = rdatas(server, zone, "SOA");
    soa.first()
        .and_then(|s| s.split_whitespace().nth(2))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no SOA serial for {zone}: {soa:?}"))
}

// ---------------------------------------------------------------------------
// Checklist 63: each prerequisite and its RCODE

#[test]
fn prerequisite_failures_have_their_rcodes() {
    let server = start();
    let before = serial(&server, ZONE);
    let marker = "update add marker.example.info 60 TXT \"must not appear\"";
    // RFC 2136 §2.4.1–§2.4.5 and §3.2.1 (NOTZONE), one client each.
    let cases = [
        ("prereq yxrrset www.example.info MX", "NXRRSET"),
        ("prereq yxrrset www.example.info A 198.18.0.10", "NXRRSET"),
        ("prereq nxrrset www.example.info A", "YXRRSET"),
        ("prereq yxdomain nothere.example.info", "NXDOMAIN"),
        ("prereq nxdomain www.example.info", "YXDOMAIN"),
        ("prereq yxdomain www.example.org", "NOTZONE"),
    ];
    for (i, (prereq, rcode)) in cases.iter().enumerate() {
        let client = CLIENTS[i % CLIENTS.len()];
        expect_rcode(&server, client, ZONE, &[prereq, marker], rcode);
        assert_eq!(
            rdatas(&server, "marker.example.info", "TXT"),
            Vec::<String>::new()
        );
    }
    // All or nothing: no update of a failed message happened.
    assert_eq!(serial(&server, ZONE), before);
    // Each form met lets the update through (§3.2); the value-dependent
    // one lists the whole RRset, in another order.
    let met: [&[&str]; 5] = [
        &["prereq yxrrset www.example.info A"],
        &[
            "prereq yxrrset www.example.info A 198.18.0.11",
            "prereq yxrrset www.example.info A 198.18.0.10",
        ],
        &["prereq nxrrset www.example.info MX"],
        &["prereq yxdomain subspace.example.info"],
        &["prereq nxdomain nothere.example.info"],
    ];
    for (i, prereqs) in met.iter().enumerate() {
        let client = CLIENTS[(i + 3) % CLIENTS.len()];
        let add = format!("update add met{i}.example.info 60 TXT \"met\"");
        let lines: Vec<&str> = prereqs.iter().copied().chain([add.as_str()]).collect();
        expect_rcode(&server, client, ZONE, &lines, "NOERROR");
        assert_eq!(
            rdatas(&server, &format!("met{i}.example.info"), "TXT"),
            ["\"met\""],
            "after {prereqs:?}"
        );
    }
    assert_eq!(serial(&server, ZONE), before + met.len() as u32);
}

// ---------------------------------------------------------------------------
// Checklist 64, 65: the operations

#[test]
fn operations_change_what_they_say() {
    let server = start();
    let s0 = serial(&server, ZONE);
    let [c0, c1, c2, c3, c4, c5] = CLIENTS;
    // Add (RFC 2136 §2.5.1): to an existing RRset and a new name.
    expect_rcode(
        &server,
        c0,
        ZONE,
        &[
            "update add subspace.example.info 60 A 198.18.0.8",
            "update add new.example.info 60 AAAA 2001:db8::8",
        ],
        "NOERROR",
    );
    assert_eq!(
        rdatas(&server, "subspace.example.info", "A"),
        ["198.18.0.7", "198.18.0.8"]
    );
    assert_eq!(rdatas(&server, "new.example.info", "AAAA"), ["2001:db8::8"]);
    assert_eq!(serial(&server, ZONE), s0 + 1, "SOA serial bumped once");
    // The wildcard CNAME now chases to both addresses.
    assert_eq!(
        rdatas(&server, "subspace.example.info", "A"),
        rdatas_via_cname(&server, "anything.example.info")
    );
    // Delete one RR (§2.5.4).
    expect_rcode(
        &server,
        c1,
        ZONE,
        &["update delete subspace.example.info A 198.18.0.7"],
        "NOERROR",
    );
    assert_eq!(
        rdatas(&server, "subspace.example.info", "A"),
        ["198.18.0.8"]
    );
    // Delete an RRset (§2.5.2).
    expect_rcode(
        &server,
        c2,
        ZONE,
        &["update delete www.example.info A"],
        "NOERROR",
    );
    assert_eq!(
        rdatas(&server, "www.example.info", "A"),
        Vec::<String>::new()
    );
    // Delete all RRsets of a name (§2.5.3).
    expect_rcode(
        &server,
        c3,
        ZONE,
        &["update delete new.example.info"],
        "NOERROR",
    );
    assert_eq!(
        rdatas(&server, "new.example.info", "AAAA"),
        Vec::<String>::new()
    );
    assert_eq!(serial(&server, ZONE), s0 + 4);
    // The apex SOA and NS RRsets are not deleted, nor the last apex NS;
    // one of two may go (§3.4.2.3, §3.4.2.4).
    expect_rcode(
        &server,
        c4,
        ZONE,
        &[
            "update delete example.info NS",
            "update delete example.info SOA",
        ],
        "NOERROR",
    );
    assert_eq!(rdatas(&server, ZONE, "NS").len(), 2);
    assert_eq!(serial(&server, ZONE), s0 + 4, "nothing changed: no bump");
    expect_rcode(
        &server,
        c5,
        ZONE,
        &[
            "update delete example.info NS ns1.example.info.",
            "update delete example.info NS ns2.example.info.",
        ],
        "NOERROR",
    );
    assert_eq!(rdatas(&server, ZONE, "NS"), ["ns2.example.info."]);
    // CNAME rules (§3.4.2.2): other data at a CNAME is silently ignored.
    expect_rcode(
        &server,
        c0,
        ZONE,
        &["update add alias.example.info 60 A 198.18.0.9"],
        "NOERROR",
    );
    assert_eq!(
        rdatas(&server, "alias.example.info", "CNAME"),
        ["www.example.info."]
    );
    assert_eq!(serial(&server, ZONE), s0 + 5);
}

/// The A records reached through `name`'s CNAME, in one answer.
fn rdatas_via_cname(server: &Server, name: &str) -> Vec<String> {
    let answer = kdig(server, name, "A");
    assert!(
        answer.iter().any(|(_, t, _)| t == "CNAME"),
        "{name}: no CNAME in {answer:?}"
    );
    let mut v: Vec<String> = answer
        .into_iter()
        .filter(|(_, t, _)| t == "A")
        .map(|(_, _, rdata)| rdata)
        .collect();
    v.sort();
    v
}

// ---------------------------------------------------------------------------
// Checklist 69: each algorithm, client and transport

#[test]
fn every_algorithm_client_and_transport_updates() {
    let server = start();
    for (i, client) in CLIENTS.iter().enumerate() {
        let add = format!(
            "update add algo{i}.example.info 60 TXT \"{}\"",
            client.key.map_or("-", |k| k.algorithm)
        );
        // The clients verify the response's TSIG: NOERROR means it was
        // signed with the same key (checklist 69).
        expect_rcode(&server, *client, ZONE, &[&add], "NOERROR");
        assert_eq!(
            rdatas(&server, &format!("algo{i}.example.info"), "TXT").len(),
            1,
            "{client:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// Checklist 62, 67, 68 and RFC 2136 §3.3: who may update

#[test]
fn bad_keys_and_signatures_change_nothing() {
    let server = start();
    let before = serial(&server, ZONE);
    for (i, key) in [UNKNOWN, WRONG_SECRET].into_iter().enumerate() {
        for tool in [Tool::Nsupdate, Tool::Knsupdate] {
            let client = Client {
                tool,
                tcp: i == 1,
                key: Some(key),
            };
            let got = send(
                &server,
                client,
                ZONE,
                &["update add bad.example.info 60 A 198.18.0.66"],
            );
            // RFC 8945 §5.2: NOTAUTH; the client may instead report that
            // the (unsigned) answer does not verify. Either way, no success.
            assert_ne!(got.rcode.as_deref(), Some("NOERROR"), "{}", got.text);
        }
    }
    assert_eq!(
        rdatas(&server, "bad.example.info", "A"),
        Vec::<String>::new()
    );
    assert_eq!(serial(&server, ZONE), before);
}

#[test]
fn policy_limits_names_and_types() {
    let server = start();
    let home = |tcp| Client {
        tool: Tool::Nsupdate,
        tcp,
        key: Some(HOME),
    };
    let khome = Client {
        tool: Tool::Knsupdate,
        ..home(false)
    };
    // The home key may set subspace's address (the dyndns use)…
    expect_rcode(
        &server,
        home(false),
        ZONE,
        &[
            "update delete subspace.example.info A",
            "update add subspace.example.info 300 A 198.18.0.77",
        ],
        "NOERROR",
    );
    assert_eq!(
        rdatas(&server, "subspace.example.info", "A"),
        ["198.18.0.77"]
    );
    // …but no other name or type (RFC 2136 §3.3: REFUSED).
    expect_rcode(
        &server,
        home(true),
        ZONE,
        &["update add www.example.info 300 A 198.18.0.78"],
        "REFUSED",
    );
    expect_rcode(
        &server,
        khome,
        ZONE,
        &["update add subspace.example.info 300 TXT \"no\""],
        "REFUSED",
    );
    // One forbidden record refuses the whole message.
    expect_rcode(
        &server,
        khome,
        ZONE,
        &[
            "update add subspace.example.info 300 A 198.18.0.79",
            "update delete alias.example.info",
        ],
        "REFUSED",
    );
    assert_eq!(
        rdatas(&server, "subspace.example.info", "A"),
        ["198.18.0.77"]
    );
    assert_eq!(rdatas(&server, "www.example.info", "A").len(), 2);
    assert_eq!(rdatas(&server, "alias.example.info", "CNAME").len(), 1);
}

#[test]
fn unsigned_updates_only_from_allowed_addresses() {
    let server = start();
    let before = serial(&server, ZONE);
    for tool in [Tool::Nsupdate, Tool::Knsupdate] {
        let unsigned = Client {
            tool,
            tcp: tool == Tool::Knsupdate,
            key: None,
        };
        // Checklist 62: a zone without an address list refuses unsigned
        // updates (REFUSED, or NOTAUTH as Knot answers).
        let got = send(
            &server,
            unsigned,
            ZONE,
            &["update add unsigned.example.info 60 A 198.18.0.5"],
        );
        assert!(
            matches!(got.rcode.as_deref(), Some("REFUSED" | "NOTAUTH")),
            "{}",
            got.text
        );
        // A zone that lists 127.0.0.1 takes them.
        let name = format!("{tool:?}.example.net").to_lowercase();
        let add = format!("update add {name} 60 A 198.18.0.5");
        expect_rcode(&server, unsigned, OPEN_ZONE, &[&add], "NOERROR");
        assert_eq!(rdatas(&server, &name, "A"), ["198.18.0.5"]);
    }
    assert_eq!(
        rdatas(&server, "unsigned.example.info", "A"),
        Vec::<String>::new()
    );
    assert_eq!(serial(&server, ZONE), before);
    // The same key-signed update to the open zone: no key has a rule for
    // it, so REFUSED (RFC 2136 §3.3).
    expect_rcode(
        &server,
        nsupdate(false, K256),
        OPEN_ZONE,
        &["update add signed.example.net 60 A 198.18.0.6"],
        "REFUSED",
    );
}

// ---------------------------------------------------------------------------
// Checklist 67–69 on the wire: requests signed here

/// TSIG RR type, class ANY, and the error codes (RFC 8945 §3, §5.2).
const TSIG: u16 = 250;
const CLASS_ANY: u16 = 255;
const BADSIG: u16 = 16;
const BADKEY: u16 = 17;
const BADTIME: u16 = 18;
const NOTAUTH: u8 = 9;
const FUDGE: u16 = 300;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// HMAC of `data` with `key`, by `openssl dgst`.
fn hmac(key: &Key, data: &[u8]) -> Vec<u8> {
    let digest = match key.algorithm {
        "hmac-sha256" => "-sha256",
        "hmac-sha512" => "-sha512",
        "hmac-sha1" => "-sha1",
        other => panic!("no digest for {other}"),
    };
    let hex: String = key.raw.iter().map(|b| format!("{b:02x}")).collect();
    let mut cmd = Command::new("openssl");
    cmd.args(["dgst", digest, "-mac", "HMAC", "-macopt"])
        .arg(format!("hexkey:{hex}"))
        .arg("-binary");
    let out = run_with_input(&mut cmd, data);
    assert!(out.status.success(), "openssl dgst failed");
    out.stdout
}

/// The TSIG variables after the message in the MAC input (RFC 8945
/// §4.3.3): key name, class, TTL, algorithm, time, fudge, error, other.
fn tsig_variables(key: &Key, time: u64, error: u16, other: &[u8]) -> Vec<u8> {
    let mut v = name_to_wire(&key.name.to_lowercase());
    v.extend_from_slice(&CLASS_ANY.to_be_bytes());
    v.extend_from_slice(&0u32.to_be_bytes());
    v.extend(name_to_wire(key.algorithm));
    v.extend_from_slice(&time.to_be_bytes()[2..]);
    v.extend_from_slice(&FUDGE.to_be_bytes());
    v.extend_from_slice(&error.to_be_bytes());
    v.extend_from_slice(&(other.len() as u16).to_be_bytes());
    v.extend_from_slice(other);
    v
}

/// An UPDATE of `zone` adding `name` A 198.18.0.44, unsigned.
fn raw_update(id: u16, zone: &str, name: &str) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(&[0x28, 0, 0, 1, 0, 0, 0, 1, 0, 0]);
    m.extend(name_to_wire(zone));
    m.extend_from_slice(&[0, 6, 0, 1]);
    m.extend(name_to_wire(name));
    m.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 18, 0, 44]);
    m
}

/// Appends a TSIG RR signed with `key` at `time` (RFC 8945 §4.2); returns
/// the MAC.
fn sign(msg: &mut Vec<u8>, key: &Key, time: u64) -> Vec<u8> {
    let mut input = msg.clone();
    input.extend(tsig_variables(key, time, 0, &[]));
    let mac = hmac(key, &input);
    let id = [msg[0], msg[1]];
    let mut rdata = name_to_wire(key.algorithm);
    rdata.extend_from_slice(&time.to_be_bytes()[2..]);
    rdata.extend_from_slice(&FUDGE.to_be_bytes());
    rdata.extend_from_slice(&(mac.len() as u16).to_be_bytes());
    rdata.extend_from_slice(&mac);
    rdata.extend_from_slice(&id);
    rdata.extend_from_slice(&[0, 0, 0, 0]);
    msg.extend(name_to_wire(key.name));
    msg.extend_from_slice(&TSIG.to_be_bytes());
    msg.extend_from_slice(&CLASS_ANY.to_be_bytes());
    msg.extend_from_slice(&0u32.to_be_bytes());
    msg.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    msg.extend(rdata);
    let ar = u16::from_be_bytes([msg[10], msg[11]]) + 1;
    msg[10..12].copy_from_slice(&ar.to_be_bytes());
    mac
}

/// A response's TSIG RR, read by hand: where it starts and its fields.
#[derive(Debug)]
struct TsigRr {
    start: usize,
    time: u64,
    mac: Vec<u8>,
    error: u16,
    other: Vec<u8>,
}

/// Reads the TSIG RR that must be the last record of `msg`.
fn last_tsig(msg: &[u8]) -> Option<TsigRr> {
    let info = dnsd_e2e::wire::walk(msg).ok()?;
    let rr = info.additional.last()?;
    if rr.rtype != TSIG {
        return None;
    }
    let mut pointers = 0;
    let pos = dnsd_e2e::wire::read_name(msg, rr.rdata.start, &mut pointers).ok()?;
    let rdata = msg.get(pos..rr.rdata.end)?;
    let u16_at = |p: usize| Some(u16::from_be_bytes([*rdata.get(p)?, *rdata.get(p + 1)?]));
    let time = rdata
        .get(..6)?
        .iter()
        .fold(0u64, |acc, b| acc << 8 | u64::from(*b));
    let mac_len = u16_at(8)? as usize;
    let mac = rdata.get(10..10 + mac_len)?.to_vec();
    let at = 10 + mac_len + 2;
    let other_len = u16_at(at + 2)? as usize;
    Some(TsigRr {
        start: rr.offset,
        time,
        mac,
        error: u16_at(at)?,
        other: rdata.get(at + 4..at + 4 + other_len)?.to_vec(),
    })
}

/// Whether the response's MAC is right (RFC 8945 §4.3.1): request MAC,
/// response without its TSIG (ARCOUNT one less), TSIG variables.
fn response_verifies(resp: &[u8], tsig: &TsigRr, key: &Key, request_mac: &[u8]) -> bool {
    let mut input = (request_mac.len() as u16).to_be_bytes().to_vec();
    input.extend_from_slice(request_mac);
    let mut body = resp[..tsig.start].to_vec();
    let ar = u16::from_be_bytes([body[10], body[11]]).saturating_sub(1);
    body[10..12].copy_from_slice(&ar.to_be_bytes());
    input.extend(body);
    input.extend(tsig_variables(key, tsig.time, tsig.error, &tsig.other));
    hmac(key, &input) == tsig.mac
}

fn exchange(addr: SocketAddr, msg: &[u8]) -> Vec<u8> {
    client::udp(addr, msg, Duration::from_secs(3)).expect("an answer to a signed UPDATE")
}

#[test]
fn tsig_errors_on_the_wire() {
    let server = start();
    let before = serial(&server, ZONE);

    // Checklist 67: unknown key → NOTAUTH, BADKEY, unsigned (empty MAC).
    let mut m = raw_update(0x0101, ZONE, "badkey.example.info");
    sign(&mut m, &UNKNOWN, now());
    let r = exchange(server.addr, &m);
    let t = last_tsig(&r).unwrap_or_else(|| panic!("no TSIG in {r:02x?}"));
    assert_eq!((r[3] & 0x0f, t.error, t.mac.len()), (NOTAUTH, BADKEY, 0));

    // Checklist 67: wrong MAC → NOTAUTH, BADSIG, unsigned.
    let mut m = raw_update(0x0202, ZONE, "badsig.example.info");
    sign(&mut m, &WRONG_SECRET, now());
    let r = exchange(server.addr, &m);
    let t = last_tsig(&r).unwrap_or_else(|| panic!("no TSIG in {r:02x?}"));
    assert_eq!((r[3] & 0x0f, t.error, t.mac.len()), (NOTAUTH, BADSIG, 0));

    // Checklist 68: signed an hour ago, fudge 300 → NOTAUTH, BADTIME,
    // signed, with the server's time in Other Data (RFC 8945 §5.2.3).
    for key in [K256, K512, K1] {
        let mut m = raw_update(0x0303, ZONE, "badtime.example.info");
        let mac = sign(&mut m, &key, now() - 3600);
        let r = exchange(server.addr, &m);
        let t = last_tsig(&r).unwrap_or_else(|| panic!("no TSIG in {r:02x?}"));
        assert_eq!((r[3] & 0x0f, t.error), (NOTAUTH, BADTIME), "{key:?}");
        assert_eq!(t.other.len(), 6, "Other Data is the 48-bit server time");
        let server_time = t.other.iter().fold(0u64, |acc, b| acc << 8 | u64::from(*b));
        assert!(
            server_time.abs_diff(now()) < 60,
            "server time {server_time}"
        );
        assert!(
            response_verifies(&r, &t, &key, &mac),
            "BADTIME answer MAC ({key:?})"
        );
    }
    assert_eq!(
        serial(&server, ZONE),
        before,
        "no failed request changed the zone"
    );

    // Checklist 69: a good request → NOERROR, signed with the same key,
    // the MAC covering the request MAC.
    for (i, key) in [K256, K512, K1].into_iter().enumerate() {
        let name = format!("good{i}.example.info");
        let mut m = raw_update(0x0404 + i as u16, ZONE, &name);
        let mac = sign(&mut m, &key, now());
        let r = exchange(server.addr, &m);
        assert_eq!(r[3] & 0x0f, 0, "{key:?}: {r:02x?}");
        let t = last_tsig(&r).unwrap_or_else(|| panic!("no TSIG in {r:02x?}"));
        assert_eq!(t.error, 0);
        assert!(response_verifies(&r, &t, &key, &mac), "{key:?}");
        assert_eq!(rdatas(&server, &name, "A"), ["198.18.0.44"]);
    }
}

/// Checklist 66, RFC 8945 §5.1: a TSIG that is not the last record, or two
/// of them, is FORMERR, in either zone.
#[test]
fn misplaced_tsig_is_formerr() {
    let server = start();
    for zone in [ZONE, OPEN_ZONE] {
        let name = format!("misplaced.{zone}");
        // A signed update with one more record after its TSIG.
        let mut m = raw_update(0x0505, zone, &name);
        sign(&mut m, &K256, now());
        m.extend(name_to_wire(&name));
        m.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 18, 0, 45]);
        let ar = u16::from_be_bytes([m[10], m[11]]) + 1;
        m[10..12].copy_from_slice(&ar.to_be_bytes());
        let r = exchange(server.addr, &m);
        assert_eq!(r[3] & 0x0f, 1, "{zone}: TSIG not last: {r:02x?}");
        // Signed twice: two TSIG records.
        let mut m = raw_update(0x0606, zone, &name);
        sign(&mut m, &K256, now());
        sign(&mut m, &K256, now());
        let r = exchange(server.addr, &m);
        assert_eq!(r[3] & 0x0f, 1, "{zone}: two TSIGs: {r:02x?}");
        assert_eq!(rdatas(&server, &name, "A"), Vec::<String>::new());
    }
}
