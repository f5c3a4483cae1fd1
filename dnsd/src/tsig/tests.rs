//! TSIG against messages that other code signed: a request kdig signed
//! (captured once, below), requests signed here straight from the RFC 8945
//! text with the hmac crate, and live exchanges with kdig and dig over
//! loopback. Checklist items 66–69.

use std::net::UdpSocket;
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};

use super::*;

fn n(s: &str) -> Name {
    Name::parse_text(s).unwrap()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

const SECRET_B64: &str = "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0";

fn ring(name: &str, alg: Algorithm, secret_b64: &str) -> KeyRing {
    KeyRing::new(vec![Key::new(
        n(name),
        alg,
        decode_secret(secret_b64).unwrap(),
    )])
}

/// `kdig -y hmac-sha256:tsig-key.example:c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0
/// www.example.info A` (Knot 3.x), as received on a UDP socket.
const KDIG_QUERY: &str = concat!(
    "f3220120000100000000000103777777076578616d706c6504696e666f0000010001",
    "08747369672d6b6579076578616d706c650000fa00ff00000000003d",
    "0b686d61632d7368613235360000006b073c6d012c0020",
    "7394277bc880d9a79004d079fd476c59c05e4371d9d8d559e1258f58f4943a2c",
    "f32200000000"
);
/// Its Time Signed.
const KDIG_TIME: u64 = 0x6b07_3c6d;

fn expect_failure(c: Checked) -> TsigFailure {
    match c {
        Checked::Failed(f) => f,
        other => panic!("expected a failure, got {other:?}"),
    }
}

fn expect_signed(c: Checked) -> Verified {
    match c {
        Checked::Signed(v) => v,
        other => panic!("expected a verified request, got {other:?}"),
    }
}

#[test]
fn kdig_request_verifies() {
    // Checklist 69: hmac-sha256 supported.
    let msg = hex(KDIG_QUERY);
    let keys = ring("tsig-key.example", Algorithm::HmacSha256, SECRET_B64);
    let v = expect_signed(check_request(&msg, &keys, KDIG_TIME));
    assert_eq!(v.key_name, n("tsig-key.example"));
    assert_eq!(v.algorithm(), Algorithm::HmacSha256);
    assert_eq!(v.unsigned_len(), 34);
    // Key names match in any case.
    let upper = ring("TSIG-Key.Example", Algorithm::HmacSha256, SECRET_B64);
    expect_signed(check_request(&msg, &upper, KDIG_TIME + 300));
}

#[test]
fn kdig_request_failures() {
    let msg = hex(KDIG_QUERY);
    let keys = ring("tsig-key.example", Algorithm::HmacSha256, SECRET_B64);
    // Checklist 67: unknown key name; known name, other algorithm.
    let other = ring("other.example", Algorithm::HmacSha256, SECRET_B64);
    let f = expect_failure(check_request(&msg, &other, KDIG_TIME));
    assert_eq!(
        (f.kind(), f.rcode(), f.tsig_error()),
        (FailureKind::BadKey, 9, Some(17))
    );
    assert_eq!(f.key_name(), Some(&n("tsig-key.example")));
    let sha512 = ring("tsig-key.example", Algorithm::HmacSha512, SECRET_B64);
    let f = expect_failure(check_request(&msg, &sha512, KDIG_TIME));
    assert_eq!(f.kind(), FailureKind::BadKey);
    // Checklist 67: wrong secret, and a changed question byte.
    let wrong = ring("tsig-key.example", Algorithm::HmacSha256, "d3Jvbmc=");
    let f = expect_failure(check_request(&msg, &wrong, KDIG_TIME));
    assert_eq!((f.kind(), f.tsig_error()), (FailureKind::BadSig, Some(16)));
    let mut changed = msg.clone();
    changed[13] = b'W';
    let f = expect_failure(check_request(&changed, &keys, KDIG_TIME));
    assert_eq!(f.kind(), FailureKind::BadSig);
    // A changed ID is fine: the MAC covers the Original ID (RFC 8945 §4.3.3).
    let mut new_id = msg.clone();
    new_id[0] ^= 0xff;
    expect_signed(check_request(&new_id, &keys, KDIG_TIME));
    // Checklist 68: fudge is 300; 301 seconds off either way is BADTIME.
    expect_signed(check_request(&msg, &keys, KDIG_TIME - 300));
    for now in [KDIG_TIME + 301, KDIG_TIME - 301, 0, u64::MAX] {
        let f = expect_failure(check_request(&msg, &keys, now));
        assert_eq!((f.kind(), f.tsig_error()), (FailureKind::BadTime, Some(18)));
    }
    // A bad MAC with a bad time is BADSIG: the MAC is checked first (§5.2.3).
    let f = expect_failure(check_request(&msg, &wrong, KDIG_TIME + 1000));
    assert_eq!(f.kind(), FailureKind::BadSig);
}

/// A message signed as RFC 8945 §4.3.3 says, written independently of the
/// module: message (original ID, ARCOUNT without TSIG), then key name
/// lower-cased, class ANY, TTL 0, algorithm name, time (48 bits), fudge,
/// error 0, other len 0. `mac_len` truncates the MAC.
struct Signer<'a> {
    key_name: &'a str,
    alg: Algorithm,
    secret: &'a [u8],
    time: u64,
    fudge: u16,
    mac_len: Option<usize>,
    algorithm_name: Option<&'a [u8]>,
}

