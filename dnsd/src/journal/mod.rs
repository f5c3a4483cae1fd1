//! The durable journal of dynamic updates: per zone, one append-only file
//! of [`ChangeSet`]s in `journal_dir`. An update is acknowledged only after
//! its record is written and `fdatasync`ed. The zone source files are never
//! written: on every load the journal is replayed on top of them.
//!
//! File: the 8-byte magic [`MAGIC`], then records of
//! `len:u32 crc32:u32 payload[len]` (big-endian; CRC-32/IEEE of the
//! payload; payload per [`codec`]). A kill -9 can leave only the last
//! record torn; [`Journal::open`] detects it by its length or checksum and
//! truncates it away (it was never acknowledged).

mod codec;
mod compact;
pub mod text;

pub use codec::CodecError;

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::update::ChangeSet;
use crate::wire::name::Name;

/// The first bytes of every journal file (format version 1).
pub const MAGIC: &[u8; 8] = b"DNSDJNL1";
/// Bytes before each record's payload: length and checksum.
const RECORD_HEADER: usize = 8;
/// Largest payload accepted when reading: an UPDATE is at most 64 KiB, so
/// its ChangeSet (before and after) stays well below this.
const MAX_RECORD: usize = 16 << 20;

/// Why a journal cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal {path}: cannot {op}: {source}")]
    Io {
        path: PathBuf,
        op: &'static str,
        source: io::Error,
    },
    #[error("journal {path}: not a dnsd journal (bad magic)")]
    NotJournal { path: PathBuf },
    #[error(
        "journal {path}: record at byte {offset} has a valid checksum but does not decode: {error}"
    )]
    Corrupt {
        path: PathBuf,
        offset: u64,
        error: CodecError,
    },
    #[error("journal {path}: cannot encode change: {error}")]
    Encode { path: PathBuf, error: CodecError },
}

/// The journal file of the zone `apex` in `dir`: the apex in lower case,
/// bytes other than letters, digits, `-` and `_` hex-escaped, so no
/// label can reach outside `dir`.
pub fn path_for(dir: &Path, apex: &Name) -> PathBuf {
    let mut file = String::new();
    for (i, label) in apex.to_lowercase().labels().enumerate() {
        if i > 0 {
            file.push('.');
        }
        for &b in label {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                file.push(char::from(b));
            } else {
                file.push_str(&format!("%{b:02x}"));
            }
        }
    }
    if file.is_empty() {
        file.push_str("root");
    }
    file.push_str(".journal");
    dir.join(file)
}

/// What reading a journal found.
#[derive(Debug, Default)]
pub struct Contents {
    pub changes: Vec<ChangeSet>,
    /// Length of the valid prefix of the file.
    pub valid_len: u64,
    /// Bytes after the valid prefix (a torn last record).
    pub torn_bytes: u64,
}

/// Reads every complete record of the journal at `path`, without changing
/// the file. A missing file is an empty journal.
pub fn read(path: &Path) -> Result<Contents, JournalError> {
    let io_err = |op| {
        move |source| JournalError::Io {
            path: path.to_owned(),
            op,
            source,
        }
    };
    let mut data = Vec::new();
    match File::open(path) {
        Ok(mut f) => {
            f.read_to_end(&mut data).map_err(io_err("read"))?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Contents::default()),
        Err(e) => return Err(io_err("open")(e)),
    }
    parse(path, &data)
}

fn parse(path: &Path, data: &[u8]) -> Result<Contents, JournalError> {
    if data.is_empty() {
        return Ok(Contents::default());
    }
    // A file cut inside the magic was being created: nothing in it was
    // acknowledged.
    if data.len() < MAGIC.len() && MAGIC.starts_with(data) {
        return Ok(Contents {
            changes: Vec::new(),
            valid_len: 0,
            torn_bytes: data.len() as u64,
        });
    }
    if !data.starts_with(MAGIC) {
        return Err(JournalError::NotJournal {
            path: path.to_owned(),
        });
    }
    let mut pos = MAGIC.len();
    let mut changes = Vec::new();
    while let Some(header) = data.get(pos..pos + RECORD_HEADER) {
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        let start = pos + RECORD_HEADER;
        let Some(payload) = data.get(start..start.saturating_add(len)) else {
            break; // torn: the record ends past the end of the file
        };
        if len > MAX_RECORD || crc32fast::hash(payload) != crc {
            break; // torn: garbage or a partly written record
        }
        let cs = codec::decode(payload).map_err(|error| JournalError::Corrupt {
            path: path.to_owned(),
            offset: pos as u64,
            error,
        })?;
        changes.push(cs);
        pos = start + len;
    }
    Ok(Contents {
        changes,
        valid_len: pos as u64,
        torn_bytes: (data.len() - pos) as u64,
    })
}

/// One zone's journal, open for appending.
pub struct Journal {
    path: PathBuf,
    /// Opened on the first append: zones never updated get no file.
    file: Option<File>,
    /// Bytes of valid records, where the next record goes.
    len: u64,
    /// Records in the file.
    records: usize,
}

