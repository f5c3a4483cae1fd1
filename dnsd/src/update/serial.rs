//! Serial number arithmetic (RFC 1982) for the SOA serial of updated zones.

/// True if `a` is greater than `b` in RFC 1982 §3.2 terms. When they are
/// exactly 2^31 apart the comparison is undefined; that is "not greater".
pub fn newer(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 1 << 31
}

/// The serial after `s`: `s + 1` modulo 2^32 (RFC 1982 §3.1).
pub fn next(s: u32) -> u32 {
    s.wrapping_add(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1982_comparison_wraps() {
        assert!(newer(2, 1));
        assert!(!newer(1, 2));
        assert!(!newer(7, 7));
        // RFC 1982 §3.2: 0 is greater than 2^32 - 1.
        assert!(newer(0, u32::MAX));
        assert!(!newer(u32::MAX, 0));
        assert!(newer(1 << 31, 1));
        // Exactly 2^31 apart: undefined, so neither is greater.
        assert!(!newer(1 << 31, 0));
        assert!(!newer(0, 1 << 31));
        assert_eq!(next(u32::MAX), 0);
        assert_eq!(next(41), 42);
    }
}
