//! The `dnsd` command: `serve` and `check`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

use dnsd::config::Config;
use dnsd::engine::{Engine, EngineSettings, Responder};
use dnsd::server::Server;
use dnsd::zone::compile::{self, Compiled};
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
    /// SIGHUP reloads every zone; a zone set that fails to compile leaves the
    /// old data serving.
    Serve {
        /// Configuration file.
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

fn check(path: &Path) -> Result<ExitCode> {
    let config = Config::load(path)?;
    match compile::compile(&config) {
        Ok(Compiled { snapshot, warnings }) => {
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
        Err(e) => {
            print_diagnostics(&e.diagnostics);
            eprintln!("dnsd: {}: {e}", path.display());
            Ok(ExitCode::FAILURE)
        }
    }
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

/// Compiles the zones, logging every diagnostic; `None` on errors.
fn load_zones(config: &Config) -> Option<Snapshot> {
    match compile::compile(config) {
        Ok(Compiled { snapshot, warnings }) => {
            for w in &warnings {
                tracing::warn!("{w}");
            }
            Some(snapshot)
        }
        Err(e) => {
            for d in &e.diagnostics {
                tracing::error!("{d}");
            }
            None
        }
    }
}

fn describe_zones(snapshot: &Snapshot) -> String {
    snapshot
        .zones
        .iter()
        .map(|z| format!("{} (serial {})", z.apex, z.serial()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn serve(path: &Path) -> Result<ExitCode> {
    let config = Config::load(path)?;
    init_logging(&config);
    let Some(snapshot) = load_zones(&config) else {
        anyhow::bail!("{}: zone data has errors; not starting", path.display());
    };
    let server = Server::bind(&config.server).context("cannot bind the listen addresses")?;
    let listeners: Vec<String> = server.local_addrs().iter().map(|a| a.to_string()).collect();
    tracing::info!(
        zones = snapshot.zones.len(),
        records = snapshot.records(),
        listen = %listeners.join(" "),
        "dnsd {} serving {}",
        env!("CARGO_PKG_VERSION"),
        describe_zones(&snapshot)
    );
    let engine = Arc::new(Engine::new(
        snapshot,
        EngineSettings {
            edns_udp_size: config.server.edns_udp_size,
        },
    ));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    runtime.block_on(async move {
        let (stop_tx, stop_rx) = watch::channel(false);
        let responder: Arc<dyn Responder> = engine.clone();
        let mut server_task = tokio::spawn(server.run(responder, stop_rx));
        let mut hup = signal(SignalKind::hangup()).context("SIGHUP handler")?;
        let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
        let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
        loop {
            tokio::select! {
                _ = hup.recv() => reload(path, &engine),
                _ = term.recv() => break,
                _ = int.recv() => break,
                ended = &mut server_task => {
                    return match ended {
                        Ok(Ok(())) => Ok(ExitCode::SUCCESS),
                        Ok(Err(e)) => Err(anyhow::Error::new(e).context("server failed")),
                        Err(e) => Err(anyhow::Error::new(e).context("server task failed")),
                    };
                }
            }
        }
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
        match server_task.await {
            Ok(Ok(())) => Ok(ExitCode::SUCCESS),
            Ok(Err(e)) => Err(anyhow::Error::new(e).context("server failed")),
            Err(e) => Err(anyhow::Error::new(e).context("server task failed")),
        }
    })
}

/// SIGHUP: re-read the config's zones; keep the old snapshot on any error.
fn reload(path: &Path, engine: &Engine) {
    let config = match Config::load(path) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("reload failed, still serving the old zones: {e}");
            return;
        }
    };
    match load_zones(&config) {
        Some(snapshot) => {
            tracing::info!("reloaded: {}", describe_zones(&snapshot));
            engine.replace(snapshot);
        }
        None => tracing::error!("reload failed, still serving the old zones"),
    }
}
