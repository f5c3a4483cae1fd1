//! Compaction: many journaled ChangeSets of one zone folded into one with
//! the same net effect, so a journal of a name updated every few minutes
//! does not grow forever.

use std::collections::HashMap;

use crate::update::{ChangeSet, RRsetChange};
use crate::wire::rdata::Rtype;
use crate::zone::snapshot::RRset;

/// One ChangeSet with the net effect of `changes` (applied in order): per
/// RRset the first `before` and the last `after`; RRsets that end as they
/// began are left out. `None` when there is nothing.
pub fn merge(changes: &[ChangeSet]) -> Option<ChangeSet> {
    let first = changes.first()?;
    let last = changes.last()?;
    let mut order: Vec<(Box<[u8]>, Rtype)> = Vec::new();
    let mut net: HashMap<(Box<[u8]>, Rtype), RRsetChange> = HashMap::new();
    for c in changes.iter().flat_map(|cs| &cs.changes) {
        let key = (Box::from(c.owner.to_lowercase().as_wire()), c.rtype);
        match net.get_mut(&key) {
            Some(n) => n.after = c.after.clone(),
            None => {
                order.push(key.clone());
                net.insert(key, c.clone());
            }
        }
    }
    let changes = order
        .into_iter()
        .filter_map(|k| net.remove(&k))
        .filter(|c| !RRset::same(c.before.as_ref(), c.after.as_ref()))
        .collect();
    Some(ChangeSet {
        zone: first.zone.clone(),
        serial_before: first.serial_before,
        serial_after: last.serial_after,
        changes,
    })
}

#[cfg(test)]
mod tests {
    use super::super::codec::tests::{a_set, name, sample};
    use super::*;

    #[test]
    fn keeps_first_before_and_last_after() {
        let changes: Vec<ChangeSet> = (1..=3).map(sample).collect();
        let merged = merge(&changes).unwrap();
        assert_eq!((merged.serial_before, merged.serial_after), (1, 4));
        assert_eq!(merged.changes.len(), 3);
        let soa = merged
            .changes
            .iter()
            .find(|c| c.rtype == Rtype::SOA)
            .unwrap();
        assert_eq!(soa.before, sample(1).changes[2].before);
        assert_eq!(soa.after, sample(3).changes[2].after);
        assert!(merge(&[]).is_none());
    }

    #[test]
    fn changes_undone_are_left_out() {
        let set = |before, after| ChangeSet {
            zone: name("example.info"),
            serial_before: 1,
            serial_after: 2,
            changes: vec![RRsetChange {
                owner: name("tmp.example.info"),
                rtype: Rtype::A,
                before,
                after,
            }],
        };
        let added = set(None, Some(a_set(60, &[[198, 18, 0, 1]])));
        let removed = set(Some(a_set(60, &[[198, 18, 0, 1]])), None);
        let merged = merge(&[added.clone(), removed]).unwrap();
        assert!(merged.changes.is_empty());
        assert_eq!(merge(std::slice::from_ref(&added)).unwrap(), added);
    }
}
