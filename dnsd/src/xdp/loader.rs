//! Loads the embedded XDP program, configures it, attaches it and reads its counters.

use std::{collections::BTreeSet, fmt, net::IpAddr, time::Duration};

use aya::{
    Ebpf, EbpfLoader,
    maps::{Array, ArrayOfMaps, HashMap, LpmTrie, MapData, PerCpuArray, lpm_trie::Key as LpmKey},
    programs::{ProgramError, TestRun as _, TestRunOptions, Xdp, XdpMode, xdp::XdpLinkId},
};
use dnsd_common::{
    ALLOW_MAX_ENTRIES, CONFIG_INDEX, COUNTER_NAMES, Config, HINT_MIN_NAME_LEN, MAP_ALLOW_V4,
    MAP_ALLOW_V6, MAP_CONFIG, MAP_COUNTERS, MAP_HINTS, MAP_TABLES, PROGRAM_NAME, PROGRAM_SWAP_NAME,
    TABLE_SLOT,
    fastpath::{
        COLLISION_NAME, Entry, KIND_EXACT, KIND_NODE, Key, MAX_FIXUPS, MapKey, NODE_PASS, TAIL_CAP,
    },
};
use tracing::{debug, warn};

use super::{OBJECT, XdpError};
use crate::fastpath::Table;

/// `BPF_NOEXIST`: a key inserted twice into a new table is an error.
const BPF_NOEXIST: u64 = 1;

/// One version of the table: the inner map of `TABLES`.
pub(crate) type TableMap = HashMap<MapData, MapKey, Entry>;

/// A new, unpublished inner map holding `table` (entries and zone
/// NXDOMAIN entries), sized for it.
pub(crate) fn table_map(table: &Table) -> Result<TableMap, XdpError> {
    validate_table(table)?;
    let total = table.entries.len() + table.zone_nx.len();
    let max_entries = u32::try_from(total.max(1))
        .map_err(|_| XdpError::InvalidTable(format!("{total} entries do not fit a BPF map")))?;
    let mut inner: TableMap = HashMap::create(max_entries, 0).map_err(|source| {
        map_error(&format!("creating a table map for {total} entries"), source)
    })?;
    for (key, entry) in &table.entries {
        // Keys whose map keys collide all hold the same collision entry
        // (the builder's doing): the first insert stores it, the others
        // overwrite it with itself. Any other duplicate is a builder bug.
        let flags = if entry.name == COLLISION_NAME {
            0
        } else {
            BPF_NOEXIST
        };
        inner
            .insert(key.map_key(), entry, flags)
            .map_err(|source| {
                map_error(
                    &format!(
                        "inserting {} into the new table (duplicate key?)",
                        describe_key(key)
                    ),
                    source,
                )
            })?;
    }
    for (zone, entry) in table.zone_nx.iter().enumerate() {
        inner
            .insert(MapKey::zone_nx(zone as u16), entry, BPF_NOEXIST)
            .map_err(|source| {
                map_error(
                    &format!("inserting the NXDOMAIN entry of zone {zone}"),
                    source,
                )
            })?;
    }
    Ok(inner)
}

/// How to attach to an interface.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum AttachMode {
    /// Native (driver) mode; if the driver refuses, fall back to generic mode
    /// with a warning.
    #[default]
    NativeOrGeneric,
    /// Native (driver) mode only; fail if the driver refuses.
    Native,
    /// Generic (SKB) mode: works on every interface, runs after the kernel
    /// allocated the skb, so it is much slower than native.
    Generic,
}

impl fmt::Display for AttachMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NativeOrGeneric => "native (generic fallback)",
            Self::Native => "native",
            Self::Generic => "generic (skb)",
        })
    }
}

struct Attachment {
    interface: String,
    mode: AttachMode,
    link: XdpLinkId,
}

