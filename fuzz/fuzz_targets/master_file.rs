//! The RFC 1035 master-file loader on arbitrary text.
#![no_main]
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let file: Arc<std::path::Path> = Arc::from(std::path::Path::new("/nonexistent/fuzz.zone"));
    let origin = dnsd::wire::name::Name::parse_text("example.com").unwrap();
    let _ = dnsd::zone::master::parse(text, &file, &origin, 3600);
});
