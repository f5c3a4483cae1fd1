//! The tokio DNS server: UDP and TCP listeners in front of a [`Responder`].
//!
//! Use it in two steps so that configuration mistakes surface before any
//! query is served:
//!
//! ```no_run
//! # async fn demo(config: &dnsd::config::ServerConfig,
//! #               responder: std::sync::Arc<dyn dnsd::engine::Responder>)
//! #               -> Result<(), dnsd::server::ServerError> {
//! let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
//! let server = dnsd::server::Server::bind(config)?; // fails on "address in use" etc.
//! for l in server.listeners() {
//!     tracing::info!(address = %l.local, udp_sockets = l.udp_sockets, "listening");
//! }
//! let stats = server.stats(); // for `dnsd stats`
//! server.run(responder, stop_rx).await?; // until `stop_tx.send(true)`
//! # drop((stop_tx, stats)); Ok(()) }
//! ```
//!
//! [`serve`] does both in one call.
//!
//! * UDP: each listen address gets `udp_sockets` sockets (one per CPU by
//!   default) sharing the port through `SO_REUSEPORT`, each drained by its own
//!   task. Sockets bound to a wildcard address learn each query's destination
//!   address through `IP_PKTINFO` / `IPV6_RECVPKTINFO` and answer from it
//!   (checklist 13); the unsafe FFI for this lives in `sys.rs`.
//! * TCP: RFC 7766 framing, one task per connection, idle and I/O timeouts,
//!   total and per-client connection limits, see `tcp.rs`.

mod sys;
mod tcp;
mod udp;

#[cfg(test)]
mod tests;

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;

use crate::config::ServerConfig;
use crate::engine::{Request, Responder, Transport};

/// Largest DNS message: the TCP length prefix is 16 bits (RFC 1035 §4.2.2).
pub const MAX_MESSAGE: usize = 65535;

/// Kernel receive buffer requested for UDP sockets (capped by `net.core.rmem_max`).
const UDP_RCVBUF: usize = 4 << 20;
/// Kernel send buffer requested for UDP sockets (capped by `net.core.wmem_max`).
const UDP_SNDBUF: usize = 1 << 20;
/// TCP accept backlog.
const TCP_BACKLOG: i32 = 1024;
/// Attempts at finding a port free for both UDP and TCP when binding port 0.
const PORT_ZERO_ATTEMPTS: usize = 16;

/// What the server was doing when a socket call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketOp {
    Create,
    /// Setting the named socket option.
    SetOption(&'static str),
    Bind,
    Listen,
    LocalAddr,
    /// Handing the socket to the tokio reactor.
    Register,
}

impl fmt::Display for SocketOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SocketOp::Create => f.write_str("cannot create socket"),
            SocketOp::SetOption(name) => write!(f, "cannot set {name}"),
            SocketOp::Bind => f.write_str("cannot bind"),
            SocketOp::Listen => f.write_str("cannot listen"),
            SocketOp::LocalAddr => f.write_str("cannot read the bound address"),
            SocketOp::Register => f.write_str("cannot register with the runtime"),
        }
    }
}

/// Why the server cannot start or stopped unexpectedly.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A socket call failed for one listen address, e.g.
    /// `udp 0.0.0.0:53: cannot bind: Address already in use (os error 98) (is another DNS server running?)`.
    #[error("{} {addr}: {op}: {source}{}", transport_name(*.transport), hint(*.addr, *.op, .source))]
    Socket {
        addr: SocketAddr,
        transport: Transport,
        op: SocketOp,
        source: io::Error,
    },
    #[error("server.listen is empty: nothing to serve on")]
    NoListenAddresses,
    /// A server task ended before shutdown was requested (a bug: it panicked).
    #[error("{task} stopped unexpectedly: {message}")]
    TaskFailed { task: String, message: String },
}

fn transport_name(t: Transport) -> &'static str {
    match t {
        Transport::Udp => "udp",
        Transport::Tcp => "tcp",
    }
}

