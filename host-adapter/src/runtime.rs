//! The wasmtime engine the host runs every component on.
//!
//! One engine per host: component model, async, a pooling allocator (instances
//! are recycled from preallocated slots, so per-request instantiation is cheap),
//! and epoch interruption driven by one ticker thread, which is how a guest
//! that never yields is stopped at its deadline.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ResourceLimiter};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::postgres::PgState;

/// Engine-wide settings (the per-component limits live in the manifest).
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// Upper bound for any component's memory cap; the pool reserves slots of this size.
    pub max_memory_mb: u64,
    /// Instances that may run at once across all components.
    pub max_instances: u32,
    /// Resolution of deadlines.
    pub epoch_tick_ms: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig { max_memory_mb: 256, max_instances: 256, epoch_tick_ms: 10 }
    }
}

/// The engine, its linker, and the thread that advances its epoch.
pub struct Runtime {
    pub engine: Engine,
    pub linker: Linker<GuestState>,
    pub config: EngineConfig,
    stop_ticker: Arc<AtomicBool>,
}

impl Runtime {
    pub fn new(config: EngineConfig) -> anyhow::Result<Runtime> {
        let mut pool = PoolingAllocationConfig::default();
        let n = config.max_instances;
        pool.total_component_instances(n)
            // A wasm32-wasip2 component is a handful of core instances (the
            // program plus adapter shims), with one or two memories and tables.
            .total_core_instances(n * 8)
            .total_memories(n * 2)
            .total_tables(n * 4)
            .total_stacks(n)
            .max_memory_size((config.max_memory_mb * 1024 * 1024) as usize);

        let mut wasm = Config::new();
        wasm.wasm_component_model(true)
            .epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&wasm).map_err(anyhow::Error::from)?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(anyhow::Error::from)?;
        // Only the types an incoming handler needs: components get no outbound HTTP.
        let http_opts = wasmtime_wasi_http::p2::bindings::LinkOptions::default();
        wasmtime_wasi_http::p2::bindings::http::types::add_to_linker::<_, wasmtime_wasi_http::WasiHttp>(
            &mut linker,
            &(&http_opts).into(),
            <GuestState as WasiHttpView>::http,
        )
        .map_err(anyhow::Error::from)?;
        crate::postgres::add_to_linker(&mut linker).map_err(anyhow::Error::from)?;
        crate::variables::add_to_linker(&mut linker).map_err(anyhow::Error::from)?;
        // `mart:events/types` has only types; event components import it as an empty instance.
        linker.instance("mart:events/types@0.1.0").map_err(anyhow::Error::from)?;

        let stop_ticker = Arc::new(AtomicBool::new(false));
        let tick = Duration::from_millis(config.epoch_tick_ms.max(1));
        let (weak, stop) = (engine.weak(), stop_ticker.clone());
        std::thread::Builder::new().name("epoch-ticker".into()).spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(tick);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        })?;
        Ok(Runtime { engine, linker, config, stop_ticker })
    }

    /// Epoch ticks for a deadline, rounded up so a deadline is never shorter than asked.
    pub fn ticks_for(&self, timeout: Duration) -> u64 {
        let tick = self.config.epoch_tick_ms.max(1) as u128;
        (timeout.as_millis().div_ceil(tick) as u64).max(1)
    }

    /// Compiles a component; CPU-heavy, so callers run it off the async executor.
    pub fn compile(&self, bytes: &[u8]) -> anyhow::Result<Component> {
        Component::new(&self.engine, bytes).map_err(anyhow::Error::from)
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Relaxed);
    }
}

/// Raised by the memory limiter so callers can tell a memory cap apart from other traps.
#[derive(Debug)]
pub struct MemoryLimitExceeded {
    pub limit: usize,
    pub desired: usize,
}

impl std::fmt::Display for MemoryLimitExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "memory cap of {} bytes exceeded (wanted {} bytes)", self.limit, self.desired)
    }
}

impl std::error::Error for MemoryLimitExceeded {}

/// Per-instance memory cap: growing past it traps the guest instead of
/// returning -1, so a runaway allocation ends the invocation with a clear cause.
pub struct MemoryCap {
    pub limit: usize,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(&mut self, _current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.limit {
            return Err(wasmtime::Error::new(MemoryLimitExceeded { limit: self.limit, desired }));
        }
        Ok(maximum.is_none_or(|max| desired <= max))
    }

    fn table_growing(&mut self, _current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(maximum.is_none_or(|max| desired <= max))
    }
}

/// Everything one component instance (one request or event) owns.
pub struct GuestState {
    pub wasi: WasiCtx,
    pub http: WasiHttpCtx,
    pub table: ResourceTable,
    pub limits: MemoryCap,
    pub pg: PgState,
    /// The component's resolved `[component.<id>.variables]`.
    pub variables: std::sync::Arc<std::collections::BTreeMap<String, String>>,
}

impl WasiView for GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for GuestState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: Default::default() }
    }
}
