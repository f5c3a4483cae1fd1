//! DNS wire format: names, record data, message parsing and writing.
pub mod name;
pub mod query;
pub mod rdata;
pub mod writer;

#[cfg(test)]
mod roundtrip_tests;