impl Signer<'_> {
    fn new(alg: Algorithm, time: u64) -> Signer<'static> {
        Signer {
            key_name: "Dyn.Example.Info",
            alg,
            secret: b"0123456789abcdef0123456789abcdef",
            time,
            fudge: 300,
            mac_len: None,
            algorithm_name: None,
        }
    }

    fn sign(&self, unsigned: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let key_wire = n(self.key_name).as_wire().to_vec();
        let alg_wire = self.algorithm_name.unwrap_or(self.alg.wire_name());
        let t = self.time.to_be_bytes();
        let mut timers = t[2..].to_vec();
        timers.extend_from_slice(&self.fudge.to_be_bytes());
        let mut data = unsigned.to_vec();
        data.extend_from_slice(&key_wire.to_ascii_lowercase());
        data.extend_from_slice(&[0, 255, 0, 0, 0, 0]);
        data.extend_from_slice(&alg_wire.to_ascii_lowercase());
        data.extend_from_slice(&timers);
        data.extend_from_slice(&[0, 0, 0, 0]);
        let full = hmac_of(self.alg, self.secret, &[&data]);
        let mac = full[..self.mac_len.unwrap_or(full.len())].to_vec();
        let mut rdata = alg_wire.to_vec();
        rdata.extend_from_slice(&timers);
        rdata.extend_from_slice(&(mac.len() as u16).to_be_bytes());
        rdata.extend_from_slice(&mac);
        rdata.extend_from_slice(&unsigned[..2]);
        rdata.extend_from_slice(&[0, 0, 0, 0]);
        let mut msg = unsigned.to_vec();
        msg[11] += 1;
        msg.extend_from_slice(&key_wire);
        msg.extend_from_slice(&[0, 250, 0, 255, 0, 0, 0, 0]);
        msg.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        msg.extend_from_slice(&rdata);
        (msg, mac)
    }

    fn ring(&self) -> KeyRing {
        KeyRing::new(vec![Key::new(
            n(self.key_name),
            self.alg,
            self.secret.to_vec(),
        )])
    }
}

fn hmac_of(alg: Algorithm, secret: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    fn run<M: Mac + KeyInit>(secret: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        let mut m = <M as KeyInit>::new_from_slice(secret).unwrap();
        for p in parts {
            m.update(p);
        }
        m.finalize().into_bytes().to_vec()
    }
    match alg {
        Algorithm::HmacSha1 => run::<Hmac<sha1::Sha1>>(secret, parts),
        Algorithm::HmacSha256 => run::<Hmac<sha2::Sha256>>(secret, parts),
        Algorithm::HmacSha512 => run::<Hmac<sha2::Sha512>>(secret, parts),
    }
}

