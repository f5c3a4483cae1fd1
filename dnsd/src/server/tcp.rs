//! DNS over TCP (RFC 7766, RFC 1035 §4.2.2): one accept loop per listen
//! address, one task per connection.
//!
//! * Framing: a 2-byte big-endian length, then the message. Messages may
//!   arrive split over segments or several in one segment; each complete
//!   message is answered in order, the response written with its length
//!   prefix in one write.
//! * Timeouts: a connection waiting for the next message is closed after
//!   `tcp_idle_timeout` (shortened to `tcp_io_timeout` when the server holds
//!   more than three quarters of `tcp_max_connections`, RFC 7766 §6.2.3); a
//!   message whose first byte arrived must be complete within
//!   `tcp_io_timeout`; every response write must finish within
//!   `tcp_io_timeout`, so a client that never reads only loses its own
//!   connection.
//! * Limits: over `tcp_max_connections` in total or
//!   `tcp_max_connections_per_client` for one client, a new connection is
//!   accepted and closed at once, so the backlog keeps moving for others. A
//!   client is an IPv4 address or an IPv6 /64 (one site's worth of
//!   addresses). A limit of 0 means no limit.
//! * A zero-length message, an I/O error or a frame cut short by EOF closes
//!   the connection quietly (debug log only).

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout, timeout_at};

use super::{Context, MAX_MESSAGE, ServerStats, bump, stopped};
use crate::engine::{Request, Transport};

/// Initial read buffer per connection; grows to 2 + 65535 for large messages.
const INITIAL_READ_BUF: usize = 4096;
/// Pause after accept fails for lack of resources (EMFILE, ENOMEM...).
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);
/// Slack on top of the I/O timeout for connections to finish at shutdown.
const SHUTDOWN_SLACK: Duration = Duration::from_millis(100);

/// Connection counts shared by every TCP listener of the server.
pub(super) struct Limits {
    max_total: usize,
    max_per_client: usize,
    /// Mirrors `per_client`'s total, readable without the lock.
    total: AtomicUsize,
    per_client: Mutex<HashMap<IpAddr, usize>>,
    stats: Arc<ServerStats>,
}

/// Holds one connection's place in [`Limits`] until dropped.
pub(super) struct Permit {
    limits: Arc<Limits>,
    key: IpAddr,
}

impl Limits {
    pub(super) fn new(max_total: usize, max_per_client: usize, stats: Arc<ServerStats>) -> Limits {
        Limits {
            max_total,
            max_per_client,
            total: AtomicUsize::new(0),
            per_client: Mutex::new(HashMap::new()),
            stats,
        }
    }

    /// A place for a connection from `ip`, or None when a limit is reached.
    fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Option<Permit> {
        let key = client_key(ip);
        let mut per_client = self.per_client.lock().unwrap_or_else(|e| e.into_inner());
        let total = self.total.load(Ordering::Relaxed);
        if self.max_total != 0 && total >= self.max_total {
            return None;
        }
        let count = per_client.entry(key).or_insert(0);
        if self.max_per_client != 0 && *count >= self.max_per_client {
            return None;
        }
        *count += 1;
        self.total.store(total + 1, Ordering::Relaxed);
        self.stats.tcp_open.fetch_add(1, Ordering::Relaxed);
        Some(Permit {
            limits: Arc::clone(self),
            key,
        })
    }

    /// True when more than three quarters of the connection limit are used.
    fn under_pressure(&self) -> bool {
        self.max_total != 0 && self.total.load(Ordering::Relaxed) * 4 > self.max_total * 3
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let limits = &self.limits;
        let mut per_client = limits.per_client.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = per_client.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                per_client.remove(&self.key);
            }
        }
        limits.total.fetch_sub(1, Ordering::Relaxed);
        limits.stats.tcp_open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The unit of the per-client limit: the IPv4 address, or the IPv6 /64.
pub(super) fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(v6.to_bits() & !0u128 << 64)),
        },
    }
}

/// Accepts connections on `listener` until `shutdown`, then waits for the
/// open connections to close (at most the I/O timeout).
pub(super) async fn serve(
    listener: TcpListener,
    ctx: Arc<Context>,
    limits: Arc<Limits>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            biased;
            _ = stopped(&mut shutdown) => break,
            Some(done) = connections.join_next(), if !connections.is_empty() => {
                if let Err(e) = done {
                    tracing::error!(error = %e, "tcp connection task failed");
                }
                continue;
            }
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, client)) => match limits.try_acquire(client.ip()) {
                Some(permit) => {
                    bump(&ctx.stats.tcp_accepted);
                    connections.spawn(connection(
                        stream,
                        client,
                        Arc::clone(&ctx),
                        Arc::clone(&limits),
                        permit,
                        shutdown.clone(),
                    ));
                }
                None => {
                    bump(&ctx.stats.tcp_refused);
                    tracing::debug!(%client, "tcp connection limit reached; closing");
                    drop(stream);
                }
            },
            Err(e) if is_resource_shortage(&e) => {
                tracing::warn!(error = %e, "tcp accept failed; pausing");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
            }
            // Errors about one connection (ECONNABORTED and the like).
            Err(e) => tracing::debug!(error = %e, "tcp accept failed"),
        }
    }
    drop(listener);
    // Connections see the stop signal at their next read; one in the middle
    // of a write needs at most the I/O timeout.
    let grace = ctx.settings.tcp_io_timeout + SHUTDOWN_SLACK;
    let drained = timeout(grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        connections.shutdown().await;
    }
}

