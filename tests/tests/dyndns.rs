//! The dyndns2 HTTP endpoint end to end (issue 5, items 3 and 7): the real
//! dnsd with `[dyndns]` on loopback, requests as ddclient sends them with
//! good and bad credentials, and the DNS answers that follow — through
//! the same policy, journal and limits as RFC 2136 updates.
//!
//! Loopback only; plain HTTP (allowed there).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use dnsd_e2e::client;
use dnsd_e2e::normalize::Response;
use dnsd_e2e::servers::{Dnsd, Server, Zone, dnsd_command, free_port};
use dnsd_e2e::wire::{QueryBuilder, rtype};

const TIMEOUT: Duration = Duration::from_secs(5);

/// RFC 4648 base64, for the Basic credentials.
fn base64(data: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ABC[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// One GET as ddclient 3.x writes it; returns (status, body).
fn get(addr: SocketAddr, query: &str, user: &str, password: &str) -> (u16, String) {
    let mut s = TcpStream::connect_timeout(&addr, TIMEOUT).expect("connect to the dyndns endpoint");
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    let auth = base64(format!("{user}:{password}").as_bytes());
    write!(
        s,
        "GET /nic/update?{query} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic {auth}\r\n\
         User-Agent: ddclient/3.10.0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read the HTTP response");
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

fn addresses(server: &Server, name: &str, qtype: u16) -> Vec<String> {
    let q = QueryBuilder::new(name, qtype).build();
    let r = client::udp(server.addr, &q, TIMEOUT).expect("a DNS answer");
    Response::parse(&r)
        .expect("parses")
        .answer
        .iter()
        .filter(|a| a.rtype == qtype)
        .map(|a| a.rdata.clone())
        .collect()
}

fn start(rate: u32) -> (Server, SocketAddr) {
    let http = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let zone = Zone::rfc1035("example.info", dnsd_e2e::example("zones/example.info.zone"));
    let server = Dnsd::new(&[zone])
        .server_option("journal_dir = \"journal\"")
        .config_text(&format!(
            "[[key]]\nname = \"home-router\"\nsecret = \"c2VjcmV0LXNlY3JldC1zZWNyZXQ=\"\nrate = {rate}\n\
             [[key.allow]]\nzone = \"example.info\"\nnames = [\"subspace.example.info\"]\ntypes = [\"A\", \"AAAA\"]\n\n\
             [dyndns]\nlisten = [\"{http}\"]\n[[dyndns.user]]\nname = \"router\"\npassword = \"hunter2\"\nkey = \"home-router\"\n"
        ))
        .start();
    (server, http)
}

#[test]
fn ddclient_requests_update_the_home_address() {
    let (mut server, http) = start(100);
    let q = "system=dyndns&hostname=subspace.example.info&myip=198.18.5.5";
    assert_eq!(
        get(http, q, "router", "hunter2"),
        (200, "good 198.18.5.5\n".into())
    );
    // DNS answers the new address, also through the wildcard CNAME.
    assert_eq!(
        addresses(&server, "subspace.example.info", rtype::A),
        ["198.18.5.5"]
    );
    assert_eq!(
        addresses(&server, "anything.example.info", rtype::A),
        ["198.18.5.5"]
    );
    // The same address again changes nothing.
    assert_eq!(
        get(http, q, "router", "hunter2"),
        (200, "nochg 198.18.5.5\n".into())
    );

    // Bad credentials change nothing.
    let bad = "hostname=subspace.example.info&myip=198.18.5.6";
    let (status, body) = get(http, bad, "router", "hunter3");
    assert_eq!((status, body.trim()), (401, "badauth"));
    assert_eq!(
        addresses(&server, "subspace.example.info", rtype::A),
        ["198.18.5.5"]
    );

    // Names outside the key's policy, or in no zone here: nohost.
    let (_, body) = get(
        http,
        "hostname=www.example.info&myip=198.18.5.7",
        "router",
        "hunter2",
    );
    assert_eq!(body.trim(), "nohost");
    assert_eq!(
        addresses(&server, "www.example.info", rtype::A),
        ["192.0.2.10"]
    );
    let (_, body) = get(
        http,
        "hostname=host.example.com&myip=198.18.5.7",
        "router",
        "hunter2",
    );
    assert_eq!(body.trim(), "nohost");

    // Without myip, the caller's address; IPv6 goes to AAAA.
    let (_, body) = get(http, "hostname=subspace.example.info", "router", "hunter2");
    assert_eq!(body.trim(), "good 127.0.0.1");
    assert_eq!(
        addresses(&server, "subspace.example.info", rtype::A),
        ["127.0.0.1"]
    );
    let (_, body) = get(
        http,
        "hostname=subspace.example.info&myip=2001:db8::5",
        "router",
        "hunter2",
    );
    assert_eq!(body.trim(), "good 2001:db8::5");
    assert_eq!(
        addresses(&server, "subspace.example.info", rtype::AAAA),
        ["2001:db8::5"]
    );

    // Logged with the key, and journaled: `dnsd journal` shows it and a
    // restart keeps it.
    let log = server.log();
    assert!(
        log.lines()
            .any(|l| l.contains("update applied") && l.contains("home-router")),
        "{log}"
    );
    let out = dnsd_command()
        .args(["journal", "example.info", "--config"])
        .arg(server.dir().join("dnsd.toml"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("+ subspace.example.info. 300 IN AAAA 2001:db8::5"),
        "{text}"
    );
    server.restart();
    assert_eq!(
        addresses(&server, "subspace.example.info", rtype::A),
        ["127.0.0.1"]
    );
}

#[test]
fn the_key_rate_limit_answers_abuse() {
    let (server, http) = start(2);
    for last in 1..=2 {
        let q = format!("hostname=subspace.example.info&myip=198.18.6.{last}");
        assert_eq!(
            get(http, &q, "router", "hunter2").1.trim(),
            format!("good 198.18.6.{last}")
        );
    }
    let (_, body) = get(
        http,
        "hostname=subspace.example.info&myip=198.18.6.3",
        "router",
        "hunter2",
    );
    assert_eq!(body.trim(), "abuse");
    assert_eq!(
        addresses(&server, "subspace.example.info", rtype::A),
        ["198.18.6.2"]
    );
}