/// An UPDATE for zone example.info. (RFC 2136 §2): one zone, one addition.
fn update_message() -> Vec<u8> {
    // ID 0xbeef, opcode UPDATE, ZOCOUNT 1, PRCOUNT 0, UPCOUNT 1, ADCOUNT 0.
    let mut m = vec![0xbe, 0xef, 0x28, 0, 0, 1, 0, 0, 0, 1, 0, 0];
    m.extend_from_slice(n("example.info").as_wire());
    m.extend_from_slice(&[0, 6, 0, 1]);
    m.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 18, 0, 7]);
    m
}

const ALL: [Algorithm; 3] = [
    Algorithm::HmacSha1,
    Algorithm::HmacSha256,
    Algorithm::HmacSha512,
];

#[test]
fn each_algorithm_verifies_and_rejects_a_wrong_secret() {
    for alg in ALL {
        let s = Signer::new(alg, 1_800_000_000);
        let (msg, _) = s.sign(&update_message());
        let v = expect_signed(check_request(&msg, &s.ring(), s.time));
        assert_eq!(v.algorithm(), alg);
        assert_eq!(v.unsigned_len(), update_message().len());
        let wrong = Signer {
            secret: b"another secret",
            ..Signer::new(alg, s.time)
        };
        let f = expect_failure(check_request(&msg, &wrong.ring(), s.time));
        assert_eq!(f.kind(), FailureKind::BadSig, "{alg}");
    }
}

#[test]
fn sign_request_matches_the_rfc_construction() {
    for alg in ALL {
        let s = Signer::new(alg, 1_800_000_000);
        let (expected, expected_mac) = s.sign(&update_message());
        let key = Key::new(n(s.key_name), alg, s.secret.to_vec());
        let mut msg = update_message();
        assert_eq!(
            sign_request(&key, &mut msg, s.time, 300),
            Some(expected_mac)
        );
        assert_eq!(msg, expected, "{alg}");
    }
    let key = Key::new(n("k"), Algorithm::HmacSha256, vec![1]);
    let mut runt = vec![0; 11];
    assert_eq!(sign_request(&key, &mut runt, 0, 300), None);
    assert_eq!(runt, vec![0; 11]);
}

#[test]
fn algorithm_names_compare_without_case() {
    let s = Signer {
        algorithm_name: Some(b"\x0bHMAC-SHA256\x00"),
        ..Signer::new(Algorithm::HmacSha256, 1_800_000_000)
    };
    let (msg, _) = s.sign(&update_message());
    expect_signed(check_request(&msg, &s.ring(), s.time));
    // hmac-md5 is not implemented: BADKEY, even with a key of that name.
    let md5 = Signer {
        algorithm_name: Some(b"\x08hmac-md5\x07sig-alg\x03reg\x03int\x00"),
        ..Signer::new(Algorithm::HmacSha256, 1_800_000_000)
    };
    let (msg, _) = md5.sign(&update_message());
    let f = expect_failure(check_request(&msg, &md5.ring(), s.time));
    assert_eq!(f.kind(), FailureKind::BadKey);
}

#[test]
fn truncated_macs_follow_rfc_8945_5_2_2_1() {
    // (algorithm, shortest allowed, full length).
    for (alg, min, full) in [
        (Algorithm::HmacSha1, 10, 20),
        (Algorithm::HmacSha256, 16, 32),
        (Algorithm::HmacSha512, 32, 64),
    ] {
        let time = 1_800_000_000;
        let with_len = |len: usize| {
            let s = Signer {
                mac_len: Some(len),
                ..Signer::new(alg, time)
            };
            check_request(&s.sign(&update_message()).0, &s.ring(), time)
        };
        // Rule 4: truncated to at least the floor, verified on the prefix.
        let v = expect_signed(with_len(min));
        assert_eq!(v.request_mac.len(), min, "the truncated MAC is kept");
        expect_signed(with_len(full));
        // Rule 3: below the floor (and zero) is FORMERR.
        for len in [min - 1, 1, 0] {
            let f = expect_failure(with_len(len));
            assert_eq!(
                (f.kind(), f.rcode()),
                (FailureKind::FormErr, 1),
                "{alg} {len}"
            );
        }
    }
    // Rule 1: longer than the hash is FORMERR (a 33-byte "MAC" for SHA-256).
    let s = Signer::new(Algorithm::HmacSha256, 1_800_000_000);
    let (mut msg, _) = s.sign(&update_message());
    let mac_len_at = msg.len() - 6 - 32 - 2;
    msg[mac_len_at + 1] = 33;
    msg.insert(msg.len() - 6, 0);
    let rdlen_at = mac_len_at - 10 - n("hmac-sha256").wire_len() - 2;
    msg[rdlen_at + 1] += 1;
    let f = expect_failure(check_request(&msg, &s.ring(), s.time));
    assert_eq!(f.kind(), FailureKind::FormErr);
}

