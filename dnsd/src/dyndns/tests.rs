//! The endpoint over loopback sockets, with a sink that records calls and
//! answers what each test tells it. Requests are written byte for byte as
//! the clients send them.

use std::collections::HashMap;
use std::fs::Permissions;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use super::server::Timeouts;
use super::*;

/// No exchange in these tests may take longer.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(5);

/// A directory of this test process, removed by the caller.
pub(super) fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dnsd-dyndns-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Call {
    key: String,
    host: String,
    addr: IpAddr,
    client: IpAddr,
}

/// Records every call; answers `Changed` unless told otherwise per host.
#[derive(Default)]
struct MockSink {
    calls: Mutex<Vec<Call>>,
    answers: Mutex<HashMap<String, Result<SetOutcome, SetRefusal>>>,
}

impl MockSink {
    fn answer(&self, host: &str, answer: Result<SetOutcome, SetRefusal>) {
        self.answers.lock().unwrap().insert(host.into(), answer);
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
}

impl AddressSink for MockSink {
    fn set_address(
        &self,
        change: AddressChange<'_>,
    ) -> impl Future<Output = Result<SetOutcome, SetRefusal>> + Send {
        let AddressChange {
            key,
            host,
            addr,
            client,
        } = change;
        let host = host.to_string();
        let answer = self
            .answers
            .lock()
            .unwrap()
            .get(&host)
            .copied()
            .unwrap_or(Ok(SetOutcome::Changed));
        self.calls.lock().unwrap().push(Call {
            key: key.into(),
            host,
            addr,
            client: client.ip(),
        });
        async move { answer }
    }
}

/// A running endpoint; stops when dropped.
struct Server {
    addrs: Vec<SocketAddr>,
    sink: Arc<MockSink>,
    task: JoinHandle<Result<(), DyndnsError>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const USERS: &str = r#"
[[user]]
name = "router"
password = "hunter2"
key = "home-router"
[[user]]
name = "laptop"
password = "other-pw"
key = "laptop-key"
"#;

fn config(top: &str, base_dir: &Path) -> DyndnsConfig {
    let mut c: DyndnsConfig = toml::from_str(&format!("{top}\n{USERS}")).unwrap();
    c.base_dir = base_dir.to_owned();
    c
}

fn start(config: &DyndnsConfig) -> Server {
    start_with(config, Timeouts::default())
}

fn start_with(config: &DyndnsConfig, timeouts: Timeouts) -> Server {
    let listener = Listener::bind(config).unwrap().with_timeouts(timeouts);
    let addrs = listener.local_addrs();
    assert_eq!(addrs.len(), config.listen.len());
    let sink = Arc::new(MockSink::default());
    let task = tokio::spawn(listener.serve(sink.clone()));
    Server { addrs, sink, task }
}

fn start_plain() -> Server {
    start(&config("listen = [\"127.0.0.1:0\"]", Path::new("/")))
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

/// A request as ddclient 3.10 writes it for `protocol=dyndns2`.
fn ddclient_request(query: &str, auth: &str) -> String {
    format!(
        "GET /nic/update?{query} HTTP/1.1\r\nHost: members.example.info\r\n\
         Authorization: {auth}\r\nUser-Agent: ddclient/3.10.0\r\nConnection: close\r\n\r\n"
    )
}

#[derive(Debug)]
struct HttpResponse {
    status: u16,
    head: String,
    body: String,
}

impl HttpResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Writes `request`, reads until the server closes.
async fn exchange_on<IO: AsyncRead + AsyncWrite + Unpin>(
    mut io: IO,
    request: &[u8],
) -> HttpResponse {
    let run = async {
        io.write_all(request).await.unwrap();
        io.flush().await.unwrap();
        let mut raw = Vec::new();
        io.read_to_end(&mut raw).await.unwrap();
        raw
    };
    let raw = tokio::time::timeout(EXCHANGE_TIMEOUT, run)
        .await
        .expect("server did not answer and close in time");
    let text = String::from_utf8(raw).expect("response is not UTF-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("no end of head");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    HttpResponse {
        status,
        head: head.into(),
        body: body.into(),
    }
}

async fn exchange(addr: SocketAddr, request: &str) -> HttpResponse {
    exchange_on(TcpStream::connect(addr).await.unwrap(), request.as_bytes()).await
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn call(key: &str, host: &str, addr: &str, client: &str) -> Call {
    Call {
        key: key.into(),
        host: host.into(),
        addr: ip(addr),
        client: ip(client),
    }
}

#[tokio::test]
async fn ddclient_update_answers_good_then_nochg() {
    let s = start_plain();
    let auth = basic("router", "hunter2");
    let query = "system=dyndns&hostname=subspace.example.info&myip=198.51.100.7";
    let r = exchange(s.addrs[0], &ddclient_request(query, &auth)).await;
    assert_eq!((r.status, r.body.as_str()), (200, "good 198.51.100.7\n"));
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    s.sink
        .answer("subspace.example.info.", Ok(SetOutcome::Unchanged));
    let r = exchange(s.addrs[0], &ddclient_request(query, &auth)).await;
    assert_eq!((r.status, r.body.as_str()), (200, "nochg 198.51.100.7\n"));
    let want = call(
        "home-router",
        "subspace.example.info.",
        "198.51.100.7",
        "127.0.0.1",
    );
    assert_eq!(s.sink.calls(), [want.clone(), want]);
}

#[tokio::test]
async fn bad_credentials_answer_401_badauth() {
    let s = start_plain();
    let query = "hostname=subspace.example.info&myip=198.51.100.7";
    let cases = [
        ddclient_request(query, &basic("router", "hunter3")),
        ddclient_request(query, &basic("router", "")),
        ddclient_request(query, &basic("nobody", "hunter2")),
        // The other user's password does not open this user's account.
        ddclient_request(query, &basic("router", "other-pw")),
        ddclient_request(query, "Basic not-base64!"),
        ddclient_request(query, "Bearer aHVudGVyMg=="),
        format!("GET /nic/update?{query} HTTP/1.1\r\nHost: x\r\n\r\n"),
        format!(
            "GET /nic/update?{query}&username=router&password=nope HTTP/1.1\r\nHost: x\r\n\r\n"
        ),
    ];
    for req in &cases {
        let r = exchange(s.addrs[0], req).await;
        assert_eq!((r.status, r.body.as_str()), (401, "badauth\n"), "{req}");
        assert_eq!(
            r.header("www-authenticate"),
            Some("Basic realm=\"dnsd\""),
            "{req}"
        );
    }
    assert_eq!(s.sink.calls(), []);
}

#[tokio::test]
async fn refusals_map_to_dyndns2_codes() {
    let s = start_plain();
    let auth = basic("laptop", "other-pw");
    let cases = [
        ("missing.example.org", Err(SetRefusal::NoHost), "nohost"),
        ("www.example.info", Err(SetRefusal::NotAllowed), "nohost"),
        ("busy.example.info", Err(SetRefusal::Abuse), "abuse"),
        ("broken.example.info", Err(SetRefusal::ServerError), "911"),
    ];
    for (host, answer, want) in cases {
        s.sink.answer(&format!("{host}."), answer);
        let query = format!("hostname={host}&myip=198.51.100.8");
        let r = exchange(s.addrs[0], &ddclient_request(&query, &auth)).await;
        assert_eq!((r.status, r.body.as_str()), (200, &*format!("{want}\n")));
    }
    assert_eq!(s.sink.calls().len(), cases.len());
    assert!(s.sink.calls().iter().all(|c| c.key == "laptop-key"));
}

#[tokio::test]
async fn bad_hostnames_never_reach_the_sink() {
    let s = start_plain();
    let auth = basic("router", "hunter2");
    for (query, want) in [
        ("hostname=localhost&myip=198.51.100.7", "notfqdn\n"),
        ("hostname=*.example.info&myip=198.51.100.7", "notfqdn\n"),
        ("hostname=a..example.info&myip=198.51.100.7", "notfqdn\n"),
        ("myip=198.51.100.7", "notfqdn\n"),
        ("hostname=&myip=198.51.100.7", "notfqdn\n"),
    ] {
        let r = exchange(s.addrs[0], &ddclient_request(query, &auth)).await;
        assert_eq!((r.status, r.body.as_str()), (200, want), "{query}");
    }
    let many: Vec<String> = (0..21).map(|i| format!("h{i}.example.info")).collect();
    let query = format!("hostname={}&myip=198.51.100.7", many.join(","));
    let r = exchange(s.addrs[0], &ddclient_request(&query, &auth)).await;
    assert_eq!(r.body, "numhost\n");
    assert_eq!(s.sink.calls(), []);
}

#[tokio::test]
async fn myip_defaults_to_the_caller_over_ipv4_and_ipv6() {
    let s = start(&config(
        "listen = [\"127.0.0.1:0\", \"[::1]:0\"]",
        Path::new("/"),
    ));
    let auth = basic("router", "hunter2");
    for (addr, query) in [
        (s.addrs[0], "hostname=home.example.info"),
        (s.addrs[1], "hostname=home.example.info&myip="),
        // An unfilled router placeholder is no address either.
        (s.addrs[1], "hostname=home.example.info&myip=%3Cipaddr%3E"),
    ] {
        let r = exchange(addr, &ddclient_request(query, &auth)).await;
        assert_eq!(r.status, 200);
        let caller = addr.ip();
        assert_eq!(r.body, format!("good {caller}\n"), "{query}");
    }
    assert_eq!(
        s.sink.calls(),
        [
            call(
                "home-router",
                "home.example.info.",
                "127.0.0.1",
                "127.0.0.1"
            ),
            call("home-router", "home.example.info.", "::1", "::1"),
            call("home-router", "home.example.info.", "::1", "::1"),
        ]
    );
}

#[tokio::test]
async fn forwarded_for_is_ignored_without_trust_proxy() {
    let s = start_plain();
    let req = format!(
        "GET /nic/update?hostname=home.example.info HTTP/1.1\r\nHost: x\r\n\
         Authorization: {}\r\nX-Forwarded-For: 198.51.100.66\r\n\r\n",
        basic("router", "hunter2")
    );
    let r = exchange(s.addrs[0], &req).await;
    assert_eq!(r.body, "good 127.0.0.1\n");
    assert_eq!(s.sink.calls()[0].addr, ip("127.0.0.1"));
}

#[tokio::test]
async fn ipv6_and_fritzbox_dual_stack_updates() {
    let s = start_plain();
    let auth = basic("router", "hunter2");
    let r = exchange(
        s.addrs[0],
        &ddclient_request("hostname=home.example.info&myip=2001:db8::7", &auth),
    )
    .await;
    assert_eq!(r.body, "good 2001:db8::7\n");
    // Fritz!Box: `?hostname=<domain>&myip=<ipaddr>,<ip6addr>`, Basic auth
    // from its user name and password fields, no Connection header.
    let fritz = format!(
        "GET /nic/update?hostname=home.example.info&myip=198.51.100.9,2001:db8::9 HTTP/1.1\r\n\
         Host: members.example.info\r\nAuthorization: {auth}\r\n\
         User-Agent: Fritz!Box DDNS/1.0.1\r\n\r\n"
    );
    s.sink.calls.lock().unwrap().clear();
    s.sink
        .answer("home.example.info.", Ok(SetOutcome::Unchanged));
    let r = exchange(s.addrs[0], &fritz).await;
    assert_eq!(r.body, "nochg 198.51.100.9,2001:db8::9\n");
    assert_eq!(
        s.sink.calls(),
        [
            call(
                "home-router",
                "home.example.info.",
                "198.51.100.9",
                "127.0.0.1"
            ),
            call(
                "home-router",
                "home.example.info.",
                "2001:db8::9",
                "127.0.0.1"
            ),
        ]
    );
    // Credentials in the query, as the Fritz!Box's <username>/<pass>
    // placeholders put them, and the /v3/update alias.
    let r = exchange(
        s.addrs[0],
        "GET /v3/update?hostname=home.example.info&myipv6=2001:db8::a&username=router&password=hunter2 HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (200, "nochg 2001:db8::a\n"));
}

#[tokio::test]
async fn multiple_hostnames_answer_one_line_each() {
    let s = start_plain();
    s.sink
        .answer("b.example.info.", Err(SetRefusal::NotAllowed));
    s.sink.answer("c.example.info.", Ok(SetOutcome::Unchanged));
    let query =
        "hostname=a.example.info,b.example.info,c.example.info,bad_.host..&myip=198.51.100.7";
    let r = exchange(
        s.addrs[0],
        &ddclient_request(query, &basic("router", "hunter2")),
    )
    .await;
    assert_eq!(
        r.body,
        "good 198.51.100.7\nnohost\nnochg 198.51.100.7\nnotfqdn\n"
    );
    let hosts: Vec<String> = s.sink.calls().into_iter().map(|c| c.host).collect();
    assert_eq!(
        hosts,
        ["a.example.info.", "b.example.info.", "c.example.info."]
    );
}

#[tokio::test]
async fn other_paths_methods_and_garbage_are_refused() {
    let s = start_plain();
    let auth = basic("router", "hunter2");
    let r = exchange(
        s.addrs[0],
        &format!("GET / HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n\r\n"),
    )
    .await;
    assert_eq!(r.status, 404);
    let r = exchange(
        s.addrs[0],
        &format!(
            "POST /nic/update?hostname=a.example.info HTTP/1.1\r\nHost: x\r\n\
             Authorization: {auth}\r\nContent-Length: 0\r\n\r\n"
        ),
    )
    .await;
    assert_eq!((r.status, r.header("allow")), (405, Some("GET")));
    let r = exchange(s.addrs[0], "\x16\x03\x01\x00\x05hello\r\n\r\n").await;
    assert_eq!(r.status, 400);
    // A head over the 8 KiB limit.
    let huge = format!(
        "GET /nic/update?hostname=a.example.info HTTP/1.1\r\nAuthorization: {auth}\r\nX-Pad: {}\r\n\r\n",
        "a".repeat(9000)
    );
    let r = exchange(s.addrs[0], &huge).await;
    assert_eq!(r.status, 431);
    assert_eq!(s.sink.calls(), []);
}

#[test]
fn bind_refuses_invalid_configs() {
    let e = Listener::bind(&config("listen = [\"198.18.0.1:0\"]", Path::new("/")))
        .err()
        .expect("plain HTTP off loopback accepted");
    assert!(e.to_string().contains("allow_plain_http"), "{e}");
    let dir = temp_dir("bind");
    let pw = dir.join("pw");
    std::fs::write(&pw, "secret\n").unwrap();
    std::fs::set_permissions(&pw, Permissions::from_mode(0o604)).unwrap();
    let mut c = config("listen = [\"127.0.0.1:0\"]", &dir);
    c.users[0].password = None;
    c.users[0].password_file = Some("pw".into());
    let e = Listener::bind(&c)
        .err()
        .expect("world-readable password file accepted");
    assert!(e.to_string().contains("mode 604"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Writes a self-signed certificate for `localhost` and 127.0.0.1 to `dir`/cert.pem and
/// its key to `dir`/key.pem; returns the certificate.
fn self_signed(dir: &Path) -> rustls_pki_types::CertificateDer<'static> {
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let ck = rcgen::generate_simple_self_signed(names).unwrap();
    std::fs::write(dir.join("cert.pem"), ck.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), ck.signing_key.serialize_pem()).unwrap();
    std::fs::set_permissions(dir.join("key.pem"), Permissions::from_mode(0o600)).unwrap();
    ck.cert.der().clone()
}

/// HTTPS with the certificate [`self_signed`] wrote to `dir`.
fn tls_config(dir: &Path) -> DyndnsConfig {
    config(
        "listen = [\"127.0.0.1:0\"]\ntls_cert = \"cert.pem\"\ntls_key = \"key.pem\"",
        dir,
    )
}

#[tokio::test]
async fn https_with_a_self_signed_certificate() {
    use tokio_rustls::rustls::{ClientConfig, RootCertStore, crypto::ring::default_provider};
    let dir = temp_dir("tls");
    let der = self_signed(&dir);
    let s = start(&tls_config(&dir));
    let mut roots = RootCertStore::empty();
    roots.add(der).unwrap();
    let client = ClientConfig::builder_with_provider(Arc::new(default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let tcp = TcpStream::connect(s.addrs[0]).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let tls = connector.connect(name, tcp).await.unwrap();
    let query = "system=dyndns&hostname=subspace.example.info&myip=198.51.100.7";
    let r = exchange_on(
        tls,
        ddclient_request(query, &basic("router", "hunter2")).as_bytes(),
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (200, "good 198.51.100.7\n"));
    // Plain HTTP to the TLS listener gets no answer and changes nothing.
    let mut tcp = TcpStream::connect(s.addrs[0]).await.unwrap();
    tcp.write_all(ddclient_request(query, &basic("router", "hunter2")).as_bytes())
        .await
        .unwrap();
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(EXCHANGE_TIMEOUT, tcp.read_to_end(&mut raw))
        .await
        .expect("server kept a non-TLS connection open");
    assert!(!String::from_utf8_lossy(&raw).contains("good"));
    assert_eq!(s.sink.calls().len(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn curl_over_https_like_a_router_script() {
    let dir = temp_dir("curl");
    self_signed(&dir);
    let s = start(&tls_config(&dir));
    // OpenWrt ddns-scripts and most router firmwares run curl or wget.
    let url = format!(
        "https://localhost:{}/nic/update?hostname=subspace.example.info&myip=198.51.100.7",
        s.addrs[0].port()
    );
    let out = tokio::process::Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "5"])
        .arg("--cacert")
        .arg(dir.join("cert.pem"))
        .args([
            "--resolve",
            &format!("localhost:{}:127.0.0.1", s.addrs[0].port()),
        ])
        .args(["--user", "router:hunter2", &url])
        .output()
        .await
        .expect("curl must be installed (cargo xtask setup)");
    assert!(
        out.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "good 198.51.100.7\n");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Timeouts short enough to wait for in a test.
const SHORT: Timeouts = Timeouts {
    header: Duration::from_millis(300),
    handshake: Duration::from_millis(300),
    connection: Duration::from_secs(3),
};

/// Connects, sends `partial`, then waits for the server to close; returns
/// how long that took and what it sent.
async fn stall<IO: AsyncRead + AsyncWrite + Unpin>(
    mut io: IO,
    partial: &[u8],
) -> (Duration, Vec<u8>) {
    let started = tokio::time::Instant::now();
    io.write_all(partial).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(EXCHANGE_TIMEOUT, io.read_to_end(&mut raw))
        .await
        .expect("server kept a stalled connection open")
        .ok();
    (started.elapsed(), raw)
}

#[tokio::test]
async fn slow_clients_are_cut_off() {
    let dir = temp_dir("slow");
    self_signed(&dir);
    let plain = start_with(&config("listen = [\"127.0.0.1:0\"]", Path::new("/")), SHORT);
    let head = b"GET /nic/update?hostname=a.example.info HTTP/1.1\r\nHost: x\r\n";
    let (took, raw) = stall(TcpStream::connect(plain.addrs[0]).await.unwrap(), head).await;
    assert!(
        took >= SHORT.header && took < SHORT.connection,
        "closed after {took:?}, not by the header timeout"
    );
    assert!(!String::from_utf8_lossy(&raw).contains("good"));
    let tls = start_with(&tls_config(&dir), SHORT);
    let (took, _) = stall(TcpStream::connect(tls.addrs[0]).await.unwrap(), b"").await;
    assert!(
        took >= SHORT.handshake && took < SHORT.connection,
        "closed after {took:?}, not by the handshake timeout"
    );
    assert_eq!(plain.sink.calls(), []);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn max_connections_queues_further_clients() {
    let s = start_with(
        &config(
            "listen = [\"127.0.0.1:0\"]\nmax_connections = 1",
            Path::new("/"),
        ),
        SHORT,
    );
    // The first client holds the only slot until its header timeout.
    let mut first = TcpStream::connect(s.addrs[0]).await.unwrap();
    first.write_all(b"GET /nic/up").await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = tokio::time::Instant::now();
    let query = "hostname=a.example.info&myip=198.51.100.7";
    let r = exchange(
        s.addrs[0],
        &ddclient_request(query, &basic("router", "hunter2")),
    )
    .await;
    let waited = started.elapsed();
    assert_eq!(r.body, "good 198.51.100.7\n");
    assert!(
        waited >= SHORT.header - Duration::from_millis(60),
        "second client served after {waited:?}, while the only slot was taken"
    );
}

#[tokio::test]
async fn password_guessing_is_throttled() {
    let s = start_plain();
    let query = "hostname=a.example.info&myip=198.51.100.7";
    for i in 0..10 {
        let r = exchange(
            s.addrs[0],
            &ddclient_request(query, &basic("router", &format!("guess{i}"))),
        )
        .await;
        assert_eq!(r.status, 401);
    }
    // Even the right password is not checked now.
    let r = exchange(
        s.addrs[0],
        &ddclient_request(query, &basic("router", "hunter2")),
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (200, "abuse\n"));
    assert_eq!(s.sink.calls(), []);
}

/// A `Write` into a shared buffer, for capturing log lines.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// One thread, so the thread-local log subscriber sees the server's tasks.
#[tokio::test(flavor = "current_thread")]
async fn every_request_is_logged_with_user_client_host_ip_result() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let s = start_plain();
    s.sink
        .answer("b.example.info.", Err(SetRefusal::NotAllowed));
    let query = "hostname=a.example.info,b.example.info&myip=198.51.100.7";
    exchange(
        s.addrs[0],
        &ddclient_request(query, &basic("router", "hunter2")),
    )
    .await;
    exchange(s.addrs[0], &ddclient_request(query, &basic("mallory", "x"))).await;
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("dyndns update"))
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    for (line, host, result) in [
        (lines[0], "a.example.info", "good"),
        (lines[1], "b.example.info", "nohost"),
    ] {
        for want in [
            "user=\"router\"".to_string(),
            "client=127.0.0.1:".into(),
            format!("host=\"{host}\""),
            "ip=198.51.100.7".into(),
            format!("result=\"{result}\""),
        ] {
            assert!(line.contains(&want), "{want} missing from {line}");
        }
    }
    assert!(
        lines[2].contains("user=\"mallory\"") && lines[2].contains("result=\"badauth\""),
        "{}",
        lines[2]
    );
    assert!(
        !text.contains("hunter2"),
        "a password reached the log: {text}"
    );
}

/// Runs the Debian package's ddclient once against `server` (over HTTPS
/// when given the CA file to trust); returns its output.
async fn run_ddclient(
    dir: &Path,
    server: SocketAddr,
    ca_file: Option<&Path>,
    password: &str,
    hosts: &str,
) -> String {
    let conf = dir.join("ddclient.conf");
    // ddclient falls back to its default server (members.dyndns.org) when
    // it dislikes `server=` (it takes no `localhost:PORT`): the address form
    // below is accepted, and the assertion at the end catches any fallback.
    let transport = match ca_file {
        Some(ca) => format!("ssl=yes\nssl_ca_file={}", ca.display()),
        None => "ssl=no".into(),
    };
    std::fs::write(
        &conf,
        format!(
            "{transport}\nserver={server}\nuse=ip, ip=198.51.100.7\nprotocol=dyndns2\n\
             login=router\npassword='{password}'\n{hosts}\n"
        ),
    )
    .unwrap();
    // ddclient refuses a config others can read.
    std::fs::set_permissions(&conf, Permissions::from_mode(0o600)).unwrap();
    let out = tokio::process::Command::new("ddclient")
        .args([
            "-daemon=0",
            "-foreground",
            "-force",
            "-verbose",
            "-noquiet",
            "-timeout=5",
        ])
        .arg(format!("-file={}", conf.display()))
        .arg(format!("-cache={}", dir.join("cache").display()))
        .output();
    let out = tokio::time::timeout(Duration::from_secs(20), out)
        .await
        .expect("ddclient hung")
        .expect("ddclient must be installed (cargo xtask setup installs the Debian package)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !text.contains("dyndns.org") && !text.contains("Invalid Value"),
        "ddclient rejected the test config and would go elsewhere: {text}"
    );
    text
}

#[tokio::test]
async fn debian_ddclient_updates_through_the_endpoint() {
    let dir = temp_dir("ddclient");
    let s = start_plain();
    s.sink.answer("b.example.info.", Ok(SetOutcome::Unchanged));
    let out = run_ddclient(
        &dir,
        s.addrs[0],
        None,
        "hunter2",
        "a.example.info,b.example.info",
    )
    .await;
    assert!(
        out.contains("SUCCESS:  updating a.example.info: good: IP address set to 198.51.100.7"),
        "{out}"
    );
    assert!(out.contains("updating b.example.info: nochg"), "{out}");
    assert_eq!(
        s.sink.calls(),
        [
            call(
                "home-router",
                "a.example.info.",
                "198.51.100.7",
                "127.0.0.1"
            ),
            call(
                "home-router",
                "b.example.info.",
                "198.51.100.7",
                "127.0.0.1"
            ),
        ]
    );
    let out = run_ddclient(&dir, s.addrs[0], None, "wrong", "a.example.info").await;
    assert!(out.contains("authorization failed"), "{out}");
    assert_eq!(s.sink.calls().len(), 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn debian_ddclient_over_https() {
    let dir = temp_dir("ddclient-tls");
    self_signed(&dir);
    let s = start(&tls_config(&dir));
    let ca = dir.join("cert.pem");
    let out = run_ddclient(&dir, s.addrs[0], Some(&ca), "hunter2", "a.example.info").await;
    assert!(out.contains("CONNECTED:  using SSL"), "{out}");
    assert!(
        out.contains("SUCCESS:  updating a.example.info: good: IP address set to 198.51.100.7"),
        "{out}"
    );
    assert_eq!(s.sink.calls().len(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}
