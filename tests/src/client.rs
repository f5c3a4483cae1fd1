//! A minimal DNS client over `std::net`: raw bytes in, raw bytes out.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

/// Default wait for an answer.
pub const TIMEOUT: Duration = Duration::from_secs(2);
/// How long to wait before concluding that a server dropped a query.
pub const DROP_TIMEOUT: Duration = Duration::from_millis(700);

fn local_for(addr: SocketAddr) -> SocketAddr {
    if addr.is_ipv4() {
        "127.0.0.1:0".parse().expect("literal")
    } else {
        "[::1]:0".parse().expect("literal")
    }
}

/// Sends `query` over UDP and returns the first datagram that comes back
/// within `timeout`, or `None`.
///
/// The socket is connected, so only a reply whose source is exactly `addr`
/// is accepted (checklist 13: replies leave from the address queried).
pub fn udp(addr: SocketAddr, query: &[u8], timeout: Duration) -> Option<Vec<u8>> {
    let sock = UdpSocket::bind(local_for(addr)).expect("bind UDP client socket");
    sock.connect(addr).expect("connect UDP socket");
    sock.send(query).ok()?;
    let deadline = Instant::now() + timeout;
    let mut buf = vec![0u8; 65535];
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        if left.is_zero() {
            return None;
        }
        sock.set_read_timeout(Some(left)).expect("set timeout");
        match sock.recv(&mut buf) {
            Ok(n) => return Some(buf[..n].to_vec()),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            // ConnectionRefused (ICMP port unreachable), timeouts: no answer.
            Err(_) => return None,
        }
    }
}

/// Outcome of a TCP exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpOutcome {
    Response(Vec<u8>),
    /// The server closed the connection without answering.
    Closed,
    /// Nothing within the timeout.
    Timeout,
    /// Could not connect.
    Refused,
}

impl TcpOutcome {
    pub fn response(self) -> Option<Vec<u8>> {
        match self {
            TcpOutcome::Response(r) => Some(r),
            _ => None,
        }
    }
}

/// Opens a TCP connection with read/write timeouts.
pub fn tcp_connect(addr: SocketAddr, timeout: Duration) -> Option<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, timeout).ok()?;
    s.set_read_timeout(Some(timeout)).expect("set timeout");
    s.set_write_timeout(Some(timeout)).expect("set timeout");
    s.set_nodelay(true).expect("nodelay");
    Some(s)
}

/// Prefixes `msg` with its 2-byte length (RFC 1035 §4.2.2).
pub fn frame(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len() + 2);
    out.extend_from_slice(&(msg.len() as u16).to_be_bytes());
    out.extend_from_slice(msg);
    out
}

/// Reads one length-prefixed message from `s`.
pub fn read_frame(s: &mut TcpStream) -> TcpOutcome {
    let mut len = [0u8; 2];
    match read_exact(s, &mut len) {
        Ok(()) => {}
        Err(o) => return o,
    }
    let mut body = vec![0u8; u16::from_be_bytes(len) as usize];
    match read_exact(s, &mut body) {
        Ok(()) => TcpOutcome::Response(body),
        Err(o) => o,
    }
}

fn read_exact(s: &mut TcpStream, buf: &mut [u8]) -> Result<(), TcpOutcome> {
    let mut done = 0;
    while done < buf.len() {
        match s.read(&mut buf[done..]) {
            Ok(0) => return Err(TcpOutcome::Closed),
            Ok(n) => done += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(TcpOutcome::Timeout);
            }
            Err(_) => return Err(TcpOutcome::Closed),
        }
    }
    Ok(())
}

/// Sends `query` over a fresh TCP connection and reads one response.
pub fn tcp(addr: SocketAddr, query: &[u8], timeout: Duration) -> TcpOutcome {
    let Some(mut s) = tcp_connect(addr, timeout) else {
        return TcpOutcome::Refused;
    };
    if s.write_all(&frame(query)).is_err() {
        return TcpOutcome::Closed;
    }
    let out = read_frame(&mut s);
    let _ = s.shutdown(Shutdown::Both);
    out
}

/// Whether the peer has closed `s` (reads EOF or an error within `wait`).
pub fn tcp_is_closed(s: &mut TcpStream, wait: Duration) -> bool {
    s.set_read_timeout(Some(wait)).expect("set timeout");
    let mut b = [0u8; 1];
    match s.read(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => false,
        Err(_) => true,
    }
}

/// Transport of a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
}

/// Sends `query` over `transport`; `None` if there was no response.
pub fn exchange(
    addr: SocketAddr,
    transport: Transport,
    query: &[u8],
    timeout: Duration,
) -> Option<Vec<u8>> {
    match transport {
        Transport::Udp => udp(addr, query, timeout),
        Transport::Tcp => tcp(addr, query, timeout).response(),
    }
}