#[test]
fn misplaced_tsig_is_formerr_and_no_tsig_is_unsigned() {
    // Checklist 66.
    let s = Signer::new(Algorithm::HmacSha256, 1_800_000_000);
    let (signed, _) = s.sign(&update_message());
    let tsig = signed[update_message().len()..].to_vec();
    let mut twice = signed.clone();
    twice.extend_from_slice(&tsig);
    twice[11] += 1;
    let f = expect_failure(check_request(&twice, &s.ring(), s.time));
    assert_eq!(f.kind(), FailureKind::FormErr);
    let mut resp = update_message();
    finish_error_response(&f, &mut resp, s.time);
    assert_eq!(resp[3] & 0x0F, 1, "FORMERR");
    assert_eq!(resp.len(), update_message().len(), "no TSIG on a FORMERR");
    assert!(matches!(
        check_request(&update_message(), &s.ring(), s.time),
        Checked::Unsigned
    ));
    assert!(matches!(
        check_request(&update_message(), &KeyRing::default(), 0),
        Checked::Unsigned
    ));
}

/// The TSIG RR at the end of `msg`: (owner, algorithm, time, fudge, MAC,
/// original ID, error, other), read field by field.
struct Rr {
    owner: Vec<u8>,
    algorithm: Vec<u8>,
    time: u64,
    fudge: u16,
    mac: Vec<u8>,
    original_id: u16,
    error: u16,
    other: Vec<u8>,
    start: usize,
}

fn last_tsig(msg: &[u8], owner: &Name, algorithm: &[u8]) -> Rr {
    // Only for messages this test built: owner and algorithm are known.
    let u = |i: usize| u16::from_be_bytes([msg[i], msg[i + 1]]);
    // Other Data is empty or a 48-bit time.
    let other_len = [0, 6]
        .into_iter()
        .find(|&l| u(msg.len() - l - 2) as usize == l)
        .expect("other len");
    let tail = msg.len() - other_len - 6;
    for mac_len in (0..=64).rev() {
        let Some(start) = tail.checked_sub(mac_len + owner.wire_len() + 10 + algorithm.len() + 10)
        else {
            continue;
        };
        let alg_at = start + owner.wire_len() + 10;
        if msg[start..start + owner.wire_len()] == *owner.as_wire()
            && msg[alg_at..alg_at + algorithm.len()] == *algorithm
            && u(tail - mac_len - 2) as usize == mac_len
        {
            let t = alg_at + algorithm.len();
            return Rr {
                owner: owner.as_wire().to_vec(),
                algorithm: algorithm.to_vec(),
                time: msg[t..t + 6]
                    .iter()
                    .fold(0, |a, &b| (a << 8) | u64::from(b)),
                fudge: u(t + 6),
                mac: msg[tail - mac_len..tail].to_vec(),
                original_id: u(tail),
                error: u(tail + 2),
                other: msg[tail + 6..].to_vec(),
                start,
            };
        }
    }
    panic!("no TSIG RR at the end of {msg:02x?}");
}