/// An operator-facing explanation of the common bind failures.
fn hint(addr: SocketAddr, op: SocketOp, e: &io::Error) -> &'static str {
    if op != SocketOp::Bind {
        return "";
    }
    match e.kind() {
        io::ErrorKind::AddrInUse => " (is another DNS server running?)",
        io::ErrorKind::PermissionDenied if addr.port() != 0 && addr.port() < 1024 => {
            " (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
        }
        io::ErrorKind::AddrNotAvailable => " (the address is not configured on this host)",
        _ => "",
    }
}

/// Counters of the userspace server, shared with whoever reports them.
/// All counters only grow, except `tcp_open`.
#[derive(Debug, Default)]
pub struct ServerStats {
    pub udp_queries: AtomicU64,
    pub udp_responses: AtomicU64,
    /// Failed `recv`/`send` calls on UDP sockets (e.g. unreachable client).
    pub udp_errors: AtomicU64,
    pub tcp_accepted: AtomicU64,
    /// Connections closed at once because a connection limit was reached.
    pub tcp_refused: AtomicU64,
    /// Connections currently open.
    pub tcp_open: AtomicU64,
    pub tcp_queries: AtomicU64,
    pub tcp_responses: AtomicU64,
    /// Connections closed by the idle, read or write timeout.
    pub tcp_timeouts: AtomicU64,
    /// Queries that got no response (the responder declined or failed).
    pub dropped: AtomicU64,
}

/// A plain copy of [`ServerStats`] at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub udp_queries: u64,
    pub udp_responses: u64,
    pub udp_errors: u64,
    pub tcp_accepted: u64,
    pub tcp_refused: u64,
    pub tcp_open: u64,
    pub tcp_queries: u64,
    pub tcp_responses: u64,
    pub tcp_timeouts: u64,
    pub dropped: u64,
}

impl ServerStats {
    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            udp_queries: get(&self.udp_queries),
            udp_responses: get(&self.udp_responses),
            udp_errors: get(&self.udp_errors),
            tcp_accepted: get(&self.tcp_accepted),
            tcp_refused: get(&self.tcp_refused),
            tcp_open: get(&self.tcp_open),
            tcp_queries: get(&self.tcp_queries),
            tcp_responses: get(&self.tcp_responses),
            tcp_timeouts: get(&self.tcp_timeouts),
            dropped: get(&self.dropped),
        }
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// One listen address as bound, for startup logs and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListenerInfo {
    /// As written in the configuration (port may be 0).
    pub configured: SocketAddr,
    /// As bound: UDP and TCP share this address and port.
    pub local: SocketAddr,
    pub udp_sockets: usize,
    /// True on wildcard addresses: replies use the query's destination address.
    pub pktinfo: bool,
}

/// The settings the running server needs, copied from [`ServerConfig`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Settings {
    pub tcp_idle_timeout: Duration,
    pub tcp_io_timeout: Duration,
    pub tcp_max_connections: usize,
    pub tcp_max_connections_per_client: usize,
    pub query_log: bool,
}

/// An RFC 2136 UPDATE as received, waiting for its response. Updates
/// are not answered by the [`Responder`]: they wait for a journal fsync,
/// so they go to an [`UpdateSink`] and the socket loop moves on.
#[derive(Debug)]
pub struct UpdateRequest {
    pub message: Vec<u8>,
    pub client: SocketAddr,
    pub transport: Transport,
    /// Gets the response; dropped without one when nothing must be sent.
    pub reply: oneshot::Sender<Vec<u8>>,
}

/// Where the server hands UPDATE messages (the dynamic-zone updater).
pub trait UpdateSink: Send + Sync + 'static {
    /// Queues `request`; false when the queue is full (it is dropped, and
    /// the client retries as for any lost UDP message).
    fn submit(&self, request: UpdateRequest) -> bool;
}

/// The OPCODE of a query message (RFC 1035 §4.1.1), None for a response
/// or a message without a header.
pub(crate) fn query_opcode(message: &[u8]) -> Option<u8> {
    let flags = *message.get(2)?;
    if message.len() < 12 || flags & 0x80 != 0 {
        return None;
    }
    Some((flags >> 3) & 0x0f)
}

