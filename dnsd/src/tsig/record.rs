//! The TSIG resource record on the wire (RFC 8945 §4.2): finding it in a
//! message, reading it, and writing it and the "TSIG variables" the MAC
//! covers (§4.3.3).

use crate::wire::name::{MAX_NAME, Name};
use crate::wire::rdata::Rtype;

/// Class ANY, the only class a TSIG RR has (RFC 8945 §4.2).
pub const CLASS_ANY: u16 = 255;
/// Header offset of ARCOUNT (RFC 1035 §4.1.1).
pub const ARCOUNT_AT: usize = 10;
const HEADER_LEN: usize = 12;

/// A TSIG RR as received. Names are as the sender wrote them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TsigRecord {
    /// Offset of the record's owner name: the signed part of the message
    /// ends here.
    pub start: usize,
    pub key_name: Name,
    pub algorithm: Name,
    /// 48 bits on the wire.
    pub time_signed: u64,
    pub fudge: u16,
    pub mac: Vec<u8>,
    pub original_id: u16,
    pub error: u16,
    pub other: Vec<u8>,
}

/// The message has no sound place for a TSIG: a TSIG not last, two of
/// them, a malformed record, or bytes the sections do not account for.
/// Answered with FORMERR (RFC 8945 §5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Misplaced;

/// Walks every section and returns the TSIG RR if the last additional
/// record is one. Never panics, whatever the bytes.
pub fn find(msg: &[u8]) -> Result<Option<TsigRecord>, Misplaced> {
    let header = msg.get(..HEADER_LEN).ok_or(Misplaced)?;
    let count = |i: usize| u16::from_be_bytes([header[i], header[i + 1]]) as usize;
    let (qd, an, ns, ar) = (count(4), count(6), count(8), count(10));
    let mut pos = HEADER_LEN;
    for _ in 0..qd {
        pos = read_name(msg, pos).ok_or(Misplaced)?.1 + 4;
    }
    let total = an + ns + ar;
    let mut found = None;
    for i in 0..total {
        let start = pos;
        let (owner, after_owner) = read_name(msg, pos).ok_or(Misplaced)?;
        let fixed = msg.get(after_owner..after_owner + 10).ok_or(Misplaced)?;
        let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let class = u16::from_be_bytes([fixed[2], fixed[3]]);
        let ttl = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
        let rdlen = u16::from_be_bytes([fixed[8], fixed[9]]) as usize;
        let rdata_at = after_owner + 10;
        let end = rdata_at + rdlen;
        msg.get(rdata_at..end).ok_or(Misplaced)?;
        pos = end;
        if rtype != Rtype::TSIG.0 {
            continue;
        }
        // RFC 8945 §5.2: only the last additional record may be a TSIG,
        // class ANY, TTL 0 (§4.2).
        if i + 1 != total || ar == 0 || class != CLASS_ANY || ttl != 0 {
            return Err(Misplaced);
        }
        found = Some(read_rdata(msg, start, owner, rdata_at, end).ok_or(Misplaced)?);
    }
    if found.is_some() && pos != msg.len() {
        return Err(Misplaced);
    }
    Ok(found)
}

fn read_rdata(
    msg: &[u8],
    start: usize,
    key_name: Name,
    rdata_at: usize,
    end: usize,
) -> Option<TsigRecord> {
    let (algorithm, mut pos) = read_name(msg, rdata_at)?;
    let rd = msg.get(..end)?;
    let fixed = rd.get(pos..pos + 10)?;
    let time_signed = fixed[..6]
        .iter()
        .fold(0u64, |t, &b| (t << 8) | u64::from(b));
    let fudge = u16::from_be_bytes([fixed[6], fixed[7]]);
    let mac_len = u16::from_be_bytes([fixed[8], fixed[9]]) as usize;
    pos += 10;
    let mac = rd.get(pos..pos + mac_len)?.to_vec();
    pos += mac_len;
    let tail = rd.get(pos..pos + 6)?;
    let original_id = u16::from_be_bytes([tail[0], tail[1]]);
    let error = u16::from_be_bytes([tail[2], tail[3]]);
    let other_len = u16::from_be_bytes([tail[4], tail[5]]) as usize;
    pos += 6;
    let other = rd.get(pos..pos + other_len)?.to_vec();
    if pos + other_len != end {
        return None;
    }
    Some(TsigRecord {
        start,
        key_name,
        algorithm,
        time_signed,
        fudge,
        mac,
        original_id,
        error,
        other,
    })
}

