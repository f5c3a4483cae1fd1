//! A small deterministic generator for randomized tests, seeded from
//! `DNSD_E2E_SEED` when set (to repeat a run) or from the clock.

/// xorshift64*.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// `name` with each letter's case flipped at random (RFC 4343 0x20).
    pub fn case(&mut self, name: &str) -> String {
        name.chars()
            .map(|c| {
                if c.is_ascii_alphabetic() && self.next_u64() & 1 == 1 {
                    (c as u8 ^ 0x20) as char
                } else {
                    c
                }
            })
            .collect()
    }
}

/// `DNSD_E2E_SEED`, else the clock (never 0: xorshift would stay at 0).
pub fn seed() -> u64 {
    std::env::var("DNSD_E2E_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        })
}
