//! Loads the embedded XDP program, configures it, attaches it and reads its counters.

use std::{fmt, time::Duration};

use aya::{
    Ebpf, EbpfLoader,
    maps::{Array, MapData, PerCpuArray},
    programs::{ProgramError, TestRun as _, TestRunOptions, Xdp, XdpMode, xdp::XdpLinkId},
};
use dnsd_common::{CONFIG_INDEX, COUNTER_NAMES, Config, MAP_CONFIG, MAP_COUNTERS, PROGRAM_NAME};
use tracing::{debug, warn};

use super::{OBJECT, XdpError};

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
pub struct XdpProgram {
    ebpf: Ebpf,
    attachments: Vec<Attachment>,
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
        };
        program.set_config(config)?;
        Ok(program)
    }

    /// Writes the runtime configuration (e.g. the DNS port); takes effect for
    /// the next packet.
    pub fn set_config(&mut self, config: Config) -> Result<(), XdpError> {
        let map = self.ebpf.map_mut(MAP_CONFIG).ok_or(XdpError::Missing {
            kind: "map",
            name: MAP_CONFIG,
        })?;
        let mut array: Array<&mut MapData, Config> =
            Array::try_from(map).map_err(|source| map_error("opening the config map", source))?;
        array
            .set(CONFIG_INDEX, config, 0)
            .map_err(|source| map_error("writing the config map", source))
    }

    /// The configuration currently in the map.
    pub fn config(&self) -> Result<Config, XdpError> {
        let array: Array<&MapData, Config> = Array::try_from(self.map(MAP_CONFIG)?)
            .map_err(|source| map_error("opening the config map", source))?;
        array
            .get(&CONFIG_INDEX, 0)
            .map_err(|source| map_error("reading the config map", source))
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
    pub fn test_run(&self, frame: &[u8], repeat: u32) -> Result<TestRunOutput, XdpError> {
        let program: &Xdp = self
            .ebpf
            .program(PROGRAM_NAME)
            .ok_or(XdpError::Missing {
                kind: "program",
                name: PROGRAM_NAME,
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
