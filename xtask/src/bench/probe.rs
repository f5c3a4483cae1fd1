//! Single queries from the client namespace over a kernel UDP socket: the
//! readiness probe and the zone-change → new-answer timer.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::netns::{self, CLIENT_NS};

pub const TYPE_A: u16 = 1;
pub const TYPE_SOA: u16 = 6;

/// Two UDP sockets created in the client namespace (sockets keep the
/// namespace they were made in, whichever thread uses them).
pub struct Prober {
    v4: UdpSocket,
    v6: UdpSocket,
    id: AtomicU16,
}

impl Prober {
    pub fn new() -> Result<Prober> {
        let (v4, v6) = netns::in_ns(CLIENT_NS, || {
            Ok::<_, std::io::Error>((UdpSocket::bind("0.0.0.0:0")?, UdpSocket::bind("[::]:0")?))
        })??;
        Ok(Prober {
            v4,
            v6,
            id: AtomicU16::new(1),
        })
    }

    /// Sends one query (RD clear, no EDNS) and returns the response with
    /// its ID, or `None` after `timeout`.
    pub fn ask(&self, addr: IpAddr, name: &str, qtype: u16, timeout: Duration) -> Option<Vec<u8>> {
        let id = self.id.fetch_add(1, Ordering::Relaxed);
        let query = build_query(id, name, qtype)?;
        let sock = if addr.is_ipv4() { &self.v4 } else { &self.v6 };
        let server = SocketAddr::new(addr, 53);
        sock.send_to(&query, server).ok()?;
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 4096];
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .ok()?;
            match sock.recv_from(&mut buf) {
                Ok((n, from)) if from == server && n >= 12 && buf[..2] == query[..2] => {
                    return Some(buf[..n].to_vec());
                }
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    }

    /// Whether `addr` answers the SOA of `zone` with NOERROR, AA=1 and an
    /// answer record.
    pub fn soa_ready(&self, addr: IpAddr, zone: &str) -> bool {
        self.ask(addr, zone, TYPE_SOA, Duration::from_millis(100))
            .is_some_and(|r| r[3] & 0x0f == 0 && r[2] & 0x04 != 0 && r[6..8] != [0, 0])
    }

    /// Polls `name A` every millisecond until an answer carries `want`;
    /// returns the time it took. Bounded by `limit`.
    pub fn time_until_a(
        &self,
        addr: IpAddr,
        name: &str,
        want: [u8; 4],
        since: Instant,
        limit: Duration,
    ) -> Result<Duration> {
        let pattern = [0, 4, want[0], want[1], want[2], want[3]];
        loop {
            netns::check_interrupted()?;
            if let Some(r) = self.ask(addr, name, TYPE_A, Duration::from_millis(20))
                && r.windows(pattern.len()).any(|w| w == pattern)
            {
                return Ok(since.elapsed());
            }
            if since.elapsed() > limit {
                bail!("{name} did not change to {want:?} within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// A query in wire form (RFC 1035 §4.1); `None` for a malformed name.
fn build_query(id: u16, name: &str, qtype: u16) -> Option<Vec<u8>> {
    let mut q = Vec::with_capacity(64);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.trim_end_matches('.').split('.') {
        let len = u8::try_from(label.len())
            .ok()
            .filter(|l| *l > 0 && *l < 64)?;
        q.push(len);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes());
    Some(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_wire_form() {
        let q = build_query(0x1234, "www.example.info.", TYPE_A).expect("valid name");
        let mut want = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        want.extend_from_slice(b"\x03www\x07example\x04info\x00\x00\x01\x00\x01");
        assert_eq!(q, want);
        assert!(build_query(1, "a..b", TYPE_A).is_none());
    }
}