/// Reads a possibly compressed name at `start` (RFC 1035 §4.1.4); returns
/// it and the offset after it. Every pointer must go below the start of
/// the label run it ends, so chains always terminate, and not into the
/// header: names read there would change when signing bumps ARCOUNT.
fn read_name(msg: &[u8], start: usize) -> Option<(Name, usize)> {
    let mut wire = Vec::with_capacity(32);
    let mut pos = start;
    let mut run_start = start;
    let mut after = None;
    loop {
        let len = *msg.get(pos)? as usize;
        match len & 0xC0 {
            0x00 => {
                wire.extend_from_slice(msg.get(pos..pos + 1 + len)?);
                if wire.len() > MAX_NAME {
                    return None;
                }
                pos += 1 + len;
                if len == 0 {
                    break;
                }
            }
            0xC0 => {
                let target = ((len & 0x3F) << 8) | *msg.get(pos + 1)? as usize;
                after.get_or_insert(pos + 2);
                if target >= run_start || target < HEADER_LEN {
                    return None;
                }
                run_start = target;
                pos = target;
            }
            _ => return None,
        }
    }
    Some((Name::from_wire_vec(wire).ok()?, after.unwrap_or(pos)))
}

/// The fields of a TSIG RR that dnsd writes; the MAC is added separately.
pub struct Variables<'a> {
    pub key_name: &'a Name,
    /// Canonical wire form of the algorithm name.
    pub algorithm: &'a [u8],
    pub time_signed: u64,
    pub fudge: u16,
    pub error: u16,
    pub other: &'a [u8],
}

impl Variables<'_> {
    /// The "TSIG variables" in their digest form (RFC 8945 §4.3.3): names
    /// lower-cased and uncompressed, class ANY, TTL 0.
    pub fn digest_form(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.other.len());
        out.extend_from_slice(self.key_name.to_lowercase().as_wire());
        out.extend_from_slice(&CLASS_ANY.to_be_bytes());
        out.extend_from_slice(&0u32.to_be_bytes());
        out.extend_from_slice(&self.algorithm.to_ascii_lowercase());
        out.extend_from_slice(&time48(self.time_signed));
        out.extend_from_slice(&self.fudge.to_be_bytes());
        out.extend_from_slice(&self.error.to_be_bytes());
        out.extend_from_slice(&(self.other.len() as u16).to_be_bytes());
        out.extend_from_slice(self.other);
        out
    }

    /// Appends the TSIG RR carrying `mac` to `msg` and counts it in
    /// ARCOUNT. `msg` must hold at least a header and ARCOUNT must not
    /// be at its maximum; otherwise nothing is written and `false` returned.
    pub fn append_to(&self, msg: &mut Vec<u8>, mac: &[u8], original_id: u16) -> bool {
        let Some(arcount) = msg
            .get(ARCOUNT_AT..ARCOUNT_AT + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .and_then(|c| c.checked_add(1))
        else {
            return false;
        };
        let rdlen = self.algorithm.len() + 6 + 2 + 2 + mac.len() + 2 + 2 + 2 + self.other.len();
        let Ok(rdlen) = u16::try_from(rdlen) else {
            return false;
        };
        msg[ARCOUNT_AT..ARCOUNT_AT + 2].copy_from_slice(&arcount.to_be_bytes());
        msg.extend_from_slice(self.key_name.as_wire());
        msg.extend_from_slice(&Rtype::TSIG.0.to_be_bytes());
        msg.extend_from_slice(&CLASS_ANY.to_be_bytes());
        msg.extend_from_slice(&0u32.to_be_bytes());
        msg.extend_from_slice(&rdlen.to_be_bytes());
        msg.extend_from_slice(self.algorithm);
        msg.extend_from_slice(&time48(self.time_signed));
        msg.extend_from_slice(&self.fudge.to_be_bytes());
        msg.extend_from_slice(&(mac.len() as u16).to_be_bytes());
        msg.extend_from_slice(mac);
        msg.extend_from_slice(&original_id.to_be_bytes());
        msg.extend_from_slice(&self.error.to_be_bytes());
        msg.extend_from_slice(&(self.other.len() as u16).to_be_bytes());
        msg.extend_from_slice(self.other);
        true
    }
}