/// A response MAC as RFC 8945 §4.3.1/§4.3.3 define it, computed here.
fn response_mac(
    alg: Algorithm,
    secret: &[u8],
    request_mac: &[u8],
    response: &[u8],
    rr: &Rr,
) -> Vec<u8> {
    let mut vars = rr.owner.to_ascii_lowercase();
    vars.extend_from_slice(&[0, 255, 0, 0, 0, 0]);
    vars.extend_from_slice(&rr.algorithm.to_ascii_lowercase());
    vars.extend_from_slice(&rr.time.to_be_bytes()[2..]);
    vars.extend_from_slice(&rr.fudge.to_be_bytes());
    vars.extend_from_slice(&rr.error.to_be_bytes());
    vars.extend_from_slice(&(rr.other.len() as u16).to_be_bytes());
    vars.extend_from_slice(&rr.other);
    let len = (request_mac.len() as u16).to_be_bytes();
    hmac_of(alg, secret, &[&len, request_mac, response, &vars])
}

/// The response to `update_message()`: QR set, rcode as given.
fn response(rcode: u8) -> Vec<u8> {
    let mut r = update_message();
    r[2] |= 0x80;
    r[3] = rcode;
    r[9] = 0;
    r.truncate(12 + n("example.info").wire_len() + 4);
    r
}

#[test]
fn responses_are_signed_over_the_request_mac() {
    // Checklist 69.
    for alg in ALL {
        let s = Signer {
            mac_len: Some(alg.min_mac_len()),
            ..Signer::new(alg, 1_800_000_000)
        };
        let (req, req_mac) = s.sign(&update_message());
        let v = expect_signed(check_request(&req, &s.ring(), s.time));
        let mut resp = response(0);
        let unsigned = resp.clone();
        sign_response(&v, &mut resp, s.time + 5);
        let rr = last_tsig(&resp, &n(s.key_name), alg.wire_name());
        assert_eq!(rr.start, unsigned.len());
        assert_eq!(resp.len() - unsigned.len(), v.response_tsig_len());
        assert_eq!(resp[..10], unsigned[..10]);
        assert_eq!(resp[11], unsigned[11] + 1, "ARCOUNT counts the TSIG");
        assert_eq!((rr.time, rr.fudge, rr.error), (s.time + 5, 300, 0));
        assert_eq!(rr.original_id, 0xbeef);
        assert!(rr.other.is_empty());
        // Full-length MAC over the truncated request MAC (§5.2.2.1 rule 4).
        assert_eq!(
            rr.mac,
            response_mac(alg, s.secret, &req_mac, &unsigned, &rr),
            "{alg}"
        );
    }
}

#[test]
fn badkey_and_badsig_answers_are_unsigned() {
    // Checklist 67: NOTAUTH, TSIG error, MAC size 0, request fields echoed.
    let s = Signer::new(Algorithm::HmacSha256, 1_800_000_000);
    let (req, _) = s.sign(&update_message());
    let wrong = Signer {
        secret: b"nope",
        ..Signer::new(Algorithm::HmacSha256, s.time)
    };
    let unknown = Signer {
        key_name: "unknown.example",
        ..Signer::new(Algorithm::HmacSha256, s.time)
    };
    for (keys, code) in [(wrong.ring(), 16), (unknown.ring(), 17)] {
        let f = expect_failure(check_request(&req, &keys, s.time + 9999));
        let mut resp = response(0);
        let unsigned = resp.clone();
        finish_error_response(&f, &mut resp, s.time + 9999);
        assert_eq!(resp[3] & 0x0F, 9, "NOTAUTH");
        let rr = last_tsig(&resp, &n(s.key_name), Algorithm::HmacSha256.wire_name());
        assert_eq!(rr.start, unsigned.len());
        assert_eq!(resp[11], 1);
        assert_eq!((rr.error, rr.mac.len(), rr.other.len()), (code, 0, 0));
        assert_eq!((rr.time, rr.fudge), (s.time, 300), "request timers echoed");
    }
}