/// The loaded XDP program with its maps. Dropping it detaches it from every
/// interface it was attached to and unloads it.
///
/// Until [`Self::load_table`] and [`Self::set_addresses`] have been called
/// the program answers nothing (every DNS frame is passed).
pub struct XdpProgram {
    ebpf: Ebpf,
    attachments: Vec<Attachment>,
    /// Whether the benchmark baseline `dnsd_swap` has been loaded.
    swap_loaded: bool,
    /// Entries in the table currently published (0 before the first).
    table_len: usize,
}

impl fmt::Debug for XdpProgram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XdpProgram")
            .field(
                "attached",
                &self
                    .attachments
                    .iter()
                    .map(|a| (a.interface.as_str(), a.mode))
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl XdpProgram {
    /// Loads the embedded program into the kernel (verifier included) and
    /// writes `config`. Needs `CAP_BPF` (root). Raises `RLIMIT_MEMLOCK` first.
    pub fn load(config: Config) -> Result<Self, XdpError> {
        Self::load_object(OBJECT, config)
    }

    /// Like [`Self::load`] for another object file's bytes (must be 8-byte aligned).
    pub fn load_object(object: &[u8], config: Config) -> Result<Self, XdpError> {
        if object.is_empty() {
            return Err(XdpError::NotBuilt);
        }
        raise_memlock_limit();
        let mut ebpf = EbpfLoader::new()
            .load(object)
            .map_err(|source| XdpError::Object {
                operation: "parsing the eBPF object and creating its maps",
                source: Box::new(source),
            })?;
        xdp_mut(&mut ebpf)?
            .load()
            .map_err(|e| XdpError::program("loading the XDP program", e))?;
        let mut program = Self {
            ebpf,
            attachments: Vec::new(),
            swap_loaded: false,
            table_len: 0,
        };
        program.set_config(config)?;
        Ok(program)
    }

    /// Publishes `table` as one whole new version: a new inner hash map,
    /// sized for the table, is filled completely and then swapped into the
    /// `TABLES` slot with a single map update. Every packet reads the slot
    /// once, so it sees either the old table or the new one, never a mix
    /// and never an empty or half-filled one; packets in flight finish on
    /// the old map, which the kernel frees after the last of them (RCU).
    ///
    /// Entries are checked for what the program relies on (tail and fixups
    /// in range, zone indexes fitting `u16`); a duplicate key is an error.
    pub fn load_table(&mut self, table: &Table) -> Result<(), XdpError> {
        let inner = table_map(table)?;
        // A hint above the true value only passes queries, one below only
        // costs probes: lower it before the swap, raise it after.
        let min_len = min_name_len(table);
        let current = self.hint(HINT_MIN_NAME_LEN)?;
        self.set_hint(HINT_MIN_NAME_LEN, current.min(min_len))?;
        let map = self.ebpf.map_mut(MAP_TABLES).ok_or(XdpError::Missing {
            kind: "map",
            name: MAP_TABLES,
        })?;
        let mut outer: ArrayOfMaps<&mut MapData, TableMap> = ArrayOfMaps::try_from(map)
            .map_err(|source| map_error("opening the table slot map", source))?;
        outer
            .set(TABLE_SLOT, &inner, 0)
            .map_err(|source| map_error("publishing the new table", source))?;
        self.set_hint(HINT_MIN_NAME_LEN, min_len)?;
        // Our descriptor of the new map closes here; the slot keeps it alive.
        self.table_len = table.entries.len() + table.zone_nx.len();
        debug!(
            entries = table.entries.len(),
            zones = table.zone_nx.len(),
            "XDP table published"
        );
        Ok(())
    }

    /// The kernel id of the `TABLES` map (tests swap tables from another
    /// thread through it).
    #[cfg(test)]
    pub(crate) fn tables_map_id(&self) -> Result<u32, XdpError> {
        let map = self.map(MAP_TABLES)?;
        let data = match map {
            aya::maps::Map::ArrayOfMaps(data) => data,
            _ => {
                return Err(XdpError::Missing {
                    kind: "map",
                    name: MAP_TABLES,
                });
            }
        };
        data.info()
            .map(|info| info.id())
            .map_err(|source| map_error("reading the table slot map's id", source))
    }

    /// Entries (exact, node and zone NXDOMAIN) of the table last published.
    pub fn table_len(&self) -> usize {
        self.table_len
    }

    /// Replaces the allow-list: only queries to these destination addresses
    /// are answered (an empty list answers nothing). New addresses are
    /// added before stale ones are removed, so an address kept in both
    /// lists never stops being answered.
    pub fn set_addresses(&mut self, addresses: &[IpAddr]) -> Result<(), XdpError> {
        let v4: BTreeSet<[u8; 4]> = addresses
            .iter()
            .filter_map(|a| match a {
                IpAddr::V4(a) => Some(a.octets()),
                IpAddr::V6(_) => None,
            })
            .collect();
        let v6: BTreeSet<[u8; 16]> = addresses
            .iter()
            .filter_map(|a| match a {
                IpAddr::V6(a) => Some(a.octets()),
                IpAddr::V4(_) => None,
            })
            .collect();
        for (name, count) in [(MAP_ALLOW_V4, v4.len()), (MAP_ALLOW_V6, v6.len())] {
            if count > ALLOW_MAX_ENTRIES as usize {
                return Err(XdpError::InvalidTable(format!(
                    "{count} addresses for {name}; at most {ALLOW_MAX_ENTRIES}"
                )));
            }
        }
        replace_trie(&mut self.ebpf, MAP_ALLOW_V4, 32, &v4)?;
        replace_trie(&mut self.ebpf, MAP_ALLOW_V6, 128, &v6)?;
        Ok(())
    }

    /// The allow-listed addresses, IPv4 first.
    pub fn addresses(&self) -> Result<Vec<IpAddr>, XdpError> {
        let mut out = Vec::new();
        let v4: LpmTrie<&MapData, [u8; 4], u8> = LpmTrie::try_from(self.map(MAP_ALLOW_V4)?)
            .map_err(|source| map_error("opening the IPv4 allow-list", source))?;
        for key in v4.keys() {
            let key = key.map_err(|source| map_error("reading the IPv4 allow-list", source))?;
            out.push(IpAddr::from(key.data()));
        }
        let v6: LpmTrie<&MapData, [u8; 16], u8> = LpmTrie::try_from(self.map(MAP_ALLOW_V6)?)
            .map_err(|source| map_error("opening the IPv6 allow-list", source))?;
        for key in v6.keys() {
            let key = key.map_err(|source| map_error("reading the IPv6 allow-list", source))?;
            out.push(IpAddr::from(key.data()));
        }
        Ok(out)
    }

    /// Table hint `slot` (see `dnsd_common::MAP_HINTS`).
    pub(crate) fn hint(&self, slot: u32) -> Result<u32, XdpError> {
        self.array_get(MAP_HINTS, "the hints map", slot)
    }

    fn set_hint(&mut self, slot: u32, value: u32) -> Result<(), XdpError> {
        self.array_set(MAP_HINTS, "the hints map", slot, value)
    }

    /// Writes the runtime configuration (e.g. the DNS port); takes effect for
    /// the next packet.
    pub fn set_config(&mut self, config: Config) -> Result<(), XdpError> {
        self.array_set(MAP_CONFIG, "the config map", CONFIG_INDEX, config)
    }

    /// The configuration currently in the map.
    pub fn config(&self) -> Result<Config, XdpError> {
        self.array_get(MAP_CONFIG, "the config map", CONFIG_INDEX)
    }

    /// Element `index` of the array map `name` (`what` names it in errors).
    fn array_get<T: aya::Pod>(
        &self,
        name: &'static str,
        what: &str,
        index: u32,
    ) -> Result<T, XdpError> {
        let array: Array<&MapData, T> = Array::try_from(self.map(name)?)
            .map_err(|source| map_error(&format!("opening {what}"), source))?;
        array
            .get(&index, 0)
            .map_err(|source| map_error(&format!("reading {what}"), source))
    }

    /// Writes element `index` of the array map `name`.
    fn array_set<T: aya::Pod>(
        &mut self,
        name: &'static str,
        what: &str,
        index: u32,
        value: T,
    ) -> Result<(), XdpError> {
        let map = self
            .ebpf
            .map_mut(name)
            .ok_or(XdpError::Missing { kind: "map", name })?;
        let mut array: Array<&mut MapData, T> =
            Array::try_from(map).map_err(|source| map_error(&format!("opening {what}"), source))?;
        array
            .set(index, value, 0)
            .map_err(|source| map_error(&format!("writing {what}"), source))
    }

    /// Attaches to `interface` and returns the mode actually used
    /// ([`AttachMode::Native`] or [`AttachMode::Generic`]). Needs `CAP_NET_ADMIN`.
    pub fn attach(&mut self, interface: &str, mode: AttachMode) -> Result<AttachMode, XdpError> {
        let program = xdp_mut(&mut self.ebpf)?;
        let (link, used) = match mode {
            AttachMode::Generic => (
                attach_in(program, interface, AttachMode::Generic)?,
                AttachMode::Generic,
            ),
            AttachMode::Native => (
                attach_in(program, interface, AttachMode::Native)?,
                AttachMode::Native,
            ),
            AttachMode::NativeOrGeneric => {
                match attach_in(program, interface, AttachMode::Native) {
                    Ok(link) => (link, AttachMode::Native),
                    Err(unknown @ XdpError::UnknownInterface { .. }) => return Err(unknown),
                    Err(native) => {
                        warn!(
                            interface,
                            error = %native,
                            "native XDP attach failed; falling back to generic (skb) mode, \
                             which is much slower"
                        );
                        (
                            attach_in(program, interface, AttachMode::Generic)?,
                            AttachMode::Generic,
                        )
                    }
                }
            }
        };
        debug!(interface, mode = %used, "XDP program attached");
        self.attachments.push(Attachment {
            interface: interface.to_owned(),
            mode: used,
            link,
        });
        Ok(used)
    }

    /// Detaches from `interface` (every attachment this process made there).
    pub fn detach(&mut self, interface: &str) -> Result<(), XdpError> {
        let (matching, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.attachments)
            .into_iter()
            .partition(|a| a.interface == interface);
        self.attachments = rest;
        if matching.is_empty() {
            return Err(XdpError::NotAttached {
                interface: interface.to_owned(),
            });
        }
        let program = xdp_mut(&mut self.ebpf)?;
        let mut result = Ok(());
        for attachment in matching {
            if let Err(source) = program.detach(attachment.link) {
                result = Err(XdpError::Program {
                    operation: format!("detaching XDP from `{interface}`"),
                    source: Box::new(source),
                });
            }
        }
        result
    }

    /// Interfaces this program is attached to, with the mode used.
    pub fn attached(&self) -> impl Iterator<Item = (&str, AttachMode)> {
        self.attachments
            .iter()
            .map(|a| (a.interface.as_str(), a.mode))
    }

    /// Reads all counters, each summed over CPUs.
    pub fn counters(&self) -> Result<Counters, XdpError> {
        let array = self.counters_map()?;
        let values = (0..array.len())
            .map(|index| sum_slot(&array, index))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Counters { values })
    }

    /// Reads one counter (`dnsd_common::COUNTER_*`), summed over CPUs.
    pub fn counter(&self, index: u32) -> Result<u64, XdpError> {
        sum_slot(&self.counters_map()?, index)
    }

    /// Runs the program once per `repeat` on `frame` with `BPF_PROG_TEST_RUN`,
    /// without attaching it. Map side effects (counters) are real.
    /// `duration` is the kernel's mean time per run: with `repeat` ≥ 1,000,000
    /// it is a per-packet cost measurement.
    pub fn test_run(&self, frame: &[u8], repeat: u32) -> Result<TestRunOutput, XdpError> {
        run_program(&self.ebpf, PROGRAM_NAME, frame, repeat)
    }

    /// Like [`Self::test_run`] for the benchmark baseline `dnsd_swap` (swaps
    /// MACs, addresses and ports of an untagged UDP frame, XDP_TX), loaded on
    /// first use. Only for measurements: it answers nothing.
    pub fn test_run_swap(&mut self, frame: &[u8], repeat: u32) -> Result<TestRunOutput, XdpError> {
        if !self.swap_loaded {
            let program: &mut Xdp = self
                .ebpf
                .program_mut(PROGRAM_SWAP_NAME)
                .ok_or(XdpError::Missing {
                    kind: "program",
                    name: PROGRAM_SWAP_NAME,
                })?
                .try_into()
                .map_err(|e| XdpError::program("finding the swap baseline program", e))?;
            program
                .load()
                .map_err(|e| XdpError::program("loading the swap baseline program", e))?;
            self.swap_loaded = true;
        }
        run_program(&self.ebpf, PROGRAM_SWAP_NAME, frame, repeat)
    }

    /// Size of the loaded `dnsd` program as the kernel reports it (as
    /// `bpftool prog show` does).
    pub fn program_stats(&self) -> Result<ProgramStats, XdpError> {
        let program: &Xdp = self
            .ebpf
            .program(PROGRAM_NAME)
            .ok_or(XdpError::Missing {
                kind: "program",
                name: PROGRAM_NAME,
            })?
            .try_into()
            .map_err(|e| XdpError::program("finding the XDP program", e))?;
        let info = program
            .info()
            .map_err(|e| XdpError::program("reading the XDP program's info", e))?;
        Ok(ProgramStats {
            xlated_instructions: info.size_translated().map(|bytes| bytes / 8),
            verified_instructions: info.verified_instruction_count(),
        })
    }

    fn map(&self, name: &'static str) -> Result<&aya::maps::Map, XdpError> {
        self.ebpf
            .map(name)
            .ok_or(XdpError::Missing { kind: "map", name })
    }

    fn counters_map(&self) -> Result<PerCpuArray<&MapData, u64>, XdpError> {
        PerCpuArray::try_from(self.map(MAP_COUNTERS)?)
            .map_err(|source| map_error("opening the counters map", source))
    }
}

