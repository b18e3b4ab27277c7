//! Loaded components and hot swap.
//!
//! Each component slot holds its current build behind an `ArcSwap`: a request
//! takes an `Arc` to the build it starts on and finishes on it, while a new
//! build is compiled off the request path, checked for the export its trigger
//! needs, and swapped in atomically. A build that fails either check is
//! refused and the running one keeps serving.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use notify::{RecursiveMode, Watcher};
use sha2::{Digest, Sha256};
use wasmtime_wasi_http::p2::bindings::ProxyPre;

use crate::events::EventHandlerPre;
use crate::manifest::{ComponentSpec, TriggerKind};
use crate::metrics::Metrics;
use crate::postgres::ServiceDb;
use crate::runtime::{GuestState, Runtime};

/// A pre-instantiated build, by the export its trigger calls.
pub enum Pre {
    Http(ProxyPre<GuestState>),
    Event(EventHandlerPre<GuestState>),
}

/// One build of a component, ready to instantiate.
pub struct Build {
    pub pre: Pre,
    pub digest: String,
    pub loaded_at: DateTime<Utc>,
    pub size: usize,
}

/// A component as the host runs it: its manifest settings and its current build.
pub struct Slot {
    pub spec: ComponentSpec,
    pub db: Option<Arc<ServiceDb>>,
    /// `spec.variables` with every template filled in.
    pub variables: Arc<BTreeMap<String, String>>,
    current: ArcSwap<Build>,
}

impl Slot {
    pub fn current(&self) -> Arc<Build> {
        self.current.load_full()
    }
}

#[derive(Debug, serde::Serialize)]
pub struct ComponentInfo {
    pub id: String,
    pub source: PathBuf,
    pub digest: String,
    pub loaded_at: DateTime<Utc>,
    pub size_bytes: usize,
    pub service: Option<String>,
    pub trigger: TriggerKind,
}

pub struct Components {
    pub runtime: Arc<Runtime>,
    slots: BTreeMap<String, Arc<Slot>>,
    metrics: Arc<Metrics>,
}

/// Why a build was refused.
#[derive(Debug)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Compiles and checks a build without touching any running one.
async fn prepare(runtime: &Arc<Runtime>, id: &str, kind: TriggerKind, bytes: Vec<u8>) -> Result<Build, Refused> {
    let rt = runtime.clone();
    let size = bytes.len();
    let digest = digest(&bytes);
    let id_owned = id.to_string();
    tokio::task::spawn_blocking(move || {
        let component = rt.compile(&bytes).map_err(|e| Refused(format!("`{id_owned}` does not compile: {e:#}")))?;
        let pre = rt
            .linker
            .instantiate_pre(&component)
            .map_err(|e| Refused(format!("`{id_owned}` needs an import the host does not provide: {e:#}")))?;
        let pre = match kind {
            TriggerKind::Http => Pre::Http(ProxyPre::new(pre).map_err(|e| {
                Refused(format!("`{id_owned}` does not export wasi:http/incoming-handler@0.2.x: {e:#}"))
            })?),
            TriggerKind::Event => Pre::Event(EventHandlerPre::new(pre).map_err(|e| {
                Refused(format!("`{id_owned}` does not export mart:events/handler@0.1.0: {e:#}"))
            })?),
        };
        Ok(Build { pre, digest, loaded_at: Utc::now(), size })
    })
    .await
    .map_err(|e| Refused(format!("compiling `{id}` panicked: {e}")))?
}