impl Journal {
    /// Opens the journal at `path` (a missing file is an empty journal),
    /// truncates a torn last record away (logged) and returns the changes
    /// in effect, oldest first.
    pub fn open(path: &Path) -> Result<(Journal, Vec<ChangeSet>), JournalError> {
        let contents = read(path)?;
        let mut journal = Journal {
            path: path.to_owned(),
            file: None,
            len: contents.valid_len,
            records: contents.changes.len(),
        };
        if contents.torn_bytes > 0 {
            tracing::warn!(
                journal = %path.display(),
                bytes = contents.torn_bytes,
                "journal ends in a torn record (never acknowledged); truncating it"
            );
            let file = journal.open_file()?;
            file.set_len(contents.valid_len)
                .and_then(|()| file.sync_all())
                .map_err(journal.io_err("truncate"))?;
        }
        Ok((journal, contents.changes))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io_err(&self, op: &'static str) -> impl FnOnce(io::Error) -> JournalError + use<> {
        let path = self.path.clone();
        move |source| JournalError::Io { path, op, source }
    }

    fn open_file(&mut self) -> Result<&mut File, JournalError> {
        if self.file.is_none() {
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(self.io_err("create its directory"))?;
            }
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&self.path)
                .map_err(self.io_err("open"))?;
            self.file = Some(file);
        }
        self.file.as_mut().ok_or_else(|| JournalError::Io {
            path: self.path.clone(),
            op: "open",
            source: io::Error::other("no file"),
        })
    }

    /// Appends `cs` and waits until it is on stable storage: when this
    /// returns Ok the update may be acknowledged. On error the file is cut
    /// back to its previous length, so no partial record stays behind.
    pub fn append(&mut self, cs: &ChangeSet) -> Result<(), JournalError> {
        let creating = self.len == 0;
        let mut record = Vec::new();
        if creating {
            record.extend_from_slice(MAGIC);
        }
        self.encode_record(cs, &mut record)?;
        let start = self.len;
        let err = self.io_err("append");
        let file = self.open_file()?;
        let written = write_at_end(file, start, &record).and_then(|()| file.sync_data());
        if let Err(e) = written {
            let _ = file.set_len(start);
            return Err(err(e));
        }
        self.len = start + record.len() as u64;
        self.records += 1;
        if creating {
            // The new file's directory entry must be durable too.
            sync_dir(&self.path).map_err(self.io_err("sync its directory"))?;
        }
        Ok(())
    }

    /// `len crc payload` of `cs`, appended to `out`.
    fn encode_record(&self, cs: &ChangeSet, out: &mut Vec<u8>) -> Result<(), JournalError> {
        let encode_err = |error| JournalError::Encode {
            path: self.path.clone(),
            error,
        };
        let payload = codec::encode(cs).map_err(encode_err)?;
        let len = u32::try_from(payload.len()).map_err(|_| encode_err(CodecError::TooLong))?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&crc32fast::hash(&payload).to_be_bytes());
        out.extend_from_slice(&payload);
        Ok(())
    }

    /// Records in the journal.
    pub fn records(&self) -> usize {
        self.records
    }

    /// Replaces the journal by one record with the same net effect
    /// ([`compact::merge`]): written to a temporary file, fsynced, renamed
    /// over the journal, the directory fsynced. A crash at any point leaves
    /// the old journal or the new one, both complete.
    pub fn compact(&mut self) -> Result<(), JournalError> {
        let changes = read(&self.path)?.changes;
        let Some(merged) = compact::merge(&changes) else {
            return Ok(());
        };
        let mut data = MAGIC.to_vec();
        self.encode_record(&merged, &mut data)?;
        let tmp = self.path.with_extension("journal.tmp");
        let io_err = self.io_err("compact");
        let written = File::create(&tmp)
            .and_then(|mut f| f.write_all(&data).and_then(|()| f.sync_all()))
            .and_then(|()| std::fs::rename(&tmp, &self.path))
            .and_then(|()| sync_dir(&self.path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(io_err(e));
        }
        // The old file handle points at the replaced inode.
        self.file = None;
        self.len = data.len() as u64;
        self.records = 1;
        Ok(())
    }

    /// Deletes the journal file: the zone goes back to its sources.
    pub fn drop_all(&mut self) -> Result<(), JournalError> {
        self.file = None;
        self.len = 0;
        self.records = 0;
        remove(&self.path)
    }
}

/// Deletes the journal file at `path`, durably; a missing file is fine.
pub fn remove(path: &Path) -> Result<(), JournalError> {
    let err = |op| {
        move |source| JournalError::Io {
            path: path.to_owned(),
            op,
            source,
        }
    };
    match std::fs::remove_file(path) {
        Ok(()) => sync_dir(path).map_err(err("sync its directory")),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(err("remove")(e)),
    }
}

fn write_at_end(file: &mut File, at: u64, record: &[u8]) -> io::Result<()> {
    use std::io::{Seek, SeekFrom};
    file.seek(SeekFrom::Start(at))?;
    file.write_all(record)
}

