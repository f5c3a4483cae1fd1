//! The dyndns2 HTTP(S) update endpoint that home routers and ddclient speak:
//! `GET /nic/update?hostname=NAME[,NAME...]&myip=ADDR[,ADDR6]` with HTTP
//! Basic authentication, answered with `good ADDR`, `nochg ADDR`,
//! `badauth`, `nohost`, `notfqdn`, `numhost`, `abuse` or `911`, one line per
//! hostname.
//!
//! This module speaks HTTP and checks passwords; what an update does to DNS
//! (policy, rate limits, journal, snapshot) belongs to the [`AddressSink`],
//! which applies it on behalf of the user's TSIG-policy key.
//!
//! * `myip` missing or unusable: the client's own address (the TCP peer; the
//!   last `X-Forwarded-For` entry only with `trust_proxy`).
//! * Limits: [`config::DyndnsConfig::max_connections`] at once, one request
//!   per connection, request head at most 8 KiB and complete within 10 s,
//!   TLS handshake within 10 s, a whole connection within 60 s.

mod auth;
pub mod config;
mod request;
mod server;
mod tls;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

pub use config::{DyndnsConfig, UserConfig};
pub use server::Listener;

use crate::wire::name::Name;

/// What an HTTP update does to DNS; implemented over the same path as
/// RFC 2136 updates.
pub trait AddressSink: Send + Sync + 'static {
    /// Makes `host`'s A (or AAAA, by the address family) RRset exactly
    /// `addr`, on behalf of TSIG-policy key `key`.
    fn set_address(
        &self,
        change: AddressChange<'_>,
    ) -> impl Future<Output = Result<SetOutcome, SetRefusal>> + Send;
}

/// One address update, as the endpoint hands it to the [`AddressSink`].
#[derive(Clone, Copy, Debug)]
pub struct AddressChange<'a> {
    /// The TSIG-policy key the user acts for.
    pub key: &'a str,
    pub host: &'a Name,
    pub addr: IpAddr,
    /// The client, for rate limits and the log.
    pub client: SocketAddr,
}

/// A done update: dyndns2 `good` or `nochg`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOutcome {
    Changed,
    Unchanged,
}

/// A refused update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetRefusal {
    /// No zone served here holds the name: `nohost`.
    NoHost,
    /// The key's policy does not cover the name or type: also `nohost`, so
    /// the answer does not tell which names exist.
    NotAllowed,
    /// The key's rate or size limit: `abuse`.
    Abuse,
    /// Anything else (journal write failed...): `911`, clients retry later.
    ServerError,
}

/// Why the endpoint cannot start.
#[derive(Debug, thiserror::Error)]
pub enum DyndnsError {
    #[error("{0}")]
    Config(String),
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("dyndns TLS: {0}")]
    Tls(String),
    #[error("dyndns: cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Serves dyndns2 on the configured listeners until the future is dropped.
pub async fn serve<S: AddressSink>(config: &DyndnsConfig, sink: Arc<S>) -> Result<(), DyndnsError> {
    Listener::bind(config)?.serve(sink).await
}
