//! `mart`: build, provision and run the Online Mart's functions.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use mart_host::config::Config;
use mart_host::manifest::Manifest;

#[derive(Parser)]
#[command(name = "mart", version, about = "Runs the Online Mart's WebAssembly functions")]
struct Cli {
    /// Configuration file (default: ./mart.toml when present). `MART_*` variables override it.
    #[arg(long, global = true, env = "MART_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Build missing or stale functions, provision and migrate databases, and serve.
    Up {
        /// Skip building; serve what is already built.
        #[arg(long)]
        no_build: bool,
    },
    /// Build every function.
    Build,
    /// Provision service databases and apply migrations, then exit.
    Migrate,
    /// Hot-swap a component of a running host with a new build.
    Deploy {
        /// Component id, as in the manifest.
        component: String,
        /// The new .wasm build.
        file: PathBuf,
        /// Base URL of the running host.
        #[arg(long, env = "MART_URL", default_value = "http://127.0.0.1:3000")]
        url: String,
        /// Admin token (default: the bootstrap token in the state directory).
        #[arg(long, env = "MART_ADMIN_TOKEN")]
        token: Option<String>,
    },
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MART_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,wasmtime=warn,cranelift=warn,refinery_core::util=error"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let cfg = Config::load(cli.config.as_deref())?;
    init_logging(&cfg.log_format);
    match cli.command {
        Cmd::Up { no_build } => {
            let manifest = Manifest::load(&cfg.manifest)?;
            if !no_build {
                let m = manifest.clone();
                tokio::task::spawn_blocking(move || mart_host::build::build(&m, true)).await??;
            }
            let host = mart_host::host::start(&cfg).await?;
            eprintln!(
                "mart is serving {} on http://{}  (admin token: {}/secrets.toml; Ctrl-C stops)",
                manifest.name,
                host.addr,
                cfg.state_dir.display()
            );
            shutdown_signal().await;
            tracing::info!("shutting down; letting in-flight requests finish");
            host.stop().await;
        }
        Cmd::Build => {
            let manifest = Manifest::load(&cfg.manifest)?;
            mart_host::build::build(&manifest, false)?;
        }
        Cmd::Migrate => {
            let manifest = Manifest::load(&cfg.manifest)?;
            let mut secrets = mart_host::secrets::Secrets::load_or_create(&cfg.state_dir)?;
            let dbs = mart_host::db::prepare_all(&cfg.database, &manifest.root, &manifest.services(), &mut secrets).await?;
            eprintln!("migrated: {}", dbs.keys().cloned().collect::<Vec<_>>().join(", "));
        }
        Cmd::Deploy { component, file, url, token } => {
            let token = match token.or(cfg.admin_token.clone()) {
                Some(t) => t,
                None => mart_host::secrets::Secrets::load_or_create(&cfg.state_dir)?.admin_token,
            };
            let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let resp = reqwest::Client::new()
                .put(format!("{}/-/functions/{component}", url.trim_end_matches('/')))
                .bearer_auth(token)
                .header("content-type", "application/wasm")
                .body(bytes)
                .send()
                .await
                .with_context(|| format!("cannot reach the host at {url}"))?;
            let status = resp.status();
            let body = resp.text().await.unwrap_or_default();
            anyhow::ensure!(status.is_success(), "deploy refused ({status}): {body}");
            println!("{body}");
        }
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal handler");
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
