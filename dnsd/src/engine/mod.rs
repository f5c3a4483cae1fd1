//! The answer engine: one query in, one response out.

use std::net::SocketAddr;

/// How a query reached us; it decides the size limit and truncation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// One query as the server received it.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The DNS message, untrusted bytes.
    pub message: &'a [u8],
    pub transport: Transport,
    pub client: SocketAddr,
}

/// Anything that turns a query into a response (the engine, or a test double).
pub trait Responder: Send + Sync + 'static {
    /// Writes the response into `out` (cleared first) and returns true, or
    /// returns false when nothing must be sent (e.g. QR=1, unparsable header).
    fn respond(&self, request: &Request<'_>, out: &mut Vec<u8>) -> bool;
}

pub mod lookup;
pub mod render;

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::wire::query::{self, CLASS_ANY, CLASS_IN, Rejection, rcode};
use crate::wire::rdata::Rtype;
use crate::zone::snapshot::Snapshot;

/// Settings of the engine that come from the config.
#[derive(Clone, Copy, Debug)]
pub struct EngineSettings {
    /// UDP size we advertise and the most we send over UDP to EDNS clients.
    pub edns_udp_size: u16,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            edns_udp_size: 1232,
        }
    }
}

/// The answer engine over the current snapshot; reloads swap the snapshot
/// atomically, so every query sees one whole version.
pub struct Engine {
    snapshot: ArcSwap<Snapshot>,
    settings: EngineSettings,
}

impl Engine {
    pub fn new(snapshot: Snapshot, settings: EngineSettings) -> Engine {
        Engine {
            snapshot: ArcSwap::from_pointee(snapshot),
            settings,
        }
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// Replaces the snapshot; queries in flight finish on the old one.
    pub fn replace(&self, snapshot: Snapshot) {
        self.snapshot.store(Arc::new(snapshot));
    }
}

impl Responder for Engine {
    fn respond(&self, request: &Request<'_>, out: &mut Vec<u8>) -> bool {
        let snapshot = self.snapshot.load();
        // tinydns locations: the client's address picks the view.
        let view = snapshot.for_client(request.client.ip());
        respond(
            view,
            &self.settings,
            request.message,
            request.transport,
            out,
        )
    }
}

/// Answers one message from `snap`: the whole query path, from untrusted
/// bytes to response bytes. Returns false when nothing must be sent.
pub fn respond(
    snap: &Snapshot,
    settings: &EngineSettings,
    msg: &[u8],
    transport: Transport,
    out: &mut Vec<u8>,
) -> bool {
    respond_traced(snap, settings, msg, transport, out, &mut None)
}

/// [`respond`], also setting `seen` to the lookup's kind and wildcard flag
/// when the response comes from a lookup (the fast-path table builder
/// needs both; this spares it a second lookup per rendering).
pub fn respond_traced(
    snap: &Snapshot,
    settings: &EngineSettings,
    msg: &[u8],
    transport: Transport,
    out: &mut Vec<u8>,
    seen: &mut Option<(lookup::Kind, bool)>,
) -> bool {
    let udp_size = settings.edns_udp_size;
    let query = match query::parse(msg) {
        Ok(q) => q,
        Err(Rejection::Drop) => return false,
        Err(Rejection::Error {
            header,
            rcode,
            question,
            edns,
        }) => {
            let qlen = question.map(|(_, len)| len);
            render::render_error(&header, msg, rcode, qlen, edns, udp_size, out);
            return true;
        }
    };
    let refuse = |rcode: u16, out: &mut Vec<u8>| {
        let qlen = Some(query.question_len);
        render::render_error(&query.header, msg, rcode, qlen, query.edns, udp_size, out);
        true
    };
    let q = &query.question;
    // Checklist 9: only class IN is served; ANY is taken as IN.
    if q.qclass != CLASS_IN && q.qclass != CLASS_ANY {
        return refuse(rcode::REFUSED, out);
    }
    // Zone transfers are not served yet (checklist 50).
    if q.qtype == Rtype::AXFR || q.qtype == Rtype::IXFR {
        return refuse(rcode::NOTIMP, out);
    }
    let answer = lookup::lookup(snap, &q.qname, q.qtype);
    *seen = Some((answer.kind, answer.wildcard));
    if answer.kind == lookup::Kind::Refused {
        return refuse(rcode::REFUSED, out);
    }
    let limit = render::size_limit(query.edns, udp_size, transport == Transport::Tcp);
    render::render(&query, msg, &answer, limit, udp_size, out);
    true
}

#[cfg(test)]
mod tests;
