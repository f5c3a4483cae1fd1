//! Server tests: real sockets on loopback, short timeouts, each test bounded.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream, UdpSocket};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::*;
use crate::config::ServerConfig;
use crate::engine::{Request, Responder};

/// Echoes the query with QR set; declines queries starting with 0xFF and
/// panics on queries starting with 0xEE.
struct Echo;

impl Responder for Echo {
    fn respond(&self, request: &Request<'_>, out: &mut Vec<u8>) -> bool {
        out.clear();
        match request.message.first() {
            None | Some(0xFF) => return false,
            Some(0xEE) => panic!("test responder asked to panic"),
            _ => {}
        }
        out.extend_from_slice(request.message);
        if out.len() > 2 {
            out[2] |= 0x80;
        }
        true
    }
}

const IO_TIMEOUT: Duration = Duration::from_millis(200);
const IDLE_TIMEOUT: Duration = Duration::from_millis(400);
/// Long enough that a test waiting for "no reply" is convincing.
const SILENCE: Duration = Duration::from_millis(150);

fn config(listen: &[&str]) -> ServerConfig {
    ServerConfig {
        listen: listen.iter().map(|a| a.parse().unwrap()).collect(),
        udp_sockets: 2,
        tcp_idle_timeout_ms: IDLE_TIMEOUT.as_millis() as u64,
        tcp_io_timeout_ms: IO_TIMEOUT.as_millis() as u64,
        tcp_max_connections: 64,
        tcp_max_connections_per_client: 8,
        query_log: true,
        ..ServerConfig::default()
    }
}

struct Running {
    addrs: Vec<SocketAddr>,
    stats: Arc<ServerStats>,
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<(), ServerError>>,
}

impl Running {
    fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    async fn shutdown(self) {
        self.stop.send(true).unwrap();
        self.task.await.unwrap().unwrap();
    }

