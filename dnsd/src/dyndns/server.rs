//! Listening, TLS, HTTP/1.1 and the update handler.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{ALLOW, AUTHORIZATION, CONTENT_TYPE, HeaderValue, WWW_AUTHENTICATE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::timeout;
use tokio_rustls::TlsAcceptor;

use super::auth::{AuthThrottle, Users, parse_basic};
use super::config::DyndnsConfig;
use super::request::{AddrList, MAX_HOSTS, Reply, UpdateRequest, parse_hostname};
use super::{AddressChange, AddressSink, DyndnsError, SetOutcome, SetRefusal, tls};

/// How long a client may take.
#[derive(Debug, Clone, Copy)]
pub(super) struct Timeouts {
    /// The request head must arrive within this time (slow-loris clients).
    pub header: Duration,
    /// The TLS handshake must finish within this time.
    pub handshake: Duration,
    /// Everything about one connection, the sink's work included.
    pub connection: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            header: Duration::from_secs(10),
            handshake: Duration::from_secs(10),
            connection: Duration::from_secs(60),
        }
    }
}
/// Request head limit: hyper's minimum buffer, far above any update URL.
const MAX_HEAD: usize = 8192;
/// Pause after accept fails for lack of resources (EMFILE, ENOMEM...).
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// What every connection needs.
struct Shared {
    users: Users,
    throttle: AuthThrottle,
    tls: Option<TlsAcceptor>,
    trust_proxy: bool,
    permits: Arc<Semaphore>,
    timeouts: Timeouts,
}

/// The endpoint's sockets, bound and ready: bind first (port 0 works, see
/// [`Listener::local_addrs`]), serve later.
pub struct Listener {
    /// Each socket with its bound address.
    sockets: Vec<(SocketAddr, std::net::TcpListener)>,
    shared: Shared,
}

impl Listener {
    /// Validates the config, loads passwords and TLS files, binds every
    /// listen address.
    pub fn bind(config: &DyndnsConfig) -> Result<Listener, DyndnsError> {
        config.validate().map_err(DyndnsError::Config)?;
        let users = Users::load(config)?;
        let tls = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => {
                Some(tls::acceptor(&config.resolve(cert), &config.resolve(key))?)
            }
            _ => None,
        };
        let mut sockets = Vec::with_capacity(config.listen.len());
        for &addr in &config.listen {
            let bind_error = |source| DyndnsError::Bind { addr, source };
            let socket = std::net::TcpListener::bind(addr).map_err(bind_error)?;
            socket.set_nonblocking(true).map_err(bind_error)?;
            sockets.push((socket.local_addr().map_err(bind_error)?, socket));
        }
        let shared = Shared {
            users,
            throttle: AuthThrottle::default(),
            tls,
            trust_proxy: config.trust_proxy,
            permits: Arc::new(Semaphore::new(config.max_connections)),
            timeouts: Timeouts::default(),
        };
        Ok(Listener { sockets, shared })
    }

    /// Shorter timeouts, so tests of them run quickly.
    #[cfg(test)]
    pub(super) fn with_timeouts(mut self, timeouts: Timeouts) -> Listener {
        self.shared.timeouts = timeouts;
        self
    }

    /// The bound addresses, in `listen` order (with real ports for port 0).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.sockets.iter().map(|&(addr, _)| addr).collect()
    }

    /// Serves until the future is dropped; dropping it also ends every open
    /// connection.
    pub async fn serve<S: AddressSink>(self, sink: Arc<S>) -> Result<(), DyndnsError> {
        let shared = Arc::new(self.shared);
        let mut loops = JoinSet::new();
        for (addr, socket) in self.sockets {
            let listener = TcpListener::from_std(socket)
                .map_err(|source| DyndnsError::Bind { addr, source })?;
            tracing::info!(%addr, tls = shared.tls.is_some(), "dyndns endpoint listening");
            loops.spawn(accept_loop(listener, shared.clone(), sink.clone()));
        }
        // The accept loops only end if their task panics.
        while loops.join_next().await.is_some() {}
        Ok(())
    }
}

async fn accept_loop<S: AddressSink>(listener: TcpListener, shared: Arc<Shared>, sink: Arc<S>) {
    let mut conns = JoinSet::new();
    loop {
        // Waiting here leaves further clients in the kernel's backlog.
        let Ok(permit) = shared.permits.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "dyndns accept failed");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                continue;
            }
        };
        while conns.try_join_next().is_some() {}
        let (shared, sink) = (shared.clone(), sink.clone());
        conns.spawn(async move {
            let _permit = permit;
            let peer = SocketAddr::new(peer.ip().to_canonical(), peer.port());
            let limit = shared.timeouts.connection;
            if timeout(limit, connection(stream, peer, shared, sink))
                .await
                .is_err()
            {
                tracing::debug!(%peer, "dyndns connection timed out");
            }
        });
    }
}

async fn connection<S: AddressSink>(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    sink: Arc<S>,
) {
    let Some(acceptor) = shared.tls.clone() else {
        return http(TokioIo::new(stream), peer, shared, sink).await;
    };
    match timeout(shared.timeouts.handshake, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => http(TokioIo::new(tls), peer, shared, sink).await,
        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "dyndns TLS handshake failed"),
        Err(_) => tracing::debug!(%peer, "dyndns TLS handshake timed out"),
    }
}

