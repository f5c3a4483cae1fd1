//! One receive loop per UDP socket. Buffers are allocated once per socket.

use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::watch;

use super::sys::{self, Dest};
use super::{Context, MAX_MESSAGE, bump, stopped};
use crate::engine::{Request, Transport};

/// Pause after a receive error that is not about one datagram, so a
/// persistent failure (e.g. ENOMEM) does not spin a core.
const ERROR_PAUSE: Duration = Duration::from_millis(10);

/// Serves `socket` until `shutdown`. With `pktinfo`, the socket is bound to
/// a wildcard address and replies are sent from each query's destination.
pub(super) async fn serve(
    socket: Arc<UdpSocket>,
    pktinfo: bool,
    ctx: Arc<Context>,
    mut shutdown: watch::Receiver<bool>,
) {
    // One byte more than any UDP payload, so an oversized datagram shows as
    // truncated rather than silently cut (MSG_TRUNC in sys::recv).
    let mut buf = vec![0u8; MAX_MESSAGE + 1];
    let mut out = Vec::with_capacity(MAX_MESSAGE);
    let mut stop = pin!(stopped(&mut shutdown));
    loop {
        let received = tokio::select! {
            biased;
            _ = &mut stop => return,
            r = recv(&socket, pktinfo, &mut buf) => r,
        };
        let (len, client, dest) = match received {
            Ok(r) => r,
            Err(e) => {
                bump(&ctx.stats.udp_errors);
                tracing::debug!(local = ?socket.local_addr().ok(), error = %e, "udp receive failed");
                if !is_per_datagram(&e) {
                    tokio::time::sleep(ERROR_PAUSE).await;
                }
                continue;
            }
        };
        bump(&ctx.stats.udp_queries);
        let request = Request {
            message: &buf[..len],
            transport: Transport::Udp,
            client,
        };
        if let Some(reply) = ctx.submit_update(&request) {
            // The answer waits for a journal fsync: not in this loop.
            let (socket, ctx) = (Arc::clone(&socket), Arc::clone(&ctx));
            tokio::spawn(async move {
                if let Ok(out) = reply.await {
                    answer(&socket, pktinfo, &out, client, dest, &ctx).await;
                }
            });
            continue;
        }
        if !ctx.respond(&request, &mut out) {
            ctx.log_query(&request, None);
            continue;
        }
        ctx.log_query(&request, Some(&out));
        answer(&socket, pktinfo, &out, client, dest, &ctx).await;
    }
}

/// Sends one response and counts it.
async fn answer(
    socket: &UdpSocket,
    pktinfo: bool,
    out: &[u8],
    client: SocketAddr,
    dest: Option<Dest>,
    ctx: &Context,
) {
    match send(socket, pktinfo, out, client, dest).await {
        Ok(_) => bump(&ctx.stats.udp_responses),
        Err(e) => {
            // Clients choose their source address, so this is their doing
            // (port 0, unreachable network, firewall): not a warning.
            bump(&ctx.stats.udp_errors);
            tracing::debug!(%client, error = %e, "udp send failed");
        }
    }
}

/// Errors that concern one datagram only; others get a pause before retrying.
fn is_per_datagram(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::InvalidData
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

async fn recv(
    socket: &UdpSocket,
    pktinfo: bool,
    buf: &mut [u8],
) -> io::Result<(usize, SocketAddr, Option<Dest>)> {
    if pktinfo {
        let r = socket
            .async_io(Interest::READABLE, || sys::recv(socket, buf))
            .await?;
        Ok((r.len, r.from, r.dest))
    } else {
        let (len, from) = socket.recv_from(buf).await?;
        Ok((len, from, None))
    }
}

async fn send(
    socket: &UdpSocket,
    pktinfo: bool,
    message: &[u8],
    client: SocketAddr,
    dest: Option<Dest>,
) -> io::Result<usize> {
    if pktinfo {
        socket
            .async_io(Interest::WRITABLE, || {
                sys::send(socket, message, client, dest)
            })
            .await
    } else {
        socket.send_to(message, client).await
    }
}