impl Drop for XdpProgram {
    fn drop(&mut self) {
        if self.attachments.is_empty() {
            return;
        }
        let Ok(program) = xdp_mut(&mut self.ebpf) else {
            return;
        };
        for Attachment {
            interface, link, ..
        } in self.attachments.drain(..)
        {
            match program.detach(link) {
                Ok(()) => debug!(interface, "XDP program detached"),
                Err(error) => warn!(interface, %error, "detaching the XDP program failed"),
            }
        }
    }
}

/// Counter values summed over CPUs, indexed by `dnsd_common::COUNTER_*`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    values: Vec<u64>,
}

impl Counters {
    /// The value of counter `index`; 0 for indexes outside the map.
    pub fn get(&self, index: u32) -> u64 {
        self.values.get(index as usize).copied().unwrap_or(0)
    }

    /// All slots, including unnamed ones, by index.
    pub fn as_slice(&self) -> &[u64] {
        &self.values
    }

    /// `(metric label, value)` for every named counter (`dnsd_common::COUNTER_NAMES`).
    pub fn named(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        COUNTER_NAMES
            .iter()
            .map(|&(index, name)| (name, self.get(index)))
    }
}

/// What the kernel reports about the loaded program.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProgramStats {
    /// BPF instructions after the verifier's rewrites (`bpftool prog show`'s
    /// "xlated" size / 8).
    pub xlated_instructions: Option<u32>,
    /// Instructions the verifier processed to prove the program safe (the
    /// limit is 1,000,000).
    pub verified_instructions: Option<u32>,
}

