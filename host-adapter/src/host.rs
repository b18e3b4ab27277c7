//! Assembling a running host from configuration.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::{oneshot, watch};

use crate::auth::Authenticator;
use crate::components::Components;
use crate::config::Config;
use crate::kafka::{Kafka, LocalBroker};
use crate::outbox::Relay;
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
    stop_background: watch::Sender<bool>,
    background: Vec<tokio::task::JoinHandle<()>>,
    local_broker: Option<LocalBroker>,
    _watcher: Option<notify::RecommendedWatcher>,
}

impl RunningHost {
    /// Stops accepting connections, waits for in-flight requests, stops the
    /// consumers (committing what they handled) and relays, then a local broker.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.served).await;
        let _ = self.stop_background.send(true);
        for task in self.background.drain(..) {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(15), task).await;
        }
        if let Some(b) = self.local_broker.take() {
            b.stop().await;
        }
    }

    pub fn kafka(&self) -> &Kafka {
        &self.state.kafka
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
    // Variables are resolved once, at start; a required one without a value stops the start.
    let mut resolved = manifest.resolve_variables(|name| std::env::var(format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase())).ok())?;
    let specs = manifest
        .triggered_components()
        .into_iter()
        .cloned()
        .map(|mut spec| {
            spec.variables = resolved.remove(&spec.id).unwrap_or_default();
            spec
        })
        .collect();
    let components = Arc::new(Components::load(runtime, specs, &dbs, metrics.clone()).await?);
    let watcher = if cfg.watch { Some(components.watch()?) } else { None };

    let (brokers, local_broker) = match &cfg.kafka.brokers {
        Some(b) => (b.clone(), None),
        None if cfg.kafka.start_local => {
            let local = LocalBroker::start(cfg.kafka.local_port).await?;
            (local.brokers.clone(), Some(local))
        }
        None => anyhow::bail!("no Kafka broker: set KAFKA_BROKERS (or kafka.brokers), or allow kafka.start_local"),
    };
    let kafka = Kafka::new(&brokers, &cfg.kafka)?;

    let (stop_background, stop_rx) = watch::channel(false);
    let mut background = Vec::new();
    for db in dbs.values() {
        let relay = Relay {
            db: db.clone(),
            kafka: kafka.clone(),
            metrics: metrics.clone(),
            poll: std::time::Duration::from_millis(cfg.kafka.relay_poll_ms),
        };
        background.push(tokio::spawn(relay.run(stop_rx.clone())));
    }
    // Topics first (retrying while the broker is unreachable), then the consumers.
    let mut topics: Vec<String> = mart_contracts::topics::ALL.iter().map(|t| t.to_string()).collect();
    for t in &manifest.kafka_triggers {
        for topic in &t.topics {
            topics.push(topic.clone());
            topics.push(format!("{topic}{}", crate::kafka::DLT_SUFFIX));
        }
    }
    topics.sort();
    topics.dedup();
    {
        let (kafka, triggers, components, metrics, stop) =
            (kafka.clone(), manifest.kafka_triggers.clone(), components.clone(), metrics.clone(), stop_rx.clone());
        background.push(tokio::spawn(async move {
            let mut delay = std::time::Duration::from_millis(250);
            loop {
                match kafka.ensure_topics(&topics).await {
                    Ok(()) => break,
                    Err(e) => tracing::warn!(brokers = %kafka.brokers, error = %format!("{e:#}"), "cannot create topics yet; retrying"),
                }
                if *stop.borrow() {
                    return;
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(std::time::Duration::from_secs(10));
            }
            let consumers: Vec<_> = triggers
                .into_iter()
                .map(|t| tokio::spawn(crate::kafka::run_trigger(kafka.clone(), t, components.clone(), metrics.clone(), stop.clone())))
                .collect();
            for c in consumers {
                let _ = c.await;
            }
        }));
    }

    let router = Router::new(manifest.http_routes.iter().map(|r| (r.route.clone(), r.component.clone())))
        .map_err(|e| anyhow::anyhow!("{}: {e}", manifest.path.display()))?;
    let state = Arc::new(AppState {
        components,
        router,
        auth: Authenticator::new(&admin_token, jwt_secret.as_bytes(), &cfg.jwt_issuer),
        metrics,
        dbs,
        kafka,
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
    Ok(RunningHost {
        addr,
        admin_token,
        state,
        stop: Some(tx),
        served,
        stop_background,
        background,
        local_broker,
        _watcher: watcher,
    })
}
