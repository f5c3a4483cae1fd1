//! dnsd: an authoritative DNS server whose common answers come from an XDP
//! program, and everything else from a tokio server. Data flows one way:
//! config + zone sources → [`zone::compile`] → one immutable snapshot →
//! the answer engine and the XDP fast-path table.
pub mod config;
pub mod control;
pub mod dynamic;
pub mod dyndns;
pub mod engine;
pub mod fastpath;
pub mod journal;
pub mod reload;
pub mod server;
pub mod tsig;
pub mod update;
pub mod wire;
pub mod xdp;
pub mod xdp_service;
pub mod zone;
