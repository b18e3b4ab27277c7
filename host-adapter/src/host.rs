//! Assembling a running host from configuration.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::oneshot;

use crate::auth::Authenticator;
use crate::components::Components;
use crate::config::Config;
use crate::manifest::Manifest;
use crate::metrics::Metrics;
use crate::router::Router;
use crate::runtime::Runtime;
use crate::secrets::Secrets;
use crate::server::{self, AppState};

/// A host serving HTTP; dropping it without `stop` leaves the server running until the runtime ends.
pub struct RunningHost {
    pub addr: SocketAddr,
    /// The bootstrap admin token in force (from configuration or generated).
    pub admin_token: String,
    pub state: Arc<AppState>,
    stop: Option<oneshot::Sender<()>>,
    served: tokio::task::JoinHandle<()>,
    _watcher: Option<notify::RecommendedWatcher>,
}

impl RunningHost {
    /// Stops accepting connections and waits for in-flight requests.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.served).await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Signs a JWT with the host's key, as the user service will through a host import.
    pub fn sign_token(&self, subject: &str, roles: &[String]) -> anyhow::Result<String> {
        self.state.auth.sign(subject, roles, std::time::Duration::from_secs(3600))
    }
}

/// Loads the manifest, provisions and migrates databases, loads every component and starts serving.
pub async fn start(cfg: &Config) -> anyhow::Result<RunningHost> {
    let manifest = Manifest::load(&cfg.manifest)?;
    let mut secrets = Secrets::load_or_create(&cfg.state_dir)
        .with_context(|| format!("state directory {}", cfg.state_dir.display()))?;
    let admin_token = cfg.admin_token.clone().unwrap_or_else(|| secrets.admin_token.clone());
    let jwt_secret = cfg.jwt_secret.clone().unwrap_or_else(|| secrets.jwt_secret.clone());

    let dbs = crate::db::prepare_all(&cfg.database, &manifest.root, &manifest.services(), &mut secrets).await?;
    let runtime = Arc::new(Runtime::new(cfg.engine.clone())?);
    let metrics = Arc::new(Metrics::new());
    let specs = manifest.triggered_components().into_iter().cloned().collect();
    let components = Arc::new(Components::load(runtime, specs, &dbs, metrics.clone()).await?);
    let watcher = if cfg.watch { Some(components.watch()?) } else { None };

    let router = Router::new(manifest.http_routes.iter().map(|r| (r.route.clone(), r.component.clone())))
        .map_err(|e| anyhow::anyhow!("{}: {e}", manifest.path.display()))?;
    let state = Arc::new(AppState {
        components,
        router,
        auth: Authenticator::new(&admin_token, jwt_secret.as_bytes(), &cfg.jwt_issuer),
        metrics,
        dbs,
    });
    let listener = tokio::net::TcpListener::bind(&cfg.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel();
    let served = tokio::spawn(server::serve(listener, state.clone(), async {
        let _ = rx.await;
    }));
    tracing::info!(%addr, app = %manifest.name, "serving");
    Ok(RunningHost { addr, admin_token, state, stop: Some(tx), served, _watcher: watcher })
}
