//! `mixmailer-authority`: `keygen` writes an authority key, `run` serves
//! SPEC 8's paths and takes part in each publication interval.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use clap::{Parser, Subcommand};
use mixmailer_authority::authority::Authority;
use mixmailer_authority::config::Config;
use mixmailer_authority::liveness::{maildir, send};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

#[derive(Parser)]
#[command(
    version,
    about = "MixMailer directory authority (SPEC 7, 8; docs/authority.md)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Writes a new authority key file (mode 0600) and prints its public key.
    Keygen {
        /// Where to write the key; an existing file is never overwritten.
        #[arg(long)]
        key: PathBuf,
    },
    /// Runs the authority.
    Run {
        /// The configuration file (TOML).
        #[arg(long)]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match Cli::parse().command {
        Command::Keygen { key } => mixmailer_authority::keyfile::generate(&key).map(|public| {
            println!("{}", B64.encode(public));
        }),
        Command::Run { config } => run(config),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mixmailer-authority: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(config: PathBuf) -> Result<(), String> {
    let config = Config::load(&config).map_err(|e| e.to_string())?;
    let listen = config.listen;
    let authority = Arc::new(Authority::new(config)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio: {e}"))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("listen on {listen}: {e}"))?;
        tracing::info!(%listen, "authority listening");
        tokio::spawn(timeline(authority.clone()));
        if authority.config().liveness.is_some() {
            tokio::spawn(probing(authority.clone()));
            tokio::spawn(arrivals(authority.clone()));
        }
        axum::serve(listener, mixmailer_authority::http::router(authority))
            .with_graceful_shutdown(shutdown())
            .await
            .map_err(|e| format!("HTTP server: {e}"))
    })
}

async fn shutdown() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
}

/// Votes, consensus and signatures: one tick every retry period.
async fn timeline(authority: Arc<Authority>) {
    let every = Duration::from_secs(authority.timeline().retry());
    loop {
        let a = authority.clone();
        if tokio::task::spawn_blocking(move || a.tick(SystemTime::now()))
            .await
            .is_err()
        {
            tracing::error!("timeline step failed");
        }
        tokio::time::sleep(every).await;
    }
}

async fn probing(authority: Arc<Authority>) {
    let Some(rules) = authority.liveness_rules() else {
        return;
    };
    // Rounds start on a fixed beat, not probe_interval after the previous
    // round ended: then neighbouring rounds are sent probe_interval apart,
    // within the radius in which an arrived probe clears a node of a lost
    // one (section 7), and a partner of a dead node that was unlucky in one
    // round is cleared by the next.
    let mut beat = tokio::time::interval(Duration::from_secs(rules.probe_interval));
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        beat.tick().await;
        let a = authority.clone();
        match tokio::task::spawn_blocking(move || send::probe_round(&a, SystemTime::now())).await {
            Ok(Ok(n)) => tracing::info!(probes = n, "probe round sent"),
            Ok(Err(e)) => tracing::warn!("probe round: {e}"),
            Err(_) => tracing::error!("probe round failed"),
        }
    }
}

async fn arrivals(authority: Arc<Authority>) {
    let Some(dir) = authority
        .config()
        .liveness
        .as_ref()
        .map(|l| l.maildir.clone())
    else {
        return;
    };
    loop {
        let a = authority.clone();
        let d = dir.clone();
        match tokio::task::spawn_blocking(move || maildir::collect_arrivals(a.store(), &d)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(arrived = n, "probes arrived"),
            Ok(Err(e)) => tracing::warn!("reading the probe Maildir: {e}"),
            Err(_) => tracing::error!("Maildir scan failed"),
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}
