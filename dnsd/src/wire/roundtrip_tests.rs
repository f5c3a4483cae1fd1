//! Property tests: encode/decode round trips of names, RDATA and compressed
//! messages, each decoded by code independent of the encoder under test.

use proptest::prelude::*;

use super::name::Name;
use super::rdata::{Rdata, Rtype};
use super::writer::MessageWriter;

/// Labels of 1–63 bytes, any byte values, 1–6 labels: always a valid name.
fn labels() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 1..=20), 1..=6)
}

/// Reads a possibly compressed name at `pos`: (labels, end of the name in place).
fn decompress(msg: &[u8], mut pos: usize) -> (Vec<Vec<u8>>, usize) {
    let mut out = Vec::new();
    let mut end = None;
    loop {
        let len = msg[pos] as usize;
        if len & 0xC0 == 0xC0 {
            let target = ((len & 0x3F) << 8) | msg[pos + 1] as usize;
            assert!(target < pos, "pointer must point backwards");
            assert!(target < 0x4000);
            end.get_or_insert(pos + 2);
            pos = target;
            continue;
        }
        if len == 0 {
            return (out, end.unwrap_or(pos + 1));
        }
        out.push(msg[pos + 1..pos + 1 + len].to_vec());
        pos += 1 + len;
    }
}

proptest! {
    /// wire → text → wire is the identity (escapes cover every byte).
    #[test]
    fn name_text_round_trip(ls in labels()) {
        let name = Name::from_labels(ls.iter().map(Vec::as_slice)).unwrap();
        let text = name.to_string();
        let back = Name::parse_text(&text).unwrap();
        prop_assert_eq!(back.as_wire(), name.as_wire());
    }

    /// RDATA: from_wire(to_wire(x)) == x for the structured types.
    #[test]
    fn rdata_wire_round_trip(ls in labels(), pref in any::<u16>(), port in any::<u16>(), ip in any::<[u8; 4]>()) {
        let name = Name::from_labels(ls.iter().map(Vec::as_slice)).unwrap();
        let cases = [
            Rdata::A(ip.into()),
            Rdata::Ns(name.clone()),
            Rdata::Cname(name.clone()),
            Rdata::Mx { preference: pref, exchange: name.clone() },
            Rdata::Srv { priority: pref, weight: 1, port, target: name.clone() },
        ];
        for rd in cases {
            let wire = rd.to_wire();
            let back = Rdata::from_wire(rd.rtype(), &wire).unwrap();
            prop_assert_eq!(back.to_wire(), wire);
            prop_assert_eq!(back, rd);
        }
    }

    /// Names written with compression decompress to the same labels, in any
    /// order and mix, with pointers only backwards and below 0x4000.
    #[test]
    fn compressed_names_decompress(names in prop::collection::vec(labels(), 1..12), pad in 0usize..0x4100) {
        let names: Vec<Name> = names
            .iter()
            .map(|ls| Name::from_labels(ls.iter().map(Vec::as_slice)).unwrap())
            .collect();
        let mut buf = Vec::new();
        let mut w = MessageWriter::new(&mut buf);
        w.put_bytes(&vec![0; pad]);
        let mut starts = Vec::new();
        for n in &names {
            starts.push(w.len());
            w.put_record(n, 1, &Rdata::Cname(n.clone()));
        }
        let msg = w.bytes().to_vec();
        for (n, &start) in names.iter().zip(&starts) {
            let (owner, end) = decompress(&msg, start);
            let want: Vec<Vec<u8>> = n.labels().map(<[u8]>::to_vec).collect();
            prop_assert!(owner.iter().map(|l| l.to_ascii_lowercase()).eq(want.iter().map(|l| l.to_ascii_lowercase())));
            // type, class, ttl, rdlength, then the CNAME target.
            let rdlen = u16::from_be_bytes([msg[end + 8], msg[end + 9]]) as usize;
            let (target, tend) = decompress(&msg, end + 10);
            prop_assert_eq!(tend, end + 10 + rdlen);
            prop_assert!(target.iter().map(|l| l.to_ascii_lowercase()).eq(want.iter().map(|l| l.to_ascii_lowercase())));
            prop_assert_eq!(u16::from_be_bytes([msg[end], msg[end + 1]]), Rtype::CNAME.0);
        }
    }
}