/// A time as the 48-bit unsigned seconds of RFC 8945 §4.2.
pub fn time48(t: u64) -> [u8; 6] {
    let b = t.to_be_bytes();
    [b[2], b[3], b[4], b[5], b[6], b[7]]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::parse_text(s).unwrap()
    }

    /// A query for `a.` with the given additional records appended raw.
    fn with_additional(records: &[&[u8]]) -> Vec<u8> {
        let mut m = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, records.len() as u8];
        m.extend_from_slice(b"\x01a\x00\x00\x01\x00\x01");
        for r in records {
            m.extend_from_slice(r);
        }
        m
    }

    /// Fields of a TSIG RR for key `Key.Example.`, fudge 300.
    fn vars<'a>(
        algorithm: &'a [u8],
        time_signed: u64,
        error: u16,
        other: &'a [u8],
    ) -> Variables<'a> {
        static KEY: std::sync::LazyLock<Name> = std::sync::LazyLock::new(|| n("Key.Example"));
        Variables {
            key_name: &KEY,
            algorithm,
            time_signed,
            fudge: 300,
            error,
            other,
        }
    }

    fn tsig_rr(mac: &[u8]) -> Vec<u8> {
        let vars = vars(b"\x0bhmac-sha256\x00", 0x0102_0304_0506, 0, b"");
        let mut m = vec![0; 12];
        assert!(vars.append_to(&mut m, mac, 0x1234));
        m.split_off(12)
    }

    const OPT: &[u8] = &[0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0];

    #[test]
    fn finds_a_trailing_tsig() {
        let rr = tsig_rr(&[7; 32]);
        let m = with_additional(&[OPT, &rr]);
        let t = find(&m).unwrap().unwrap();
        assert_eq!(t.start, m.len() - rr.len());
        assert_eq!(t.key_name.to_string(), "Key.Example.");
        assert_eq!(t.algorithm.to_string(), "hmac-sha256.");
        assert_eq!(t.time_signed, 0x0102_0304_0506);
        assert_eq!((t.fudge, t.original_id, t.error), (300, 0x1234, 0));
        assert_eq!(t.mac, vec![7; 32]);
        assert!(t.other.is_empty());
        assert_eq!(find(&with_additional(&[OPT])), Ok(None));
    }

    #[test]
    fn misplaced_tsigs_are_formerr() {
        // Checklist 66: not last, or two of them.
        let rr = tsig_rr(&[7; 32]);
        assert_eq!(find(&with_additional(&[&rr, OPT])), Err(Misplaced));
        assert_eq!(find(&with_additional(&[&rr, &rr])), Err(Misplaced));
        // In the answer section (ANCOUNT 1, ARCOUNT 0).
        let mut m = with_additional(&[&rr]);
        m[7] = 1;
        m[11] = 0;
        assert_eq!(find(&m), Err(Misplaced));
        // Trailing bytes, a cut record, a bad class, a nonzero TTL.
        let mut m = with_additional(&[&rr]);
        m.push(0);
        assert_eq!(find(&m), Err(Misplaced));
        let m = with_additional(&[&rr]);
        assert_eq!(find(&m[..m.len() - 1]), Err(Misplaced));
        let class_at = n("Key.Example").wire_len() + 2;
        let mut bad = rr.clone();
        bad[class_at + 1] = 1;
        assert_eq!(find(&with_additional(&[&bad])), Err(Misplaced));
        let mut bad = rr.clone();
        bad[class_at + 5] = 1;
        assert_eq!(find(&with_additional(&[&bad])), Err(Misplaced));
        // RDLENGTH one more than the fields: other data does not fill it.
        let mut bad = rr.clone();
        bad[class_at + 7] += 1;
        bad.push(0);
        assert_eq!(find(&with_additional(&[&bad])), Err(Misplaced));
    }

    #[test]
    fn compressed_owner_is_read_and_loops_are_refused() {
        let rr = tsig_rr(&[7; 32]);
        let owner_len = n("Key.Example").wire_len();
        // Owner "a." by pointer to the question name at offset 12.
        let mut ptr = vec![0xC0, 12];
        ptr.extend_from_slice(&rr[owner_len..]);
        let t = find(&with_additional(&[&ptr])).unwrap().unwrap();
        assert_eq!(t.key_name, n("a"));
        // A pointer to itself, and one forward.
        let m = with_additional(&[&ptr]);
        let at = m.len() - ptr.len();
        let mut looped = m.clone();
        looped[at + 1] = at as u8;
        assert_eq!(find(&looped), Err(Misplaced));
        let mut fwd = m.clone();
        fwd[at + 1] = (at + 4) as u8;
        assert_eq!(find(&fwd), Err(Misplaced));
        // Into the header: offset 10 (ARCOUNT's high byte, 0) reads as
        // the root name. Fuzzing found such a name that signing changed.
        let mut header = m.clone();
        header[at + 1] = 10;
        assert_eq!(find(&header), Err(Misplaced));
    }

    #[test]
    fn digest_form_is_canonical() {
        let vars = vars(
            b"\x0bHMAC-sha256\x00",
            0x0000_5f00_0001,
            18,
            &[0, 0, 0x5f, 0, 0, 9],
        );
        let mut expect = b"\x03key\x07example\x00\x00\xff\x00\x00\x00\x00".to_vec();
        expect.extend_from_slice(b"\x0bhmac-sha256\x00");
        expect.extend_from_slice(&[0, 0, 0x5f, 0, 0, 1, 0x01, 0x2c, 0, 18, 0, 6]);
        expect.extend_from_slice(&[0, 0, 0x5f, 0, 0, 9]);
        assert_eq!(vars.digest_form(), expect);
    }

    proptest::proptest! {
        #[test]
        fn find_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let _ = find(&bytes);
        }
    }
}