/// Result of [`XdpProgram::test_run`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestRunOutput {
    /// The verdict, one of [`super::action`].
    pub action: u32,
    /// The frame as the program left it.
    pub frame: Vec<u8>,
    /// Mean time per run, as measured by the kernel.
    pub duration: Duration,
}

fn run_program(
    ebpf: &Ebpf,
    name: &'static str,
    frame: &[u8],
    repeat: u32,
) -> Result<TestRunOutput, XdpError> {
    let program: &Xdp = ebpf
        .program(name)
        .ok_or(XdpError::Missing {
            kind: "program",
            name,
        })?
        .try_into()
        .map_err(|e| XdpError::program("finding the XDP program", e))?;
    // Room for replies longer than the query (bpf_xdp_adjust_tail).
    let mut out = vec![0u8; frame.len() + 2048];
    let result = program
        .test_run(TestRunOptions {
            data_in: Some(frame),
            data_out: Some(&mut out),
            repeat: repeat.max(1),
            ..TestRunOptions::default()
        })
        .map_err(|e| XdpError::program("running the XDP program (BPF_PROG_TEST_RUN)", e))?;
    out.truncate(result.data_size_out as usize);
    Ok(TestRunOutput {
        action: result.return_value,
        frame: out,
        duration: result.duration,
    })
}

