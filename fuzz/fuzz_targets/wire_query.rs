//! The query parser must accept or reject any bytes without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = dnsd::wire::query::parse(data);
});
