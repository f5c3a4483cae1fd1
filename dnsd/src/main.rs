//! The `dnsd` command: `serve`, `check`, and the control commands.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, oneshot, watch};

use dnsd::config::Config;
use dnsd::control;
use dnsd::dynamic::load::{self, LoadError, Loaded};
use dnsd::dynamic::updater::{self, Updater};
use dnsd::engine::{Engine, EngineSettings, Responder};
use dnsd::journal;
use dnsd::reload::{self, ZoneWatcher};
use dnsd::server::{Server, ServerStats};
use dnsd::wire::name::Name;
use dnsd::xdp_service::XdpService;
use dnsd::zone::snapshot::Snapshot;

const DEFAULT_CONFIG: &str = "/etc/dnsd/dnsd.toml";

/// An authoritative DNS server with an XDP fast path.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the configured zones over UDP and TCP until SIGTERM or SIGINT.
    /// A change to the config or a zone file, or SIGHUP, reloads every zone;
    /// a zone set that fails to compile leaves the old data serving.
    Serve {
        /// Configuration file.
        #[arg(short, long, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
    },
    /// Print the running daemon's counters (XDP and userspace).
    Stats {
        /// Configuration file (names the control socket).
        #[arg(short, long, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
    },
    /// Ask the running daemon to reload every zone now; prints the outcome.
    Reload {
        /// Configuration file (names the control socket).
        #[arg(short, long, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
    },
    /// Show the dynamic updates (RFC 2136, dyndns) in effect for ZONE, or
    /// drop them with --drop (the zone goes back to its source file; a
    /// running daemon reloads it).
    Journal {
        /// The zone's apex, e.g. example.info.
        zone: String,
        /// Delete the zone's journal.
        #[arg(long)]
        drop: bool,
        /// Configuration file (names the journal directory and control socket).
        #[arg(short, long, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
    },
    /// Validate the configuration and every zone, like named-checkzone:
    /// exit 0 with one line per zone, or print every error as
    /// `file:line: message` and exit 1.
    Check {
        /// Configuration file.
        #[arg(default_value = DEFAULT_CONFIG)]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check { config } => check(&config),
        Command::Serve { config } => serve(&config),
        Command::Stats { config } => control_request(&config, "stats"),
        Command::Reload { config } => control_request(&config, "reload"),
        Command::Journal { zone, drop, config } => journal_command(&config, &zone, drop),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("dnsd: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Prints warnings and errors, one per line, to stderr.
fn print_diagnostics<'a>(diags: impl IntoIterator<Item = &'a dnsd::zone::source::Diagnostic>) {
    for d in diags {
        eprintln!("{d}");
    }
}

/// Checks the zones with their journals replayed (read only: a running
/// server may be appending).
fn check(path: &Path) -> Result<ExitCode> {
    let config = Config::load(path)?;
    match load::load(&config, false) {
        Ok(Loaded {
            snapshot, warnings, ..
        }) => {
            print_diagnostics(&warnings);
            for zone in &snapshot.zones {
                println!(
                    "{}: {} records, serial {} ({})",
                    zone.apex,
                    zone.records,
                    zone.serial(),
                    zone.source.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(LoadError::Compile(e)) => {
            print_diagnostics(&e.diagnostics);
            eprintln!("dnsd: {}: {e}", path.display());
            Ok(ExitCode::FAILURE)
        }
        Err(e) => {
            eprintln!("dnsd: {}: {e}", path.display());
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `dnsd journal ZONE [--drop]`: through the running daemon when there is
/// one (it owns the journal), from the file otherwise.
fn journal_command(path: &Path, zone: &str, drop: bool) -> Result<ExitCode> {
    let config = Config::load(path)?;
    let apex = Name::parse_text(zone).with_context(|| format!("bad zone name {zone:?}"))?;
    let command = format!("journal{} {apex}", if drop { "-drop" } else { "" });
    let answer = match control::request(&config.control_socket(), &command) {
        Ok(answer) => answer,
        Err(control::ControlError::Io { op, .. }) if op.starts_with("connect") => {
            let file = journal::path_for(&config.journal_dir(), &apex);
            if drop {
                journal::remove(&file)?;
                format!("dropped the journal of {apex} ({})\n", file.display())
            } else {
                updater::show(&apex, &journal::read(&file)?.changes)
            }
        }
        Err(e) => return Err(e.into()),
    };
    print!("{answer}");
    Ok(if answer.starts_with("error") {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Sends one command to the running daemon and prints its answer.
fn control_request(path: &Path, command: &str) -> Result<ExitCode> {
    let config = Config::load(path)?;
    let answer = control::request(&config.control_socket(), command)?;
    print!("{answer}");
    Ok(if answer.starts_with("error") {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The `stats` answer: one `name value` line per counter.
fn stats_text(server: &ServerStats) -> String {
    let s = server.snapshot();
    let mut out = String::new();
    for (name, value) in [
        ("udp_queries", s.udp_queries),
        ("udp_responses", s.udp_responses),
        ("udp_errors", s.udp_errors),
        ("tcp_accepted", s.tcp_accepted),
        ("tcp_refused", s.tcp_refused),
        ("tcp_open", s.tcp_open),
        ("tcp_queries", s.tcp_queries),
        ("tcp_responses", s.tcp_responses),
        ("tcp_timeouts", s.tcp_timeouts),
        ("dropped", s.dropped),
    ] {
        out.push_str(&format!("userspace.{name} {value}\n"));
    }
    out
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&config.log.level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Compiles the zones and replays their journals, logging every
/// diagnostic; `None` on errors.
fn load_zones(config: &Config) -> Option<Loaded> {
    match load::load(config, true) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                tracing::warn!("{w}");
            }
            Some(loaded)
        }
        Err(LoadError::Compile(e)) => {
            for d in &e.diagnostics {
                tracing::error!("{d}");
            }
            None
        }
        Err(e) => {
            tracing::error!("{e}");
            None
        }
    }
}

fn describe_zones(snapshot: &Snapshot) -> String {
    updater::describe(snapshot)
}

fn serve(path: &Path) -> Result<ExitCode> {
    let config = Config::load(path)?;
    init_logging(&config);
    let Some(loaded) = load_zones(&config) else {
        anyhow::bail!("{}: zone data has errors; not starting", path.display());
    };
    let snapshot = loaded.snapshot.clone();
    let server = Server::bind(&config.server).context("cannot bind the listen addresses")?;
    let stats = server.stats();
    let control_path = config.control_socket();
    let listeners: Vec<String> = server.local_addrs().iter().map(|a| a.to_string()).collect();
    tracing::info!(
        zones = snapshot.zones.len(),
        records = snapshot.records(),
        listen = %listeners.join(" "),
        "dnsd {} serving {}",
        env!("CARGO_PKG_VERSION"),
        describe_zones(&snapshot)
    );
    let settings = EngineSettings {
        edns_udp_size: config.server.edns_udp_size,
    };
    let xdp = Arc::new(XdpService::start(&config, &snapshot, settings));
    let engine = Arc::new(Engine::new(snapshot, settings));
    // Every change to the zones from here on goes through this thread.
    let updater = Updater::start(
        config.clone(),
        loaded,
        Arc::clone(&engine),
        Arc::clone(&xdp),
    )
    .context("cannot start the updater thread")?;
    let server = server.with_updates(Arc::new(updater.clone()));
    // The dyndns2 endpoint, bound before anything is served so that a bad
    // address stops the start.
    let dyndns = match &config.dyndns {
        Some(d) => Some((
            dnsd::dyndns::Listener::bind(d).context("dyndns endpoint")?,
            Arc::new(updater.clone()),
        )),
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    // The loop below runs on this thread, not on a runtime worker, so a
    // reload's compile never holds up the UDP and TCP tasks.
    runtime.block_on(async move {
        // Bound inside the runtime: a tokio UnixListener registers with it.
        let control_listener = control::bind(&control_path)?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let responder: Arc<dyn Responder> = engine.clone();
        let mut server_task = tokio::spawn(server.run(responder, stop_rx));
        let mut hup = signal(SignalKind::hangup()).context("SIGHUP handler")?;
        let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
        let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
        let mut watcher = watch_zones(path, Some(&config));
        let (reload_tx, mut reload_rx) = mpsc::unbounded_channel::<oneshot::Sender<String>>();
        let xdp_stats = Arc::clone(&xdp);
        let journals = updater.clone();
        let handler: control::Handler =
            Arc::new(move |command: &str| match command.split_once(' ') {
                Some(("journal", zone)) | Some(("journal-drop", zone)) => {
                    match Name::parse_text(zone) {
                        Ok(apex) => {
                            journals.journal_blocking(apex, command.starts_with("journal-drop"))
                        }
                        Err(e) => format!("error: bad zone name {zone:?}: {e}\n"),
                    }
                }
                _ => match command {
                    "stats" => {
                        let mut text = stats_text(&stats);
                        match xdp_stats.as_ref() {
                            Some(x) => text.push_str(&x.stats_text()),
                            None => text.push_str("xdp.attached 0\n"),
                        }
                        text
                    }
                    "reload" => {
                        let (tx, rx) = oneshot::channel();
                        if reload_tx.send(tx).is_err() {
                            return "error: shutting down\n".into();
                        }
                        rx.blocking_recv()
                            .unwrap_or_else(|_| "error: shutting down\n".into())
                    }
                    other => format!(
                        "error: unknown command {other:?}; try stats, reload or journal ZONE\n"
                    ),
                },
            });
        let control_task = tokio::spawn(control::serve(control_listener, handler));
        let dyndns_task = dyndns.map(|(listener, sink)| {
            tokio::spawn(async move {
                if let Err(e) = listener.serve(sink).await {
                    tracing::error!("dyndns endpoint stopped: {e}");
                }
            })
        });
        loop {
            tokio::select! {
                Some(reply) = reload_rx.recv() => {
                    tracing::info!("reload requested on the control socket");
                    let ok = reload(path, &updater, &mut watcher).await;
                    let _ = reply.send(if ok {
                        format!("reloaded: {}\n", describe_zones(&engine.snapshot()))
                    } else {
                        "error: reload failed, still serving the old zones (see the log)\n".into()
                    });
                }
                _ = hup.recv() => {
                    tracing::info!("SIGHUP: reloading");
                    reload(path, &updater, &mut watcher).await;
                }
                Some(file) = changed(&mut watcher) => {
                    tracing::info!("{} changed: reloading", file.display());
                    reload(path, &updater, &mut watcher).await;
                }
                _ = term.recv() => break,
                _ = int.recv() => break,
                ended = &mut server_task => return server_outcome(ended),
            }
        }
        tracing::info!("shutting down");
        control_task.abort();
        if let Some(t) = dyndns_task {
            t.abort();
        }
        let _ = std::fs::remove_file(&control_path);
        let _ = stop_tx.send(true);
        server_outcome(server_task.await)
    })
}

/// The exit status from how the server task ended.
fn server_outcome(
    ended: Result<Result<(), dnsd::server::ServerError>, tokio::task::JoinError>,
) -> Result<ExitCode> {
    match ended {
        Ok(Ok(())) => Ok(ExitCode::SUCCESS),
        Ok(Err(e)) => Err(anyhow::Error::new(e).context("server failed")),
        Err(e) => Err(anyhow::Error::new(e).context("server task failed")),
    }
}

/// Re-reads the config and its zones, journals replayed, in the updater
/// (so a reload never races an update); keeps the old snapshot on any
/// error. The watch list follows the config, and is updated *before*
/// compiling so that an edit made during a reload is not lost: it reloads
/// again. Returns whether the new zones are live.
async fn reload(path: &Path, updater: &Updater, watcher: &mut Option<ZoneWatcher>) -> bool {
    let config = match Config::load(path) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("reload failed, still serving the old zones: {e}");
            return false;
        }
    };
    let files = reload::watched_files(path, Some(&config));
    if watcher
        .as_ref()
        .is_none_or(|w| w.files() != files.as_slice())
    {
        let new = watch_zones(path, Some(&config));
        // Changes the old watcher saw but nobody read yet: pass them on.
        if let (Some(old), Some(new)) = (watcher.as_mut(), new.as_ref()) {
            old.forward_pending(new);
        }
        *watcher = new;
    }
    match updater.reload(config).await {
        Ok(zones) => {
            tracing::info!("reloaded: {zones}");
            true
        }
        Err(e) => {
            tracing::error!("reload failed, still serving the old zones: {e}");
            false
        }
    }
}

/// Watches the config and zone files; `None` (with a warning) if inotify
/// is unavailable, leaving SIGHUP as the trigger.
fn watch_zones(path: &Path, config: Option<&Config>) -> Option<ZoneWatcher> {
    match ZoneWatcher::new(&reload::watched_files(path, config)) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!("cannot watch zone files ({e}); reload with SIGHUP");
            None
        }
    }
}

/// The next settled change, or never when there is no watcher.
async fn changed(watcher: &mut Option<ZoneWatcher>) -> Option<PathBuf> {
    match watcher {
        Some(w) => w.changed().await,
        None => std::future::pending().await,
    }
}