/// fsync of the directory holding `path`, so that a created or removed
/// file survives a crash.
fn sync_dir(path: &Path) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::codec::tests::{name, sample};
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("dnsd-journal-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn file_names_stay_in_the_directory() {
        let dir = Path::new("/j");
        assert_eq!(
            path_for(dir, &name("Example.INFO")),
            Path::new("/j/example.info.journal")
        );
        assert_eq!(path_for(dir, &Name::root()), Path::new("/j/root.journal"));
        let odd = Name::from_labels([&b"a/b"[..], b"..", b"x"]).unwrap();
        let p = path_for(dir, &odd);
        assert_eq!(p, Path::new("/j/a%2fb.%2e%2e.x.journal"));
        assert_eq!(p.parent(), Some(dir));
    }

    #[test]
    fn appends_and_replays_in_order() {
        let dir = temp_dir("order");
        let path = dir.join("z.journal");
        let (mut j, none) = Journal::open(&path).unwrap();
        assert!(none.is_empty());
        assert!(!path.exists(), "no file before the first append");
        for s in 1..=5 {
            j.append(&sample(s)).unwrap();
        }
        let (_, got) = Journal::open(&path).unwrap();
        assert_eq!(got, (1..=5).map(sample).collect::<Vec<_>>());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn torn_tail_is_truncated_at_every_cut() {
        let dir = temp_dir("torn");
        let path = dir.join("z.journal");
        let (mut j, _) = Journal::open(&path).unwrap();
        j.append(&sample(1)).unwrap();
        j.append(&sample(2)).unwrap();
        let full = std::fs::read(&path).unwrap();
        let first_end = read(&path).unwrap().valid_len as usize;
        let one_len = {
            std::fs::write(&path, &full[..0]).unwrap();
            let (mut j, _) = Journal::open(&path).unwrap();
            j.append(&sample(1)).unwrap();
            std::fs::metadata(&path).unwrap().len() as usize
        };
        assert_eq!(first_end, full.len(), "both records are valid");
        for cut in 0..full.len() {
            std::fs::write(&path, &full[..cut]).unwrap();
            let (mut j, got) = Journal::open(&path).unwrap();
            let expect: Vec<_> = if cut >= one_len {
                vec![sample(1)]
            } else {
                vec![]
            };
            assert_eq!(got, expect, "cut at {cut}");
            let kept = std::fs::metadata(&path).unwrap().len() as usize;
            assert!(
                kept == 0 || kept == MAGIC.len() || kept == one_len,
                "cut {cut}: kept {kept}"
            );
            // Appending after the repair gives a clean journal.
            j.append(&sample(9)).unwrap();
            let (_, again) = Journal::open(&path).unwrap();
            assert_eq!(again.last(), Some(&sample(9)), "cut at {cut}");
            assert_eq!(again.len(), expect.len() + 1);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn flipped_bit_in_last_record_drops_only_it() {
        let dir = temp_dir("crc");
        let path = dir.join("z.journal");
        let (mut j, _) = Journal::open(&path).unwrap();
        j.append(&sample(1)).unwrap();
        j.append(&sample(2)).unwrap();
        let mut data = std::fs::read(&path).unwrap();
        let last = data.len() - 3;
        data[last] ^= 0x10;
        std::fs::write(&path, &data).unwrap();
        let (_, got) = Journal::open(&path).unwrap();
        assert_eq!(got, vec![sample(1)]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn foreign_file_is_an_error() {
        let dir = temp_dir("magic");
        let path = dir.join("z.journal");
        std::fs::write(&path, b"$ORIGIN example.\n").unwrap();
        let e = Journal::open(&path).err().unwrap().to_string();
        assert!(e.contains("not a dnsd journal"), "{e}");
        // And it was left alone.
        assert_eq!(std::fs::read(&path).unwrap(), b"$ORIGIN example.\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn compaction_keeps_the_net_effect_and_appends_go_on() {
        let dir = temp_dir("compact");
        let path = dir.join("z.journal");
        let (mut j, _) = Journal::open(&path).unwrap();
        for s in 1..=4 {
            j.append(&sample(s)).unwrap();
        }
        assert_eq!(j.records(), 4);
        j.compact().unwrap();
        assert_eq!(j.records(), 1);
        j.append(&sample(9)).unwrap();
        let (j2, got) = Journal::open(&path).unwrap();
        let merged = compact::merge(&(1..=4).map(sample).collect::<Vec<_>>()).unwrap();
        assert_eq!(got, vec![merged, sample(9)]);
        assert_eq!(j2.records(), 2);
        assert!(!path.with_extension("journal.tmp").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn drop_all_removes_the_file() {
        let dir = temp_dir("drop");
        let path = dir.join("z.journal");
        let (mut j, _) = Journal::open(&path).unwrap();
        j.append(&sample(1)).unwrap();
        j.drop_all().unwrap();
        assert!(!path.exists());
        j.append(&sample(3)).unwrap();
        assert_eq!(Journal::open(&path).unwrap().1, vec![sample(3)]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