/// OPCODE UPDATE (RFC 2136 §1.3).
const OPCODE_UPDATE: u8 = 5;

/// What every server task shares.
pub(crate) struct Context {
    pub responder: Arc<dyn Responder>,
    pub updates: Option<Arc<dyn UpdateSink>>,
    pub stats: Arc<ServerStats>,
    pub settings: Settings,
}

impl Context {
    /// Hands an UPDATE to the sink, if there is one and `message` is an
    /// UPDATE; the receiver then gets the response. None: not an UPDATE
    /// (or no sink), answer it with [`Context::respond`].
    pub fn submit_update(&self, request: &Request<'_>) -> Option<oneshot::Receiver<Vec<u8>>> {
        let sink = self.updates.as_ref()?;
        if query_opcode(request.message) != Some(OPCODE_UPDATE) {
            return None;
        }
        let (reply, rx) = oneshot::channel();
        let queued = sink.submit(UpdateRequest {
            message: request.message.to_vec(),
            client: request.client,
            transport: request.transport,
            reply,
        });
        if !queued {
            bump(&self.stats.dropped);
            tracing::warn!(client = %request.client, "update queue full; UPDATE dropped");
        }
        Some(rx)
    }

    /// Runs the responder on one query. Returns false when nothing must be
    /// sent. A panicking responder loses only this query, not the socket loop.
    pub fn respond(&self, request: &Request<'_>, out: &mut Vec<u8>) -> bool {
        out.clear();
        let result =
            std::panic::catch_unwind(AssertUnwindSafe(|| self.responder.respond(request, out)));
        let answer = match result {
            Ok(answer) => answer,
            Err(_) => {
                tracing::error!(client = %request.client, "responder panicked; query dropped");
                false
            }
        };
        if answer && out.len() > MAX_MESSAGE {
            tracing::error!(
                client = %request.client,
                len = out.len(),
                "responder produced a response over 65535 bytes; dropped"
            );
            return false;
        }
        if !answer {
            bump(&self.stats.dropped);
        }
        answer
    }

    /// One info line per query when `query_log` is on.
    pub fn log_query(&self, request: &Request<'_>, response: Option<&[u8]>) {
        if !self.settings.query_log {
            return;
        }
        let transport = transport_name(request.transport);
        match response {
            Some(r) => tracing::info!(
                client = %request.client,
                transport,
                len = request.message.len(),
                rcode = r.get(3).map_or(0, |b| b & 0x0f),
                response_len = r.len(),
                "query"
            ),
            None => tracing::info!(
                client = %request.client,
                transport,
                len = request.message.len(),
                "query dropped"
            ),
        }
    }
}

/// Sockets bound for one listen address.
struct Listener {
    info: ListenerInfo,
    udp: Vec<std::net::UdpSocket>,
    tcp: std::net::TcpListener,
}

/// A bound but not yet running server.
pub struct Server {
    listeners: Vec<Listener>,
    settings: Settings,
    stats: Arc<ServerStats>,
    updates: Option<Arc<dyn UpdateSink>>,
}

impl Server {
    /// Binds every address of `config.listen` for UDP and TCP, without
    /// serving yet; works outside a tokio runtime (e.g. before dropping
    /// privileges). A port of 0 picks one free port used by both UDP and TCP.
    pub fn bind(config: &ServerConfig) -> Result<Server, ServerError> {
        if config.listen.is_empty() {
            return Err(ServerError::NoListenAddresses);
        }
        let udp_sockets = match config.udp_sockets {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let listeners = config
            .listen
            .iter()
            .map(|&addr| bind_listener(addr, udp_sockets))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Server {
            listeners,
            settings: Settings {
                tcp_idle_timeout: Duration::from_millis(config.tcp_idle_timeout_ms),
                tcp_io_timeout: Duration::from_millis(config.tcp_io_timeout_ms),
                tcp_max_connections: config.tcp_max_connections,
                tcp_max_connections_per_client: config.tcp_max_connections_per_client,
                query_log: config.query_log,
            },
            stats: Arc::new(ServerStats::default()),
            updates: None,
        })
    }