async fn http<I, S>(io: I, peer: SocketAddr, shared: Arc<Shared>, sink: Arc<S>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: AddressSink,
{
    let header_timeout = shared.timeouts.header;
    let service = service_fn(move |req| {
        let (shared, sink) = (shared.clone(), sink.clone());
        async move { Ok::<_, Infallible>(handle(req, peer, &shared, &*sink).await) }
    });
    let served = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .max_buf_size(MAX_HEAD)
        .keep_alive(false)
        .serve_connection(io, service)
        .await;
    if let Err(e) = served {
        tracing::debug!(%peer, error = %e, "dyndns HTTP connection failed");
    }
}

async fn handle<S: AddressSink>(
    req: Request<Incoming>,
    peer: SocketAddr,
    shared: &Shared,
    sink: &S,
) -> Response<Full<Bytes>> {
    if !matches!(req.uri().path(), "/nic/update" | "/v3/update") {
        return text(StatusCode::NOT_FOUND, "not found\n".into());
    }
    if req.method() != Method::GET {
        let mut resp = text(StatusCode::METHOD_NOT_ALLOWED, "GET only\n".into());
        resp.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET"));
        return resp;
    }
    let client = client_addr(&req, peer, shared.trust_proxy);
    // Per client as `client_addr` sees it: behind a trusted proxy each
    // forwarded client has its own budget, not one shared by all.
    if shared.throttle.blocked(client.ip(), Instant::now()) {
        let reply = Reply::Abuse;
        tracing::info!(%client, result = reply.code(), "dyndns login throttled");
        return text(StatusCode::OK, format!("{reply}\n"));
    }
    let update = UpdateRequest::parse(req.uri().query().unwrap_or(""));
    let credentials = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| parse_basic(v.as_bytes()))
        .or(update.credentials);
    let user = credentials.as_ref().map_or("", |(u, _)| u.as_str());
    let Some(key) = credentials
        .as_ref()
        .and_then(|(u, p)| shared.users.check(u, p))
    else {
        shared.throttle.failed(client.ip(), Instant::now());
        let reply = Reply::BadAuth;
        tracing::info!(user, %client, result = reply.code(), "dyndns update refused");
        let mut resp = text(StatusCode::UNAUTHORIZED, format!("{reply}\n"));
        resp.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"dnsd\""),
        );
        return resp;
    };
    let whole = match update.hosts.len() {
        0 => Some(Reply::NotFqdn),
        n if n > MAX_HOSTS => Some(Reply::NumHost),
        _ => None,
    };
    if let Some(reply) = whole {
        tracing::info!(user, %client, result = reply.code(), "dyndns update refused");
        return text(StatusCode::OK, format!("{reply}\n"));
    }
    let addrs = if update.addrs.is_empty() {
        vec![client.ip()]
    } else {
        update.addrs
    };
    let mut body = String::new();
    for host in &update.hosts {
        let reply = update_host(sink, key, host, &addrs, client).await;
        tracing::info!(
            user,
            %client,
            host = host.as_str(),
            ip = %AddrList(&addrs),
            result = reply.code(),
            "dyndns update"
        );
        body.push_str(&format!("{reply}\n"));
    }
    text(StatusCode::OK, body)
}

/// Sets each address of one host; the first refusal answers for the host.
async fn update_host<S: AddressSink>(
    sink: &S,
    key: &str,
    host: &str,
    addrs: &[IpAddr],
    client: SocketAddr,
) -> Reply {
    let Some(name) = parse_hostname(host) else {
        return Reply::NotFqdn;
    };
    let mut changed = false;
    for &addr in addrs {
        match sink
            .set_address(AddressChange {
                key,
                host: &name,
                addr,
                client,
            })
            .await
        {
            Ok(SetOutcome::Changed) => changed = true,
            Ok(SetOutcome::Unchanged) => {}
            Err(SetRefusal::NoHost | SetRefusal::NotAllowed) => return Reply::NoHost,
            Err(SetRefusal::Abuse) => return Reply::Abuse,
            Err(SetRefusal::ServerError) => return Reply::ServerError,
        }
    }
    if changed {
        Reply::Good(addrs.to_vec())
    } else {
        Reply::NoChg(addrs.to_vec())
    }
}

/// The TCP peer or, behind a trusted proxy, the address the proxy appended
/// last to `X-Forwarded-For` (earlier entries are the client's to forge).
fn client_addr<B>(req: &Request<B>, peer: SocketAddr, trust_proxy: bool) -> SocketAddr {
    if !trust_proxy {
        return peer;
    }
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|v| v.trim().parse::<IpAddr>().ok());
    match forwarded {
        Some(ip) => SocketAddr::new(ip.to_canonical(), peer.port()),
        None => peer,
    }
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(forwarded: &[&str]) -> Request<()> {
        let mut b = Request::builder().uri("/nic/update");
        for f in forwarded {
            b = b.header("X-Forwarded-For", *f);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn forwarded_for_only_behind_a_trusted_proxy() {
        let peer: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let r = req(&["198.51.100.1", "203.0.113.9, 198.18.0.7"]);
        assert_eq!(client_addr(&r, peer, false), peer);
        assert_eq!(
            client_addr(&r, peer, true),
            "198.18.0.7:4000".parse().unwrap()
        );
        assert_eq!(client_addr(&req(&["junk"]), peer, true), peer);
        assert_eq!(client_addr(&req(&[]), peer, true), peer);
    }
}