    /// The counters once `settled` holds, or after a second. Response
    /// counters are bumped after the write returns, so the client can read
    /// its answer before the count moves.
    async fn stats_when(&self, settled: impl Fn(&StatsSnapshot) -> bool) -> StatsSnapshot {
        let deadline = Instant::now() + Duration::from_secs(1);
        loop {
            let s = self.stats.snapshot();
            if settled(&s) || Instant::now() > deadline {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

fn start(config: &ServerConfig) -> Running {
    run(Server::bind(config).unwrap())
}

/// Runs a bound server in front of [`Echo`].
fn run(server: Server) -> Running {
    let addrs = server.local_addrs();
    let stats = server.stats();
    let (stop, rx) = watch::channel(false);
    let task = tokio::spawn(server.run(Arc::new(Echo), rx));
    Running {
        addrs,
        stats,
        stop,
        task,
    }
}

/// Every test body runs under this bound.
async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("test took too long")
}

/// A query-shaped message: ID, flags with RD, then `len - 4` filler bytes.
fn query(id: u16, len: usize) -> Vec<u8> {
    assert!(len >= 4);
    let mut q = vec![0u8; len];
    q[..2].copy_from_slice(&id.to_be_bytes());
    q[2] = 0x01;
    for (i, b) in q.iter_mut().enumerate().skip(4) {
        *b = i as u8;
    }
    q
}

fn answer_to(q: &[u8]) -> Vec<u8> {
    let mut a = q.to_vec();
    a[2] |= 0x80;
    a
}

fn frame(message: &[u8]) -> Vec<u8> {
    let mut f = (message.len() as u16).to_be_bytes().to_vec();
    f.extend_from_slice(message);
    f
}

async fn udp_client(bind: &str) -> UdpSocket {
    UdpSocket::bind(bind).await.unwrap()
}

/// Receives one datagram within a second: (message, source address).
async fn udp_recv(client: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = vec![0u8; 65536];
    let (n, from) = tokio::time::timeout(Duration::from_secs(1), client.recv_from(&mut buf))
        .await
        .expect("no UDP reply")
        .unwrap();
    buf.truncate(n);
    (buf, from)
}

async fn udp_silent(client: &UdpSocket) {
    let mut buf = [0u8; 512];
    let r = tokio::time::timeout(SILENCE, client.recv_from(&mut buf)).await;
    assert!(r.is_err(), "unexpected UDP reply: {r:?}");
}

/// Reads one framed message; None at EOF or reset.
async fn read_frame(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).await.ok()?;
    let mut message = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut message).await.ok()?;
    Some(message)
}

async fn read_frame_within(stream: &mut TcpStream, within: Duration) -> Vec<u8> {
    tokio::time::timeout(within, read_frame(stream))
        .await
        .expect("no TCP response in time")
        .expect("connection closed instead of a response")
}

/// Waits until the server closes `stream` (EOF or reset); returns how long it took.
async fn wait_closed(stream: &mut TcpStream, within: Duration) -> Duration {
    let t0 = Instant::now();
    let mut buf = [0u8; 1024];
    let r = tokio::time::timeout(within, stream.read(&mut buf))
        .await
        .expect("connection not closed in time");
    match r {
        Ok(0) => t0.elapsed(),
        Ok(n) => panic!("unexpected {n} bytes from the server"),
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => t0.elapsed(),
        Err(e) => panic!("read error: {e}"),
    }
}

async fn tcp_connect_from(source: IpAddr, server: SocketAddr) -> TcpStream {
    let socket = match source {
        IpAddr::V4(_) => TcpSocket::new_v4().unwrap(),
        IpAddr::V6(_) => TcpSocket::new_v6().unwrap(),
    };
    socket.bind(SocketAddr::new(source, 0)).unwrap();
    socket.connect(server).await.unwrap()
}

async fn tcp_round_trip(stream: &mut TcpStream, q: &[u8]) {
    stream.write_all(&frame(q)).await.unwrap();
    assert_eq!(
        read_frame_within(stream, Duration::from_secs(2)).await,
        answer_to(q)
    );
}

// ---------------------------------------------------------------- UDP

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_round_trip_ipv4() {
    bounded(async {
        let server = start(&config(&["127.0.0.1:0"]));
        assert_ne!(server.addr().port(), 0);
        let client = udp_client("127.0.0.1:0").await;
        // Checklist 11: a 513-byte query is processed; also the largest
        // IPv4 UDP payload.
        for len in [12, 513, 4096, 65507] {
            // IDs must not start with 0xFF or 0xEE (see Echo).
            let q = query(0x1200, len);
            client.send_to(&q, server.addr()).await.unwrap();
            let (reply, from) = udp_recv(&client).await;
            assert_eq!(from, server.addr());
            assert_eq!(reply.len(), len);
            assert_eq!(reply, answer_to(&q));
        }
        let s = server.stats_when(|s| s.udp_responses >= 4).await;
        assert_eq!((s.udp_queries, s.udp_responses), (4, 4));
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_round_trip_ipv6() {
    bounded(async {
        let server = start(&config(&["[::1]:0"]));
        let client = udp_client("[::1]:0").await;
        for len in [12, 513, 65000] {
            let q = query(7, len);
            client.send_to(&q, server.addr()).await.unwrap();
            let (reply, from) = udp_recv(&client).await;
            assert_eq!(from, server.addr());
            assert_eq!(reply, answer_to(&q));
        }
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_declined_query_gets_no_reply_and_loop_survives_panic() {
    bounded(async {
        let server = start(&config(&["127.0.0.1:0"]));
        let client = udp_client("127.0.0.1:0").await;
        let mut declined = query(1, 20);
        declined[0] = 0xFF;
        client.send_to(&declined, server.addr()).await.unwrap();
        udp_silent(&client).await;
        let mut panicking = query(2, 20);
        panicking[0] = 0xEE;
        client.send_to(&panicking, server.addr()).await.unwrap();
        udp_silent(&client).await;
        let q = query(3, 20);
        client.send_to(&q, server.addr()).await.unwrap();
        assert_eq!(udp_recv(&client).await.0, answer_to(&q));
        let s = server.stats_when(|s| s.udp_responses >= 1).await;
        assert_eq!((s.udp_queries, s.udp_responses, s.dropped), (3, 1, 2));
        server.shutdown().await;
    })
    .await;
}

/// Checklist 13: a wildcard-bound server answers from the address the query
/// was sent to. Without IP_PKTINFO the reply to 127.0.0.2 would leave from
/// 127.0.0.1 (routing's choice for a client on 127.0.0.1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_wildcard_ipv4_replies_from_query_destination() {
    bounded(async {
        let server = start(&config(&["0.0.0.0:0"]));
        let port = server.addr().port();
        for client_ip in ["127.0.0.1", "127.0.0.3"] {
            let client = udp_client(&format!("{client_ip}:0")).await;
            for (i, dest) in ["127.0.0.1", "127.0.0.2", "127.0.0.5"].iter().enumerate() {
                let dest: SocketAddr = format!("{dest}:{port}").parse().unwrap();
                let q = query(i as u16, 40);
                client.send_to(&q, dest).await.unwrap();
                let (reply, from) = udp_recv(&client).await;
                assert_eq!(from, dest, "reply source for a query to {dest}");
                assert_eq!(reply, answer_to(&q));
            }
        }
        assert!(Server::bind(&config(&["0.0.0.0:0"])).unwrap().listeners()[0].pktinfo);
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_wildcard_ipv6_replies_from_query_destination() {
    bounded(async {
        let server = start(&config(&["[::]:0"]));
        let dest = SocketAddr::new(Ipv6Addr::LOCALHOST.into(), server.addr().port());
        let client = udp_client("[::1]:0").await;
        let q = query(9, 513);
        client.send_to(&q, dest).await.unwrap();
        let (reply, from) = udp_recv(&client).await;
        assert_eq!(from, dest);
        assert_eq!(reply, answer_to(&q));
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_many_sockets_answer_many_clients() {
    bounded(async {
        let mut cfg = config(&["127.0.0.1:0"]);
        cfg.udp_sockets = 4;
        let server = Server::bind(&cfg).unwrap();
        assert_eq!(server.listeners()[0].udp_sockets, 4);
        drop(server);
        let server = start(&cfg);
        let mut clients = Vec::new();
        for i in 0..32u16 {
            let client = udp_client("127.0.0.1:0").await;
            let q = query(i, 30);
            client.send_to(&q, server.addr()).await.unwrap();
            clients.push((client, q));
        }
        for (client, q) in &clients {
            assert_eq!(udp_recv(client).await.0, answer_to(q));
        }
        let s = server.stats_when(|s| s.udp_responses >= 32).await;
        assert_eq!(s.udp_responses, 32);
        server.shutdown().await;
    })
    .await;
}

// ---------------------------------------------------------------- TCP

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_single_query_ipv4_and_ipv6() {
    bounded(async {
        let server = start(&config(&["127.0.0.1:0", "[::1]:0"]));
        for &addr in &server.addrs {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            tcp_round_trip(&mut stream, &query(0x1234, 29)).await;
            // The connection stays open for more queries.
            tcp_round_trip(&mut stream, &query(0x1235, 513)).await;
        }
        let s = server.stats_when(|s| s.tcp_responses >= 4).await;
        assert_eq!((s.tcp_accepted, s.tcp_queries, s.tcp_responses), (2, 4, 4));
        server.shutdown().await;
    })
    .await;
}

/// Checklist 45: length and body in separate segments.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_length_and_body_in_separate_writes() {
    bounded(async {
        let server = start(&config(&["127.0.0.1:0"]));
        let mut stream = TcpStream::connect(server.addr()).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let q = query(42, 100);
        let f = frame(&q);
        stream.write_all(&f[..2]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        stream.write_all(&f[2..]).await.unwrap();
        assert_eq!(
            read_frame_within(&mut stream, Duration::from_secs(1)).await,
            answer_to(&q)
        );
        // Length bytes split too, and the body in pieces.
        let q = query(43, 300);
        let f = frame(&q);
        for piece in [&f[..1], &f[1..2], &f[2..50], &f[50..]] {
            stream.write_all(piece).await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            read_frame_within(&mut stream, Duration::from_secs(1)).await,
            answer_to(&q)
        );
        server.shutdown().await;
    })
    .await;
}

/// Checklist 46: three queries pipelined in one write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_pipelined_queries_all_answered() {
    bounded(async {
        let server = start(&config(&["127.0.0.1:0"]));
        let mut stream = TcpStream::connect(server.addr()).await.unwrap();
        let queries = [query(1, 40), query(2, 5000), query(3, 12)];
        let mut bytes = Vec::new();
        for q in &queries {
            bytes.extend_from_slice(&frame(q));
        }
        stream.write_all(&bytes).await.unwrap();
        for q in &queries {
            assert_eq!(
                read_frame_within(&mut stream, Duration::from_secs(1)).await,
                answer_to(q)
            );
        }
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_idle_connection_closed_after_idle_timeout() {
    bounded(async {
        let server = start(&config(&["127.0.0.1:0"]));
        let mut stream = TcpStream::connect(server.addr()).await.unwrap();
        tcp_round_trip(&mut stream, &query(1, 20)).await;
        let waited = wait_closed(&mut stream, Duration::from_secs(3)).await;
        assert!(
            waited >= IDLE_TIMEOUT - Duration::from_millis(50),
            "{waited:?}"
        );
        assert!(waited < IDLE_TIMEOUT + Duration::from_secs(1), "{waited:?}");
        assert_eq!(server.stats.snapshot().tcp_timeouts, 1);
        server.shutdown().await;
    })
    .await;
}

/// A client trickling a message byte by byte is closed once the message
/// has taken the I/O timeout, while another client is served meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_slow_client_closed_after_io_timeout_others_served() {
    bounded(async {
        let server = start(&config(&["127.0.0.1:0"]));
        let mut slow = TcpStream::connect(server.addr()).await.unwrap();
        slow.set_nodelay(true).unwrap();
        let f = frame(&query(1, 100));
        let t0 = Instant::now();
        let trickle = async {
            for b in &f {
                if slow.write_all(std::slice::from_ref(b)).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
                if t0.elapsed() > IO_TIMEOUT + Duration::from_millis(300) {
                    break;
                }
            }
        };
        let other = async {
            let mut good = TcpStream::connect(server.addr()).await.unwrap();
            for i in 0..4 {
                tcp_round_trip(&mut good, &query(100 + i, 30)).await;
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
        };
        tokio::join!(trickle, other);
        let closed_after = t0.elapsed() + wait_closed(&mut slow, Duration::from_secs(2)).await;
        assert!(
            closed_after >= IO_TIMEOUT - Duration::from_millis(50),
            "{closed_after:?}"
        );
        assert!(
            closed_after < IO_TIMEOUT + Duration::from_secs(1),
            "{closed_after:?}"
        );
        assert!(server.stats.snapshot().tcp_timeouts >= 1);
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_per_client_limit() {
    bounded(async {
        let mut cfg = config(&["127.0.0.1:0"]);
        cfg.tcp_max_connections_per_client = 2;
        let server = start(&cfg);
        let one: IpAddr = Ipv4Addr::new(127, 0, 0, 1).into();
        let two: IpAddr = Ipv4Addr::new(127, 0, 0, 2).into();
        let mut a = tcp_connect_from(one, server.addr()).await;
        let mut b = tcp_connect_from(one, server.addr()).await;
        tcp_round_trip(&mut a, &query(1, 20)).await;
        tcp_round_trip(&mut b, &query(2, 20)).await;
        // The third connection from 127.0.0.1 is accepted and closed at once.
        let mut c = tcp_connect_from(one, server.addr()).await;
        let _ = c.write_all(&frame(&query(3, 20))).await;
        wait_closed(&mut c, Duration::from_secs(1)).await;
        // Another client is not affected.
        let mut d = tcp_connect_from(two, server.addr()).await;
        tcp_round_trip(&mut d, &query(4, 20)).await;
        // A closed connection frees its place.
        drop(a);
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut e = tcp_connect_from(one, server.addr()).await;
        tcp_round_trip(&mut e, &query(5, 20)).await;
        let s = server.stats.snapshot();
        assert_eq!((s.tcp_accepted, s.tcp_refused, s.tcp_open), (4, 1, 3));
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_total_limit() {
    bounded(async {
        let mut cfg = config(&["127.0.0.1:0"]);
        cfg.tcp_max_connections = 3;
        let server = start(&cfg);
        let mut open = Vec::new();
        for i in 0..3u8 {
            let source = IpAddr::V4(Ipv4Addr::new(127, 0, 1, i + 1));
            let mut s = tcp_connect_from(source, server.addr()).await;
            tcp_round_trip(&mut s, &query(u16::from(i), 20)).await;
            open.push(s);
        }
        let mut refused = tcp_connect_from(Ipv4Addr::new(127, 0, 1, 9).into(), server.addr()).await;
        wait_closed(&mut refused, Duration::from_secs(1)).await;
        assert_eq!(server.stats.snapshot().tcp_refused, 1);
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_truncated_frame_and_zero_length_close_quietly() {
    bounded(async {
        let server = start(&config(&["127.0.0.1:0"]));
        // Length says 100, 10 bytes follow, then EOF.
        let mut s = TcpStream::connect(server.addr()).await.unwrap();
        let f = frame(&query(1, 100));
        s.write_all(&f[..12]).await.unwrap();
        s.shutdown().await.unwrap();
        wait_closed(&mut s, Duration::from_secs(1)).await;
        // Half a length prefix, then EOF.
        let mut s = TcpStream::connect(server.addr()).await.unwrap();
        s.write_all(&[0x00]).await.unwrap();
        s.shutdown().await.unwrap();
        wait_closed(&mut s, Duration::from_secs(1)).await;
        // A zero-length message closes the connection, after answering
        // what came before it.
        let mut s = TcpStream::connect(server.addr()).await.unwrap();
        let q = query(2, 20);
        let mut bytes = frame(&q);
        bytes.extend_from_slice(&[0, 0]);
        bytes.extend_from_slice(&frame(&query(3, 20)));
        s.write_all(&bytes).await.unwrap();
        assert_eq!(
            read_frame_within(&mut s, Duration::from_secs(1)).await,
            answer_to(&q)
        );
        wait_closed(&mut s, Duration::from_secs(1)).await;
        // Queries followed by EOF are all answered before closing.
        let mut s = TcpStream::connect(server.addr()).await.unwrap();
        let q = query(4, 20);
        s.write_all(&[frame(&q), frame(&q)].concat()).await.unwrap();
        s.shutdown().await.unwrap();
        assert_eq!(
            read_frame_within(&mut s, Duration::from_secs(1)).await,
            answer_to(&q)
        );
        assert_eq!(
            read_frame_within(&mut s, Duration::from_secs(1)).await,
            answer_to(&q)
        );
        wait_closed(&mut s, Duration::from_secs(1)).await;
        // The server is still fine.
        let mut s = TcpStream::connect(server.addr()).await.unwrap();
        tcp_round_trip(&mut s, &query(5, 20)).await;
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_largest_message() {
    bounded(async {
        let server = start(&config(&["[::1]:0"]));
        let mut s = TcpStream::connect(server.addr()).await.unwrap();
        let big = query(0xBEEF, 65535);
        // Pipelined behind a small one and followed by another.
        let (small1, small2) = (query(1, 20), query(2, 20));
        let bytes = [frame(&small1), frame(&big), frame(&small2)].concat();
        s.write_all(&bytes).await.unwrap();
        for q in [&small1, &big, &small2] {
            assert_eq!(
                read_frame_within(&mut s, Duration::from_secs(2)).await,
                answer_to(q)
            );
        }
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_declined_query_sends_nothing_and_keeps_reading() {
    bounded(async {
        let server = start(&config(&["127.0.0.1:0"]));
        let mut s = TcpStream::connect(server.addr()).await.unwrap();
        let mut declined = query(1, 20);
        declined[0] = 0xFF;
        let mut panicking = query(2, 20);
        panicking[0] = 0xEE;
        let q = query(3, 20);
        let bytes = [frame(&declined), frame(&panicking), frame(&q)].concat();
        s.write_all(&bytes).await.unwrap();
        // The first response is the one to `q`.
        assert_eq!(
            read_frame_within(&mut s, Duration::from_secs(1)).await,
            answer_to(&q)
        );
        s.write_all(&frame(&declined)).await.unwrap();
        let r = tokio::time::timeout(SILENCE, read_frame(&mut s)).await;
        assert!(r.is_err(), "unexpected response: {r:?}");
        let s2 = server.stats.snapshot();
        assert_eq!((s2.tcp_queries, s2.tcp_responses, s2.dropped), (4, 1, 3));
        server.shutdown().await;
    })
    .await;
}

/// A client that sends queries but never reads responses fills the socket
/// buffers; the blocked write times out and closes only that connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_client_that_never_reads_is_closed() {
    bounded(async {
        let server = start(&config(&["127.0.0.1:0"]));
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let stream = socket.connect(server.addr()).await.unwrap();
        let (_read_half, mut write_half) = stream.into_split();
        let bytes = frame(&query(1, 30000));
        let flood = tokio::spawn(async move {
            // Until the server gives up on us; bounded in case it never does.
            for _ in 0..5000 {
                if write_half.write_all(&bytes).await.is_err() {
                    return true;
                }
            }
            false
        });
        // Meanwhile others are served.
        let mut good = TcpStream::connect(server.addr()).await.unwrap();
        for i in 0..3 {
            tcp_round_trip(&mut good, &query(10 + i, 40)).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let closed = tokio::time::timeout(Duration::from_secs(10), flood)
            .await
            .expect("the flooding client was never closed")
            .unwrap();
        assert!(closed, "the flooding client was never closed");
        tcp_round_trip(&mut good, &query(20, 40)).await;
        assert!(server.stats.snapshot().tcp_timeouts >= 1);
        server.shutdown().await;
    })
    .await;
}

// ---------------------------------------------------------------- lifecycle

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_everything() {
    bounded(async {
        let mut cfg = config(&["127.0.0.1:0", "[::1]:0"]);
        cfg.tcp_idle_timeout_ms = 60_000;
        let server = start(&cfg);
        let mut idle = TcpStream::connect(server.addr()).await.unwrap();
        tcp_round_trip(&mut idle, &query(1, 20)).await;
        let t0 = Instant::now();
        let addrs = server.addrs.clone();
        server.shutdown().await;
        assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
        wait_closed(&mut idle, Duration::from_secs(1)).await;
        // The addresses are free again.
        let cfg = ServerConfig {
            listen: addrs,
            ..cfg
        };
        drop(Server::bind(&cfg).unwrap());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_shutdown_sender_stops_the_server() {
    bounded(async {
        let server = start(&config(&["127.0.0.1:0"]));
        drop(server.stop);
        server.task.await.unwrap().unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_binds_and_runs() {
    bounded(async {
        let (stop, rx) = watch::channel(false);
        let cfg = config(&["127.0.0.1:0"]);
        let task = tokio::spawn(async move { serve(&cfg, Arc::new(Echo), rx).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        stop.send(true).unwrap();
        task.await.unwrap().unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bind_reports_address_in_use() {
    bounded(async {
        // A second server on the same address fails (TCP has no SO_REUSEPORT).
        let server = start(&config(&["127.0.0.1:0"]));
        let addr = server.addr();
        let e = Server::bind(&config(&[&addr.to_string()])).err().unwrap();
        let text = e.to_string();
        assert!(
            text.starts_with(&format!("tcp {addr}: cannot bind: ")),
            "{text}"
        );
        assert!(text.contains("is another DNS server running?"), "{text}");
        assert!(matches!(
            e,
            ServerError::Socket {
                op: SocketOp::Bind,
                transport: Transport::Tcp,
                ..
            }
        ));
        server.shutdown().await;

        // UDP port held by a socket without SO_REUSEPORT.
        // Another test may hold the same TCP port by chance: retry with a new port.
        let (addr, text) = (0..20)
            .find_map(|_| {
                let holder = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
                let addr = holder.local_addr().unwrap();
                let text = Server::bind(&config(&[&addr.to_string()]))
                    .err()
                    .unwrap()
                    .to_string();
                (!text.starts_with("tcp ")).then_some((addr, text))
            })
            .expect("a free TCP port beside a held UDP port");
        assert!(
            text.starts_with(&format!("udp {addr}: cannot bind: ")),
            "{text}"
        );
        assert!(matches!(
            Server::bind(&ServerConfig {
                listen: vec![],
                ..ServerConfig::default()
            }),
            Err(ServerError::NoListenAddresses)
        ));
    })
    .await;
}

#[test]
fn bind_error_messages_explain() {
    let denied = ServerError::Socket {
        addr: "0.0.0.0:53".parse().unwrap(),
        transport: Transport::Udp,
        op: SocketOp::Bind,
        source: io::Error::from_raw_os_error(libc::EACCES),
    };
    let text = denied.to_string();
    assert!(text.starts_with("udp 0.0.0.0:53: cannot bind: "), "{text}");
    assert!(
        text.ends_with("(ports below 1024 need root or CAP_NET_BIND_SERVICE)"),
        "{text}"
    );
    let option = ServerError::Socket {
        addr: "[::]:5353".parse().unwrap(),
        transport: Transport::Tcp,
        op: SocketOp::SetOption("IPV6_V6ONLY"),
        source: io::Error::from_raw_os_error(libc::EINVAL),
    };
    assert!(
        option
            .to_string()
            .starts_with("tcp [::]:5353: cannot set IPV6_V6ONLY: ")
    );
}

/// IPV6_V6ONLY: `[::]:p` and `0.0.0.0:p` are separate sockets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_wildcard_leaves_ipv4_free() {
    bounded(async {
        let v6 = Server::bind(&config(&["[::]:0"])).unwrap();
        let port = v6.local_addrs()[0].port();
        let v4 = Server::bind(&config(&[&format!("0.0.0.0:{port}")])).unwrap();
        assert_eq!(v4.local_addrs()[0].port(), port);
        let info = v4.listeners()[0];
        assert!(info.pktinfo);
        assert_eq!(info.configured, format!("0.0.0.0:{port}").parse().unwrap());
    })
    .await;
}

#[test]
fn ipv6_clients_are_limited_per_slash_64() {
    let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
    let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
    let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
    assert_eq!(tcp::client_key(a), tcp::client_key(b));
    assert_ne!(tcp::client_key(a), tcp::client_key(c));
    assert_eq!(
        tcp::client_key(a),
        "2001:db8:1:2::".parse::<IpAddr>().unwrap()
    );
    let v4: IpAddr = "192.0.2.1".parse().unwrap();
    assert_eq!(tcp::client_key(v4), v4);
    let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
    assert_eq!(tcp::client_key(mapped), v4);
}

// ---------------------------------------------------------------- UPDATE

/// Answers UPDATEs after a delay (as a journal fsync would take), with the
/// message's bytes and 0x55 appended; refuses to queue those with ID 0.
struct SlowSink;

impl UpdateSink for SlowSink {
    fn submit(&self, request: UpdateRequest) -> bool {
        if request.message[..2] == [0, 0] {
            return false;
        }
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let mut out = request.message.clone();
            out[2] |= 0x80;
            out.push(0x55);
            let _ = request.reply.send(out);
        });
        true
    }
}

/// A message with opcode UPDATE (RFC 2136 §1.3).
fn update_msg(id: u16) -> Vec<u8> {
    let mut q = query(id, 20);
    q[2] = 5 << 3;
    q
}

fn start_with_updates(config: &ServerConfig) -> Running {
    run(Server::bind(config)
        .unwrap()
        .with_updates(Arc::new(SlowSink)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_update_goes_to_the_sink_without_blocking_queries() {
    bounded(async {
        let mut c = config(&["127.0.0.1:0"]);
        c.udp_sockets = 1;
        let running = start_with_updates(&c);
        let client = udp_client("127.0.0.1:0").await;
        let u = update_msg(7);
        let q = query(8, 20);
        client.send_to(&u, running.addr()).await.unwrap();
        client.send_to(&q, running.addr()).await.unwrap();
        // The query is answered first: the socket loop did not wait.
        assert_eq!(udp_recv(&client).await.0, answer_to(&q));
        let mut want = answer_to(&u);
        want.push(0x55);
        assert_eq!(udp_recv(&client).await.0, want);
        // A full queue drops the UPDATE (the client retries).
        client
            .send_to(&update_msg(0), running.addr())
            .await
            .unwrap();
        udp_silent(&client).await;
        assert_eq!(running.stats.snapshot().dropped, 1);
        running.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_update_answers_stay_in_order() {
    bounded(async {
        let running = start_with_updates(&config(&["127.0.0.1:0"]));
        let mut stream = TcpStream::connect(running.addr()).await.unwrap();
        let (u, q) = (update_msg(9), query(10, 20));
        let mut both = frame(&u);
        both.extend_from_slice(&frame(&q));
        stream.write_all(&both).await.unwrap();
        let mut want = answer_to(&u);
        want.push(0x55);
        assert_eq!(
            read_frame_within(&mut stream, Duration::from_secs(2)).await,
            want
        );
        assert_eq!(
            read_frame_within(&mut stream, Duration::from_secs(2)).await,
            answer_to(&q)
        );
        running.shutdown().await;
    })
    .await;
}