#[test]
fn badtime_answer_is_signed_and_carries_server_time() {
    // Checklist 68.
    let s = Signer::new(Algorithm::HmacSha512, 1_800_000_000);
    let (req, req_mac) = s.sign(&update_message());
    let now = s.time + 301;
    let f = expect_failure(check_request(&req, &s.ring(), now));
    let mut resp = response(9);
    let unsigned = resp.clone();
    finish_error_response(&f, &mut resp, now);
    assert_eq!(resp[3] & 0x0F, 9);
    let rr = last_tsig(&resp, &n(s.key_name), Algorithm::HmacSha512.wire_name());
    assert_eq!(rr.error, 18);
    assert_eq!(
        rr.other,
        now.to_be_bytes()[2..].to_vec(),
        "server time, 48 bits"
    );
    assert_eq!(rr.time, s.time, "request time echoed");
    assert_eq!(
        rr.mac,
        response_mac(Algorithm::HmacSha512, s.secret, &req_mac, &unsigned, &rr)
    );
}

proptest::proptest! {
    #[test]
    fn check_request_never_panics_on_mutated_signed_messages(
        flips in proptest::collection::vec((0usize..200, proptest::num::u8::ANY), 1..6),
        cut in 0usize..200,
    ) {
        let s = Signer::new(Algorithm::HmacSha256, 1_800_000_000);
        let (mut m, _) = s.sign(&update_message());
        for (i, b) in flips {
            let len = m.len();
            m[i % len] = b;
        }
        let keys = s.ring();
        for msg in [&m[..], &m[..cut.min(m.len())]] {
            if let Checked::Failed(f) = check_request(msg, &keys, s.time) {
                let mut resp = msg.to_vec();
                finish_error_response(&f, &mut resp, s.time);
            }
        }
    }
}

// ---- Live interop with kdig and dig over loopback ----

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Runs a client tool, killing it if it outlives `limit`. A missing tool
/// fails the test with the reason (`cargo xtask setup` installs it).
fn run_bounded(cmd: &mut Command, input: &str, limit: Duration) -> Output {
    let name = format!("{:?}", cmd.get_program());
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {name} ({e}); `cargo xtask setup` installs it"));
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write as _;
        stdin
            .write_all(input.as_bytes())
            .expect("write client input");
    }
    let deadline = Instant::now() + limit;
    while child.try_wait().ok().flatten().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("collect client output")
}

/// How the loopback responder treats the one query it gets: its clock is
/// `skew` seconds ahead (BADTIME if beyond the fudge); with `wrong_secret`
/// it signs with a key of the request key's name and another secret.
#[derive(Clone, Copy)]
struct Reply {
    skew: u64,
    wrong_secret: bool,
}

const HONEST: Reply = Reply {
    skew: 0,
    wrong_secret: false,
};

/// `v` with its key's secret replaced.
fn forged(v: &Verified) -> Verified {
    let k = &v.key;
    let bad = Key::new(k.name.clone(), k.algorithm, b"not the secret".to_vec());
    Verified {
        key: Arc::new(bad),
        ..v.clone()
    }
}

/// Binds 127.0.0.1:0, answers one query as `reply` says, and returns the
/// port and a handle yielding what `check_request` made of the query.
fn responder(keys: KeyRing, reply: Reply) -> (u16, thread::JoinHandle<Checked>) {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind loopback");
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let port = sock.local_addr().unwrap().port();
    let handle = thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let (len, peer) = sock.recv_from(&mut buf).expect("no query from the client");
        let query = &buf[..len];
        let now = unix_now() + reply.skew;
        let mut checked = check_request(query, &keys, now);
        if reply.wrong_secret {
            match &mut checked {
                Checked::Signed(v) => *v = forged(v),
                Checked::Failed(f) => f.signer = f.signer.as_ref().map(forged),
                Checked::Unsigned => {}
            }
        }
        let mut resp = answer(query, &checked);
        match &checked {
            Checked::Signed(v) => sign_response(v, &mut resp, now),
            Checked::Failed(f) => finish_error_response(f, &mut resp, now),
            Checked::Unsigned => {}
        }
        sock.send_to(&resp, peer).expect("send response");
        checked
    });
    (port, handle)
}