/// The wire length of the shortest name in `table` (0 if it has none, so
/// the program skips nothing).
fn min_name_len(table: &Table) -> u32 {
    table
        .entries
        .iter()
        .map(|(key, _)| {
            let mut pos = 0usize;
            while let Some(&len) = key.name.get(pos).filter(|&&len| len != 0) {
                pos += 1 + usize::from(len);
            }
            pos as u32 + 1
        })
        .min()
        .unwrap_or(0)
}

/// Checks what the XDP program relies on; it passes queries hitting a bad
/// entry anyway, but a bad table is a builder bug worth reporting.
fn validate_table(table: &Table) -> Result<(), XdpError> {
    if table.zone_nx.len() > usize::from(u16::MAX) + 1 {
        return Err(XdpError::InvalidTable(format!(
            "{} zones; the XDP table indexes zones with 16 bits",
            table.zone_nx.len()
        )));
    }
    let check_entry = |what: &dyn Fn() -> String, e: &Entry| -> Result<(), XdpError> {
        if e.node_flags & NODE_PASS != 0 {
            // Never sent (the builder also makes their tail_len impossible).
            return Ok(());
        }
        let tail_len = usize::from(e.tail_len);
        let bad = tail_len > TAIL_CAP
            || usize::from(e.nfixups) > MAX_FIXUPS
            || e.fixups[..usize::from(e.nfixups).min(MAX_FIXUPS)]
                .iter()
                .any(|&f| usize::from(f) + 2 > tail_len);
        if bad {
            return Err(XdpError::InvalidTable(format!(
                "{}: tail length {} or fixups {:?} (of {}) out of range",
                what(),
                e.tail_len,
                e.fixups,
                e.nfixups
            )));
        }
        Ok(())
    };
    for (key, entry) in &table.entries {
        if key.kind != KIND_EXACT && key.kind != KIND_NODE {
            return Err(XdpError::InvalidTable(format!(
                "{}: unknown kind {}",
                describe_key(key),
                key.kind
            )));
        }
        if key._pad != [0; 4] {
            return Err(XdpError::InvalidTable(format!(
                "{}: padding not zero",
                describe_key(key)
            )));
        }
        if entry.name != key.name && entry.name != COLLISION_NAME {
            return Err(XdpError::InvalidTable(format!(
                "{}: the entry holds another name",
                describe_key(key)
            )));
        }
        check_entry(&|| describe_key(key), entry)?;
    }
    for (zone, entry) in table.zone_nx.iter().enumerate() {
        check_entry(&|| format!("NXDOMAIN entry of zone {zone}"), entry)?;
    }
    Ok(())
}

