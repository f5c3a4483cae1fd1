//! TSIG checking must never panic, whatever the bytes: raw input, and
//! input signed with a configured key (so the MAC path is reached), with
//! the answers built for every outcome. A message signed here and not
//! altered afterwards must verify when its records parse.
#![no_main]
use std::sync::OnceLock;

use dnsd::tsig::{self, Algorithm, Checked, Key, KeyRing};
use dnsd::wire::name::Name;
use libfuzzer_sys::fuzz_target;

const NOW: u64 = 1_800_000_000;

fn key() -> &'static Key {
    static KEY: OnceLock<Key> = OnceLock::new();
    KEY.get_or_init(|| {
        let name = Name::parse_text("fuzz.key").expect("key name");
        Key::new(name, Algorithm::HmacSha256, b"fuzz secret".to_vec())
    })
}

fn ring() -> &'static KeyRing {
    static RING: OnceLock<KeyRing> = OnceLock::new();
    RING.get_or_init(|| KeyRing::new(vec![key().clone()]))
}

fn answer(msg: &[u8]) {
    let mut resp = msg.to_vec();
    match tsig::check_request(msg, ring(), NOW) {
        Checked::Signed(v) => tsig::sign_response(&v, &mut resp, NOW),
        Checked::Failed(f) => tsig::finish_error_response(&f, &mut resp, NOW),
        Checked::Unsigned => {}
    }
}

fuzz_target!(|data: &[u8]| {
    answer(data);
    let mut signed = data.to_vec();
    if tsig::sign_request(key(), &mut signed, NOW, 300).is_some() {
        let unsigned_ok = matches!(tsig::check_request(data, ring(), NOW), Checked::Unsigned);
        let checked = tsig::check_request(&signed, ring(), NOW);
        // Bytes after the last record would be read as the start of the
        // TSIG RR, so only well-formed input must round-trip.
        if unsigned_ok && dnsd::wire::query::parse(data).is_ok() {
            assert!(matches!(checked, Checked::Signed(_)), "{checked:?}");
        }
        answer(&signed);
    }
});