/// Echoes the question (zone section) with, for a query that passed, one
/// A record 198.18.0.7; AA on queries; no EDNS.
fn answer(query: &[u8], checked: &Checked) -> Vec<u8> {
    let qend = 12 + crate::wire::name::wire_len(&query[12..]).expect("question name") + 4;
    let mut r = query[..qend].to_vec();
    let is_update = (r[2] >> 3) & 0x0F == 5;
    r[2] = (r[2] | 0x80 | if is_update { 0 } else { 0x04 }) & !0x02;
    r[3] &= 0xF0;
    r[6..12].copy_from_slice(&[0, 0, 0, 0, 0, 0]);
    match checked {
        Checked::Failed(f) => r[3] |= f.rcode(),
        _ if is_update => {}
        _ => {
            r[7] = 1;
            r.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 18, 0, 7]);
        }
    }
    r
}

/// Runs a client with `args` (then `input` on stdin), bounded in time;
/// returns its exit code, stdout and stderr as one text.
fn client(program: &str, args: &[&str], input: &str) -> String {
    let out = run_bounded(
        Command::new(program).args(args),
        input,
        Duration::from_secs(15),
    );
    format!(
        "status {:?}\n{}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn kdig(port: u16, key: &str) -> String {
    let port = port.to_string();
    let args = [
        "-y",
        key,
        "@127.0.0.1",
        "-p",
        &port,
        "+retry=0",
        "+timeout=3",
    ];
    client(
        "kdig",
        &[&args[..], &["www.example.info", "A"]].concat(),
        "",
    )
}

fn dig(port: u16, key: &str) -> String {
    let port = port.to_string();
    let args = ["-y", key, "@127.0.0.1", "-p", &port, "+tries=1", "+time=3"];
    client("dig", &[&args[..], &["www.example.info", "A"]].concat(), "")
}

/// `nsupdate` (BIND) adding one A record to zone example.info.
fn nsupdate(port: u16, key: &str) -> String {
    let script = format!(
        "server 127.0.0.1 {port}\nzone example.info\n\
         update add host.example.info 60 A 198.18.0.9\nsend\n"
    );
    client("nsupdate", &["-t", "3", "-y", key], &script)
}

const KDIG_SHA256: &str = "hmac-sha256:tsig-key.example:c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0";

#[test]
fn kdig_accepts_signed_answers_for_each_algorithm() {
    for alg in ALL {
        let keys = ring("tsig-key.example", alg, SECRET_B64);
        let (port, h) = responder(keys, HONEST);
        let out = kdig(port, &format!("{alg}:tsig-key.example:{SECRET_B64}"));
        let checked = h.join().expect("responder thread");
        assert!(matches!(checked, Checked::Signed(_)), "{alg}: {checked:?}");
        assert!(out.contains("198.18.0.7"), "{alg}: {out}");
        assert!(out.contains("status Some(0)"), "{alg}: {out}");
        assert!(!out.contains("WARNING"), "{alg}: {out}");
    }
}

#[test]
fn kdig_rejects_an_answer_signed_with_another_secret() {
    let keys = ring("tsig-key.example", Algorithm::HmacSha256, SECRET_B64);
    let (port, h) = responder(
        keys,
        Reply {
            skew: 0,
            wrong_secret: true,
        },
    );
    let out = kdig(port, KDIG_SHA256);
    assert!(matches!(h.join().unwrap(), Checked::Signed(_)));
    assert!(out.contains("failed to verify TSIG"), "{out}");
}

#[test]
fn kdig_sees_badkey_badsig_and_signed_badtime() {
    // BADKEY: the server knows no such key; BADSIG: same name, other secret.
    for (keys, kind, status) in [
        (
            ring("other.example", Algorithm::HmacSha256, SECRET_B64),
            FailureKind::BadKey,
            "status: BADKEY",
        ),
        (
            ring("tsig-key.example", Algorithm::HmacSha256, "d3Jvbmc="),
            FailureKind::BadSig,
            "status: BADSIG",
        ),
    ] {
        let (port, h) = responder(keys, HONEST);
        let out = kdig(port, KDIG_SHA256);
        assert_eq!(expect_failure(h.join().unwrap()).kind(), kind);
        assert!(out.contains(status), "{out}");
    }
    // BADTIME: the server clock an hour ahead; kdig must accept the
    // signature on the error, and refuse it when the secret is wrong.
    for wrong_secret in [false, true] {
        let keys = ring("tsig-key.example", Algorithm::HmacSha256, SECRET_B64);
        let (port, h) = responder(
            keys,
            Reply {
                skew: 3600,
                wrong_secret,
            },
        );
        let out = kdig(port, KDIG_SHA256);
        assert_eq!(
            expect_failure(h.join().unwrap()).kind(),
            FailureKind::BadTime
        );
        assert!(out.contains("status: BADTIME"), "{out}");
        assert_eq!(out.contains("failed to verify"), wrong_secret, "{out}");
    }
}

#[test]
fn dig_and_nsupdate_interop() {
    let keys = ring("tsig-key.example", Algorithm::HmacSha256, SECRET_B64);
    for wrong_secret in [false, true] {
        let reply = Reply {
            skew: 0,
            wrong_secret,
        };
        let (port, h) = responder(keys.clone(), reply);
        let out = dig(port, KDIG_SHA256);
        expect_signed(h.join().unwrap());
        assert!(out.contains("198.18.0.7"), "{out}");
        assert_eq!(out.contains("tsig verify failure"), wrong_secret, "{out}");
        assert_eq!(
            out.contains("could not be validated"),
            wrong_secret,
            "{out}"
        );
        let (port, h) = responder(keys.clone(), reply);
        let out = nsupdate(port, KDIG_SHA256);
        expect_signed(h.join().unwrap());
        assert_eq!(out.contains("status Some(0)"), !wrong_secret, "{out}");
        assert_eq!(out.contains("tsig verify failure"), wrong_secret, "{out}");
    }
}

#[test]
fn nsupdate_sees_badkey_badsig_and_signed_badtime() {
    // BIND names the TSIG error after NOTAUTH, and tells a BADTIME whose
    // signature verified ("clocks are unsynchronized") from a forged one.
    let good = ring("tsig-key.example", Algorithm::HmacSha256, SECRET_B64);
    for (keys, skew, wrong_secret, expect) in [
        (
            ring("other.example", Algorithm::HmacSha256, SECRET_B64),
            0,
            false,
            "NOTAUTH(BADKEY)",
        ),
        (
            ring("tsig-key.example", Algorithm::HmacSha256, "d3Jvbmc="),
            0,
            false,
            "NOTAUTH(BADSIG)",
        ),
        (good.clone(), 3600, false, "clocks are unsynchronized"),
        (good, 3600, true, "tsig verify failure"),
    ] {
        let (port, h) = responder(keys, Reply { skew, wrong_secret });
        let out = nsupdate(port, KDIG_SHA256);
        expect_failure(h.join().unwrap());
        assert!(out.contains(expect), "{out}");
        assert!(!out.contains("status Some(0)"), "{out}");
    }
}

#[test]
fn dig_truncated_macs_verify_and_answers_cover_them() {
    // BIND's hmac-sha256-128 etc. send MACs truncated to the RFC 8945
    // §5.2.2.1 floor; our full-length answer MAC covers the truncated
    // request MAC (rule 4), which dig checks.
    for (alg, spec, len) in [
        (Algorithm::HmacSha256, "hmac-sha256-128", 16),
        (Algorithm::HmacSha512, "hmac-sha512-256", 32),
        (Algorithm::HmacSha1, "hmac-sha1-80", 10),
    ] {
        let keys = ring("tsig-key.example", alg, SECRET_B64);
        let (port, h) = responder(keys, HONEST);
        let out = dig(port, &format!("{spec}:tsig-key.example:{SECRET_B64}"));
        let v = expect_signed(h.join().unwrap());
        assert_eq!(v.request_mac.len(), len, "{spec}");
        assert!(out.contains("198.18.0.7"), "{out}");
        assert!(!out.contains("Couldn't verify"), "{out}");
        assert!(!out.contains("could not be validated"), "{out}");
    }
}
