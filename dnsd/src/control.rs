//! The control socket: a Unix stream socket on which `dnsd stats` and
//! `dnsd reload` talk to the running daemon. One command line in, a text
//! answer out, then the connection closes.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixListener;

/// Longest command accepted.
const MAX_COMMAND: u64 = 256;
/// A client must send its command within this time.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Why the control socket could not be set up or used.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("control socket {path}: cannot {op}: {source}")]
    Io {
        path: PathBuf,
        op: &'static str,
        source: std::io::Error,
    },
}

/// Answers a command (`stats`, `reload`); unknown commands get an error text.
pub type Handler = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// Binds the socket (replacing a stale one), readable and writable by the
/// owner only: the commands are for the operator.
pub fn bind(path: &Path) -> Result<UnixListener, ControlError> {
    let io = |op: &'static str| {
        move |source| ControlError::Io {
            path: path.to_owned(),
            op,
            source,
        }
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io("create its directory"))?;
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io("remove the stale socket")(e)),
    }
    let listener = UnixListener::bind(path).map_err(io("bind"))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(io("set permissions"))?;
    Ok(listener)
}

/// Serves commands until the task is dropped.
pub async fn serve(listener: UnixListener, handler: Handler) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let handler = Arc::clone(&handler);
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut line = String::new();
            let mut reader = BufReader::new(tokio::io::AsyncReadExt::take(read, MAX_COMMAND));
            let Ok(Ok(_)) = tokio::time::timeout(TIMEOUT, reader.read_line(&mut line)).await else {
                return;
            };
            // The handler may block (a reload compiles every zone).
            let command = line.trim().to_owned();
            let Ok(answer) = tokio::task::spawn_blocking(move || handler(&command)).await else {
                return;
            };
            let _ = tokio::time::timeout(TIMEOUT, write.write_all(answer.as_bytes())).await;
        });
    }
}

/// Sends `command` to the daemon at `path` and returns its answer.
pub fn request(path: &Path, command: &str) -> Result<String, ControlError> {
    let io = |op: &'static str| {
        move |source| ControlError::Io {
            path: path.to_owned(),
            op,
            source,
        }
    };
    let mut stream =
        std::os::unix::net::UnixStream::connect(path).map_err(io("connect (is dnsd running?)"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(io("set a timeout"))?;
    stream
        .write_all(format!("{command}\n").as_bytes())
        .map_err(io("send"))?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).map_err(io("read"))?;
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn command_round_trip() {
        let path = std::env::temp_dir().join(format!("dnsd-control-{}.sock", std::process::id()));
        let listener = bind(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let handler: Handler = Arc::new(|cmd| format!("got {cmd}\n"));
        let task = tokio::spawn(serve(listener, handler));
        let p = path.clone();
        let answer = tokio::task::spawn_blocking(move || request(&p, "stats"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(answer, "got stats\n");
        // A second bind replaces the stale socket.
        task.abort();
        assert!(bind(&path).is_ok());
        std::fs::remove_file(&path).unwrap();
        let err = request(&path, "stats").unwrap_err().to_string();
        assert!(err.contains("is dnsd running?"), "{err}");
    }
}
