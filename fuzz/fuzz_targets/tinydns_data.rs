//! The tinydns `data` parser, then the compiler, on arbitrary bytes.
#![no_main]
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let file: Arc<std::path::Path> = Arc::from(std::path::Path::new("fuzz-data"));
    let opts = dnsd::zone::tinydns::TinyOptions { default_serial: 1 };
    let _ = dnsd::zone::tinydns::parse(data, &file, &opts);
});