/// `name/qtype/kind` of a key, for error messages.
fn describe_key(key: &Key) -> String {
    let mut text = String::new();
    let mut pos = 0;
    while pos < key.name.len() {
        let len = usize::from(key.name[pos]);
        if len == 0 || pos + 1 + len > key.name.len() {
            break;
        }
        text.push_str(&String::from_utf8_lossy(&key.name[pos + 1..pos + 1 + len]));
        text.push('.');
        pos += 1 + len;
    }
    if text.is_empty() {
        text.push('.');
    }
    format!("key {text} type {} kind {}", key.qtype, key.kind)
}

/// Makes the trie `name` hold exactly `wanted` (full-length prefixes):
/// inserts first, then removes what is no longer wanted.
fn replace_trie<const N: usize>(
    ebpf: &mut Ebpf,
    name: &'static str,
    prefix_len: u32,
    wanted: &BTreeSet<[u8; N]>,
) -> Result<(), XdpError> {
    let map = ebpf
        .map_mut(name)
        .ok_or(XdpError::Missing { kind: "map", name })?;
    let mut trie: LpmTrie<&mut MapData, [u8; N], u8> = LpmTrie::try_from(map)
        .map_err(|source| map_error(&format!("opening the allow-list {name}"), source))?;
    let present: BTreeSet<[u8; N]> = trie
        .keys()
        .map(|k| k.map(|k| k.data()))
        .collect::<Result<_, _>>()
        .map_err(|source| map_error(&format!("reading the allow-list {name}"), source))?;
    for addr in wanted.difference(&present) {
        trie.insert(&LpmKey::new(prefix_len, *addr), 1, 0)
            .map_err(|source| map_error(&format!("adding to the allow-list {name}"), source))?;
    }
    for addr in present.difference(wanted) {
        trie.remove(&LpmKey::new(prefix_len, *addr))
            .map_err(|source| map_error(&format!("removing from the allow-list {name}"), source))?;
    }
    Ok(())
}