fn is_resource_shortage(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// Why a connection ended, for the debug log.
enum Close {
    Eof,
    TruncatedAtEof,
    ZeroLength,
    IdleTimeout,
    ReadTimeout,
    WriteTimeout,
    Shutdown,
    Error(io::Error),
}

impl std::fmt::Display for Close {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Close::Eof => f.write_str("closed by the client"),
            Close::TruncatedAtEof => f.write_str("closed by the client inside a message"),
            Close::ZeroLength => f.write_str("zero-length message"),
            Close::IdleTimeout => f.write_str("idle timeout"),
            Close::ReadTimeout => f.write_str("message not complete within the I/O timeout"),
            Close::WriteTimeout => f.write_str("response not written within the I/O timeout"),
            Close::Shutdown => f.write_str("server shutdown"),
            Close::Error(e) => write!(f, "{e}"),
        }
    }
}

async fn connection(
    mut stream: TcpStream,
    client: SocketAddr,
    ctx: Arc<Context>,
    limits: Arc<Limits>,
    _permit: Permit,
    mut shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let close = converse(&mut stream, client, &ctx, &limits, &mut shutdown).await;
    if matches!(
        close,
        Close::IdleTimeout | Close::ReadTimeout | Close::WriteTimeout
    ) {
        bump(&ctx.stats.tcp_timeouts);
    }
    tracing::debug!(%client, reason = %close, "tcp connection closed");
}

/// Reads and answers messages until the connection must close.
async fn converse(
    stream: &mut TcpStream,
    client: SocketAddr,
    ctx: &Context,
    limits: &Limits,
    shutdown: &mut watch::Receiver<bool>,
) -> Close {
    let settings = &ctx.settings;
    // Received bytes not yet consumed are buf[start..end].
    let mut buf = vec![0u8; INITIAL_READ_BUF];
    let (mut start, mut end) = (0usize, 0usize);
    // When the message being received must be complete.
    let mut message_deadline: Option<Instant> = None;
    let mut out = Vec::new();
    let mut frame = Vec::new();
    loop {
        // Answer every complete message already received, in order.
        let mut need = 2;
        while end - start >= 2 {
            let len = usize::from(u16::from_be_bytes([buf[start], buf[start + 1]]));
            if len == 0 {
                return Close::ZeroLength;
            }
            if end - start < 2 + len {
                need = 2 + len;
                break;
            }
            let message = &buf[start + 2..start + 2 + len];
            start += 2 + len;
            message_deadline = None;
            bump(&ctx.stats.tcp_queries);
            let request = Request {
                message,
                transport: Transport::Tcp,
                client,
            };
            if let Some(reply) = ctx.submit_update(&request) {
                // Responses stay in order: this connection waits.
                match reply.await {
                    Ok(r) => out = r,
                    Err(_) => continue,
                }
            } else if !ctx.respond(&request, &mut out) {
                ctx.log_query(&request, None);
                continue;
            } else {
                ctx.log_query(&request, Some(&out));
            }
            // ctx.respond guarantees out.len() <= MAX_MESSAGE.
            let Ok(out_len) = u16::try_from(out.len()) else {
                continue;
            };
            frame.clear();
            frame.extend_from_slice(&out_len.to_be_bytes());
            frame.extend_from_slice(&out);
            match timeout(settings.tcp_io_timeout, stream.write_all(&frame)).await {
                Ok(Ok(())) => bump(&ctx.stats.tcp_responses),
                Ok(Err(e)) => return Close::Error(e),
                Err(_) => return Close::WriteTimeout,
            }
        }

        // Make room for the rest of the message being received.
        if start == end {
            (start, end) = (0, 0);
        } else if start + need > buf.len() {
            buf.copy_within(start..end, 0);
            (start, end) = (0, end - start);
        }
        if need > buf.len() {
            debug_assert!(need <= MAX_MESSAGE + 2);
            buf.resize(need, 0);
        }

        let partial = end > start;
        let deadline = if partial {
            *message_deadline.get_or_insert_with(|| Instant::now() + settings.tcp_io_timeout)
        } else if limits.under_pressure() {
            Instant::now() + settings.tcp_idle_timeout.min(settings.tcp_io_timeout)
        } else {
            Instant::now() + settings.tcp_idle_timeout
        };
        let read = tokio::select! {
            biased;
            _ = stopped(shutdown) => return Close::Shutdown,
            read = timeout_at(deadline, stream.read(&mut buf[end..])) => read,
        };
        match read {
            Ok(Ok(0)) if partial => return Close::TruncatedAtEof,
            Ok(Ok(0)) => return Close::Eof,
            Ok(Ok(n)) => end += n,
            Ok(Err(e)) => return Close::Error(e),
            Err(_) if partial => return Close::ReadTimeout,
            Err(_) => return Close::IdleTimeout,
        }
    }
}
