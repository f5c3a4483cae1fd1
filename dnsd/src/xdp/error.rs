//! Errors of the XDP loader.

use std::io;

use aya::{EbpfError, maps::MapError, programs::ProgramError};

/// What went wrong while loading, configuring, attaching or reading the XDP
/// program. Every variant names the operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum XdpError {
    /// The binary was built with `AYA_BUILD_SKIP=1`: the object is an empty placeholder.
    #[error(
        "this dnsd binary was built without the XDP program (AYA_BUILD_SKIP was set); \
         rebuild without AYA_BUILD_SKIP (bpf-linker is needed: `cargo xtask setup`), \
         or run without XDP"
    )]
    NotBuilt,

    /// Parsing the object or creating its maps failed.
    #[error("{operation}: {source}")]
    Object {
        /// What was being done.
        operation: &'static str,
        /// aya's error.
        #[source]
        source: Box<EbpfError>,
    },

    /// The object lacks a program or map dnsd expects (object and daemon out of sync).
    #[error("the eBPF object has no {kind} named `{name}` (object and daemon out of sync?)")]
    Missing {
        /// "program" or "map".
        kind: &'static str,
        /// The name looked up.
        name: &'static str,
    },

    /// The kernel verifier rejected the program; `verifier_log` is its output.
    #[error(
        "{operation}: the kernel rejected the program ({errno}); verifier log:\n{verifier_log}"
    )]
    Verifier {
        /// What was being done.
        operation: &'static str,
        /// The `BPF_PROG_LOAD` error.
        #[source]
        errno: io::Error,
        /// The kernel verifier's output.
        verifier_log: String,
    },

    /// A program operation (load, detach, test run, ...) failed.
    #[error("{operation}: {source}")]
    Program {
        /// What was being done.
        operation: String,
        /// aya's error.
        #[source]
        source: Box<ProgramError>,
    },

    /// No network interface has this name.
    #[error("attaching XDP to `{interface}`: no such network interface")]
    UnknownInterface {
        /// The name given.
        interface: String,
    },

    /// Attaching to an interface failed. `hint` suggests what may work instead.
    #[error("attaching XDP to `{interface}` in {mode} mode: {source}{hint}")]
    Attach {
        /// The interface.
        interface: String,
        /// The mode tried: "native" or "generic (skb)".
        mode: &'static str,
        /// aya's error.
        #[source]
        source: Box<ProgramError>,
        /// Empty, or a suggestion starting with a space.
        hint: &'static str,
    },

    /// A map operation failed.
    #[error("{operation}: {source}")]
    Map {
        /// What was being done.
        operation: String,
        /// aya's error.
        #[source]
        source: Box<MapError>,
    },

    /// A table or address list the program cannot use (a builder bug).
    #[error("invalid XDP table: {0}")]
    InvalidTable(String),

    /// The interface is not attached (for [`super::XdpProgram::detach`]).
    #[error("XDP is not attached to `{interface}` by this process")]
    NotAttached {
        /// The interface given.
        interface: String,
    },
}

impl XdpError {
    /// Maps a program error, lifting the verifier log out of load failures.
    pub(crate) fn program(operation: &'static str, source: ProgramError) -> Self {
        match source {
            ProgramError::LoadError {
                io_error,
                verifier_log,
            } => Self::Verifier {
                operation,
                errno: io_error,
                // aya's VerifierLog only implements Debug, which writes the raw log.
                verifier_log: format!("{verifier_log:?}"),
            },
            source => Self::Program {
                operation: operation.to_owned(),
                source: Box::new(source),
            },
        }
    }

    /// The kernel verifier's log, if this is a verifier rejection.
    pub fn verifier_log(&self) -> Option<&str> {
        match self {
            Self::Verifier { verifier_log, .. } => Some(verifier_log),
            _ => None,
        }
    }
}