fn xdp_mut(ebpf: &mut Ebpf) -> Result<&mut Xdp, XdpError> {
    ebpf.program_mut(PROGRAM_NAME)
        .ok_or(XdpError::Missing {
            kind: "program",
            name: PROGRAM_NAME,
        })?
        .try_into()
        .map_err(|e| XdpError::program("finding the XDP program", e))
}

fn attach_in(program: &mut Xdp, interface: &str, mode: AttachMode) -> Result<XdpLinkId, XdpError> {
    let (flags, name, hint) = match mode {
        AttachMode::Generic => (XdpMode::Skb, "generic (skb)", ""),
        _ => (
            XdpMode::Driver,
            "native",
            " (the driver may lack native XDP support; generic (skb) mode may work)",
        ),
    };
    program
        .attach(interface, flags)
        .map_err(|source| match source {
            ProgramError::UnknownInterface { .. } => XdpError::UnknownInterface {
                interface: interface.to_owned(),
            },
            source => XdpError::Attach {
                interface: interface.to_owned(),
                mode: name,
                source: Box::new(source),
                hint,
            },
        })
}

fn sum_slot(array: &PerCpuArray<&MapData, u64>, index: u32) -> Result<u64, XdpError> {
    let values = array
        .get(&index, 0)
        .map_err(|source| map_error(&format!("reading counter {index}"), source))?;
    Ok(values.iter().fold(0u64, |sum, v| sum.wrapping_add(*v)))
}

fn map_error(operation: &str, source: aya::maps::MapError) -> XdpError {
    XdpError::Map {
        operation: operation.to_owned(),
        source: Box::new(source),
    }
}

/// Kernels before 5.11 charge BPF maps to RLIMIT_MEMLOCK; later ones use
/// memory cgroups. Raise it to infinity; failure only matters on old kernels.
fn raise_memlock_limit() {
    let unlimited = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: setrlimit reads a valid, initialised rlimit struct.
    let ret = unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &unlimited) };
    if ret != 0 {
        let error = std::io::Error::last_os_error();
        debug!(%error, "raising RLIMIT_MEMLOCK failed (only kernels < 5.11 need it)");
    }
}