    /// Sends UPDATE messages (RFC 2136) to `sink` instead of the responder.
    pub fn with_updates(mut self, sink: Arc<dyn UpdateSink>) -> Server {
        self.updates = Some(sink);
        self
    }

    /// The bound addresses, in the order of `config.listen`.
    pub fn listeners(&self) -> Vec<ListenerInfo> {
        self.listeners.iter().map(|l| l.info).collect()
    }

    /// The bound addresses (UDP and TCP share each), in the order of `config.listen`.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners.iter().map(|l| l.info.local).collect()
    }

    pub fn stats(&self) -> Arc<ServerStats> {
        Arc::clone(&self.stats)
    }

    /// Serves until `shutdown` holds true or its sender is dropped, then
    /// stops accepting, lets TCP connections finish the response in flight
    /// (bounded by the I/O timeout) and returns. Must run inside a tokio
    /// runtime; the multi-thread runtime spreads the UDP sockets over cores.
    pub async fn run(
        self,
        responder: Arc<dyn Responder>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), ServerError> {
        let ctx = Arc::new(Context {
            responder,
            updates: self.updates,
            stats: self.stats,
            settings: self.settings,
        });
        let limits = Arc::new(tcp::Limits::new(
            self.settings.tcp_max_connections,
            self.settings.tcp_max_connections_per_client,
            Arc::clone(&ctx.stats),
        ));
        // Our own stop signal, so we can also stop when a task fails.
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        for listener in self.listeners {
            let local = listener.info.local;
            let pktinfo = listener.info.pktinfo;
            for socket in listener.udp {
                let socket = tokio::net::UdpSocket::from_std(socket).map_err(|source| {
                    ServerError::Socket {
                        addr: local,
                        transport: Transport::Udp,
                        op: SocketOp::Register,
                        source,
                    }
                })?;
                let (ctx, stop) = (Arc::clone(&ctx), stop_rx.clone());
                tasks.spawn(async move {
                    udp::serve(Arc::new(socket), pktinfo, ctx, stop).await;
                    format!("udp {local}")
                });
            }
            let tcp = tokio::net::TcpListener::from_std(listener.tcp).map_err(|source| {
                ServerError::Socket {
                    addr: local,
                    transport: Transport::Tcp,
                    op: SocketOp::Register,
                    source,
                }
            })?;
            let (ctx, limits, stop) = (Arc::clone(&ctx), Arc::clone(&limits), stop_rx.clone());
            tasks.spawn(async move {
                tcp::serve(tcp, ctx, limits, stop).await;
                format!("tcp {local}")
            });
        }

        let mut failure = None;
        tokio::select! {
            _ = shutdown.wait_for(|&stop| stop) => {}
            Some(ended) = tasks.join_next() => {
                let (task, message) = match ended {
                    Ok(task) => (task, "returned".to_owned()),
                    Err(e) => ("server task".to_owned(), e.to_string()),
                };
                tracing::error!(%task, %message, "server task stopped unexpectedly; shutting down");
                failure = Some(ServerError::TaskFailed { task, message });
            }
        }
        let _ = stop_tx.send(true);
        // Every task notices the stop signal at its next wait; TCP tasks wait
        // for their connections at most the I/O timeout (tcp::serve).
        while let Some(ended) = tasks.join_next().await {
            if let Err(e) = ended {
                tracing::error!(error = %e, "server task failed during shutdown");
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// [`Server::bind`] then [`Server::run`].
pub async fn serve(
    config: &ServerConfig,
    responder: Arc<dyn Responder>,
    shutdown: watch::Receiver<bool>,
) -> Result<(), ServerError> {
    Server::bind(config)?.run(responder, shutdown).await
}

/// Resolves when `shutdown` holds true or its sender is gone.
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|&stop| stop).await;
}

fn is_wildcard(ip: IpAddr) -> bool {
    ip.is_unspecified()
}

fn bind_listener(addr: SocketAddr, udp_sockets: usize) -> Result<Listener, ServerError> {
    let pktinfo = is_wildcard(addr.ip());
    let attempts = if addr.port() == 0 {
        PORT_ZERO_ATTEMPTS
    } else {
        1
    };
    let mut attempt = 0;
    // TCP first, without SO_REUSEPORT: a second dnsd on the same address
    // fails here instead of silently sharing the UDP port.
    let (tcp, local, first_udp) = loop {
        attempt += 1;
        let tcp = bind_tcp(addr)?;
        let local = tcp
            .local_addr()
            .map_err(|source| socket_error(addr, Transport::Tcp, SocketOp::LocalAddr, source))?;
        match bind_udp(local, pktinfo) {
            Ok(udp) => break (tcp, local, udp),
            // The port picked for TCP is taken for UDP: try another one.
            Err(ServerError::Socket {
                op: SocketOp::Bind,
                source,
                ..
            }) if attempt < attempts && source.kind() == io::ErrorKind::AddrInUse => {}
            Err(e) => return Err(e),
        }
    };
    let mut udp = Vec::with_capacity(udp_sockets);
    udp.push(first_udp);
    for _ in 1..udp_sockets {
        udp.push(bind_udp(local, pktinfo)?);
    }
    Ok(Listener {
        info: ListenerInfo {
            configured: addr,
            local,
            udp_sockets,
            pktinfo,
        },
        udp,
        tcp,
    })
}

fn socket_error(
    addr: SocketAddr,
    transport: Transport,
    op: SocketOp,
    source: io::Error,
) -> ServerError {
    ServerError::Socket {
        addr,
        transport,
        op,
        source,
    }
}

fn bind_udp(addr: SocketAddr, pktinfo: bool) -> Result<std::net::UdpSocket, ServerError> {
    let err = |op| move |source| socket_error(addr, Transport::Udp, op, source);
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
        .map_err(err(SocketOp::Create))?;
    if addr.is_ipv6() {
        socket
            .set_only_v6(true)
            .map_err(err(SocketOp::SetOption("IPV6_V6ONLY")))?;
    }
    sys::set_reuse_port(&socket).map_err(err(SocketOp::SetOption("SO_REUSEPORT")))?;
    if pktinfo {
        let name = if addr.is_ipv6() {
            "IPV6_RECVPKTINFO"
        } else {
            "IP_PKTINFO"
        };
        sys::enable_pktinfo(&socket, addr.is_ipv6()).map_err(err(SocketOp::SetOption(name)))?;
    }
    // Best effort: the kernel caps these at net.core.{r,w}mem_max.
    let _ = socket.set_recv_buffer_size(UDP_RCVBUF);
    let _ = socket.set_send_buffer_size(UDP_SNDBUF);
    socket
        .set_nonblocking(true)
        .map_err(err(SocketOp::SetOption("O_NONBLOCK")))?;
    socket.bind(&addr.into()).map_err(err(SocketOp::Bind))?;
    Ok(socket.into())
}

fn bind_tcp(addr: SocketAddr) -> Result<std::net::TcpListener, ServerError> {
    let err = |op| move |source| socket_error(addr, Transport::Tcp, op, source);
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .map_err(err(SocketOp::Create))?;
    if addr.is_ipv6() {
        socket
            .set_only_v6(true)
            .map_err(err(SocketOp::SetOption("IPV6_V6ONLY")))?;
    }
    // Lets a restarted server bind while old connections sit in TIME_WAIT.
    socket
        .set_reuse_address(true)
        .map_err(err(SocketOp::SetOption("SO_REUSEADDR")))?;
    socket
        .set_nonblocking(true)
        .map_err(err(SocketOp::SetOption("O_NONBLOCK")))?;
    socket.bind(&addr.into()).map_err(err(SocketOp::Bind))?;
    socket.listen(TCP_BACKLOG).map_err(err(SocketOp::Listen))?;
    Ok(socket.into())
}