impl Components {
    /// Loads every component; any that cannot be loaded fails the start with its reason.
    pub async fn load(
        runtime: Arc<Runtime>,
        specs: Vec<ComponentSpec>,
        dbs: &BTreeMap<String, Arc<ServiceDb>>,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Components> {
        let max = runtime.config.max_memory_mb * 1024 * 1024;
        let mut slots = BTreeMap::new();
        for spec in specs {
            if spec.memory_limit_bytes > max {
                anyhow::bail!(
                    "component `{}`: memory_limit_mb {} is above the engine's max_memory_mb {}",
                    spec.id,
                    spec.memory_limit_bytes / 1024 / 1024,
                    runtime.config.max_memory_mb
                );
            }
            let bytes = std::fs::read(&spec.source).map_err(|e| {
                anyhow::anyhow!(
                    "component `{}`: cannot read {}: {e} (run `mart build` first)",
                    spec.id,
                    spec.source.display()
                )
            })?;
            let started = std::time::Instant::now();
            let build = prepare(&runtime, &spec.id, spec.kind, bytes).await?;
            tracing::info!(component = %spec.id, digest = %build.digest, ms = started.elapsed().as_millis() as u64, "component loaded");
            metrics.loaded.with_label_values(&[&spec.id]).set(1);
            let db = spec.service.as_ref().map(|s| {
                dbs.get(s).cloned().ok_or_else(|| anyhow::anyhow!("component `{}`: service `{s}` has no database", spec.id))
            });
            let db = db.transpose()?;
            let variables = Arc::new(spec.variables.clone());
            slots.insert(spec.id.clone(), Arc::new(Slot { spec, db, variables, current: ArcSwap::from_pointee(build) }));
        }
        Ok(Components { runtime, slots, metrics })
    }

    pub fn get(&self, id: &str) -> Option<Arc<Slot>> {
        self.slots.get(id).cloned()
    }

    pub fn list(&self) -> Vec<ComponentInfo> {
        self.slots
            .values()
            .map(|s| {
                let b = s.current();
                ComponentInfo {
                    id: s.spec.id.clone(),
                    source: s.spec.source.clone(),
                    digest: b.digest.clone(),
                    loaded_at: b.loaded_at,
                    size_bytes: b.size,
                    service: s.spec.service.clone(),
                    trigger: s.spec.kind,
                }
            })
            .collect()
    }

    /// Replaces a component's build. Unchanged bytes are a no-op; a broken build is refused.
    pub async fn deploy(&self, id: &str, bytes: Vec<u8>) -> Result<ComponentInfo, Refused> {
        let slot = self.get(id).ok_or_else(|| Refused(format!("no component `{id}`")))?;
        let new_digest = digest(&bytes);
        if slot.current().digest != new_digest {
            match prepare(&self.runtime, id, slot.spec.kind, bytes).await {
                Ok(build) => {
                    let old = slot.current.swap(Arc::new(build));
                    self.metrics.swaps.with_label_values(&[id, "swapped"]).inc();
                    tracing::info!(component = %id, from = %old.digest, to = %new_digest, "component swapped");
                }
                Err(e) => {
                    self.metrics.swaps.with_label_values(&[id, "refused"]).inc();
                    tracing::error!(component = %id, error = %e, "new build refused; the running build keeps serving");
                    return Err(e);
                }
            }
        }
        let b = slot.current();
        Ok(ComponentInfo {
            id: id.to_string(),
            source: slot.spec.source.clone(),
            digest: b.digest.clone(),
            loaded_at: b.loaded_at,
            size_bytes: b.size,
            service: slot.spec.service.clone(),
            trigger: slot.spec.kind,
        })
    }

    /// Watches every component's `.wasm` file and deploys it when it changes.
    ///
    /// The watch is on the parent directory, because build tools replace the
    /// file (new inode) rather than write into it. Events are debounced so a
    /// file caught half-written is read again once it has settled.
    pub fn watch(self: &Arc<Self>) -> anyhow::Result<notify::RecommendedWatcher> {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<PathBuf>();
        let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            if let Ok(event) = res {
                if matches!(event.kind, notify::EventKind::Create(_) | notify::EventKind::Modify(_)) {
                    for p in event.paths {
                        let _ = tx.send(p);
                    }
                }
            }
        })?;
        let mut dirs: Vec<PathBuf> = Vec::new();
        for slot in self.slots.values() {
            if let Some(dir) = slot.spec.source.parent() {
                if !dirs.iter().any(|d| d == dir) {
                    dirs.push(dir.to_path_buf());
                }
            }
        }
        for dir in &dirs {
            watcher.watch(dir, RecursiveMode::NonRecursive)?;
        }
        let this = self.clone();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut changed = vec![first];
                // Let the writer finish: collect events until the directory is quiet.
                while let Ok(Some(p)) = tokio::time::timeout(Duration::from_millis(250), rx.recv()).await {
                    changed.push(p);
                }
                for slot in this.slots.values() {
                    if changed.iter().any(|p| same_file(p, &slot.spec.source)) {
                        match tokio::fs::read(&slot.spec.source).await {
                            Ok(bytes) => {
                                let _ = this.deploy(&slot.spec.id, bytes).await;
                            }
                            Err(e) => tracing::warn!(component = %slot.spec.id, error = %e, "changed build could not be read"),
                        }
                    }
                }
            }
        });
        Ok(watcher)
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b || (a.file_name() == b.file_name() && a.parent().and_then(|p| p.canonicalize().ok()) == b.parent().and_then(|p| p.canonicalize().ok()))
}
