//! Loading zones for a server that takes updates: compile the sources as
//! always, then replay each zone's journal on top (a change whose `before`
//! no longer matches is logged as a conflict and applied anyway: the
//! dynamic change wins).

use std::collections::HashMap;

use super::store::{self, StoreError};
use crate::config::Config;
use crate::journal::{self, Journal, JournalError};
use crate::zone::compile::{self, CompileError, Compiled};
use crate::zone::snapshot::Snapshot;
use crate::zone::source::Diagnostic;

/// Why the zones cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Compile(#[from] CompileError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The journal no longer fits the source (`dnsd journal ZONE --drop`
    /// discards it).
    #[error("{0} (drop the journal with `dnsd journal ZONE --drop` to serve the source alone)")]
    Replay(#[from] StoreError),
}

/// Compiled zones with their journals replayed.
pub struct Loaded {
    pub snapshot: Snapshot,
    pub warnings: Vec<Diagnostic>,
    /// Open journals by lower-cased wire apex, for appending.
    pub(crate) journals: HashMap<Box<[u8]>, Journal>,
    /// Changes replayed, over all zones.
    pub replayed: usize,
}

/// Compiles every zone and replays its journal, if it has one. With
/// `repair` (the server), a torn last record is cut off and the journals
/// are kept open for appending; without (`dnsd check`, while a server
/// may be appending), the files are only read.
pub fn load(config: &Config, repair: bool) -> Result<Loaded, LoadError> {
    let Compiled {
        mut snapshot,
        warnings,
    } = compile::compile(config)?;
    let dir = config.journal_dir();
    let mut journals = HashMap::new();
    let mut replayed = 0;
    let apexes: Vec<_> = snapshot.zones.iter().map(|z| z.apex.clone()).collect();
    for apex in apexes {
        let path = journal::path_for(&dir, &apex);
        let changes = if repair {
            let (journal, changes) = Journal::open(&path)?;
            journals.insert(apex.to_lowercase().as_wire().into(), journal);
            changes
        } else {
            journal::read(&path)?.changes
        };
        if !changes.is_empty() {
            let (next, conflicts) = store::apply(&snapshot, &changes, true)?;
            for c in &conflicts {
                tracing::warn!(
                    zone = %c.zone,
                    owner = %c.owner,
                    rtype = %c.rtype,
                    "journal conflict: the source changed under a dynamic update; the dynamic change wins"
                );
            }
            tracing::info!(zone = %apex, changes = changes.len(), journal = %path.display(), "journal replayed");
            replayed += changes.len();
            snapshot = next;
        }
    }
    Ok(Loaded {
        snapshot,
        warnings,
        journals,
        replayed,
    })
}
