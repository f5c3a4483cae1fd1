//! Noticing zone changes: inotify on the directories that hold the config
//! and the zone files (editors replace files by rename, so the directory is
//! what must be watched). SIGHUP stays the reliable trigger.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::config::Config;

/// How long the files must stay quiet before a reload: editors and
/// `git checkout` write in bursts.
pub const SETTLE: Duration = Duration::from_millis(200);

/// Watches the config file and every zone file it names.
pub struct ZoneWatcher {
    // Kept alive: dropping it stops the watch.
    _watcher: RecommendedWatcher,
    events: mpsc::UnboundedReceiver<PathBuf>,
    /// Sender of `events`, to inject changes carried over from another watcher.
    inject: mpsc::UnboundedSender<PathBuf>,
    files: Vec<PathBuf>,
}

/// The files a reload depends on: the config and each zone source.
pub fn watched_files(config_path: &Path, config: Option<&Config>) -> Vec<PathBuf> {
    let mut files = vec![config_path.to_owned()];
    if let Some(c) = config {
        files.extend(c.zones.iter().map(|z| c.zone_path(z)));
    }
    files
}

impl ZoneWatcher {
    pub fn new(files: &[PathBuf]) -> notify::Result<ZoneWatcher> {
        let (tx, events) = mpsc::unbounded_channel();
        let inject = tx.clone();
        let names: HashSet<(PathBuf, OsString)> = files
            .iter()
            .filter_map(|f| Some((dir_of(f), f.file_name()?.to_owned())))
            .collect();
        let wanted = names.clone();
        let mut watcher =
            notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
                let Ok(event) = res else {
                    return;
                };
                if matches!(event.kind, EventKind::Access(_)) {
                    return;
                }
                for path in event.paths {
                    let key = (
                        dir_of(&path),
                        path.file_name().unwrap_or_default().to_owned(),
                    );
                    if wanted.contains(&key) {
                        let _ = tx.send(path);
                    }
                }
            })?;
        let dirs: HashSet<PathBuf> = names.into_iter().map(|(d, _)| d).collect();
        for dir in dirs {
            watcher.watch(&dir, RecursiveMode::NonRecursive)?;
        }
        Ok(ZoneWatcher {
            _watcher: watcher,
            events,
            inject,
            files: files.to_vec(),
        })
    }

    /// The files this watcher was made for.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Moves changes this watcher has seen but not yet reported to `other`,
    /// so replacing a watcher loses nothing.
    pub fn forward_pending(&mut self, other: &ZoneWatcher) {
        while let Ok(path) = self.events.try_recv() {
            let _ = other.inject.send(path);
        }
    }

    /// Waits for a change, then for the files to settle.
    pub async fn changed(&mut self) -> Option<PathBuf> {
        let first = self.events.recv().await?;
        loop {
            match tokio::time::timeout(SETTLE, self.events.recv()).await {
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => return Some(first),
            }
        }
    }
}

fn dir_of(path: &Path) -> PathBuf {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::canonicalize(&dir).unwrap_or(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn notices_rename_over_a_watched_file() {
        let dir = std::env::temp_dir().join(format!("dnsd-watch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let zone = dir.join("data");
        std::fs::write(&zone, "old").unwrap();
        let mut w = ZoneWatcher::new(std::slice::from_ref(&zone)).unwrap();
        // An unrelated file does not count.
        std::fs::write(dir.join("other"), "x").unwrap();
        // Editors write a temporary file, then rename it over the original.
        std::fs::write(dir.join("data.tmp"), "new").unwrap();
        std::fs::rename(dir.join("data.tmp"), &zone).unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), w.changed())
            .await
            .expect("a change within 5 s")
            .unwrap();
        assert_eq!(got.file_name(), zone.file_name());
        // Nothing else is pending for unrelated files.
        std::fs::write(dir.join("other"), "y").unwrap();
        assert!(
            tokio::time::timeout(Duration::from_millis(500), w.changed())
                .await
                .is_err()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
