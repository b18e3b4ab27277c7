//! Running one HTTP request through a component instance.
//!
//! Each request gets a fresh instance from the slot's pre-instance, its own
//! store with the component's memory cap and an epoch deadline, and a
//! wall-clock timeout for time spent waiting in host calls. Whatever the
//! guest does — trap, spin, allocate without bound — ends only this request.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use wasmtime::component::ResourceTable;
use wasmtime::{Store, Trap};
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpView};

use crate::components::Slot;
use crate::metrics::Metrics;
use crate::postgres::PgState;
use crate::runtime::{GuestState, MemoryCap, MemoryLimitExceeded, Runtime};

/// How an invocation failed, as the client and the logs should see it.
#[derive(Debug)]
pub enum Failure {
    /// The guest trapped (panic, unreachable, bad memory access, …).
    Trap(String),
    /// The guest ran past its deadline.
    Deadline(Duration),
    /// The guest tried to grow memory past its cap.
    Memory(String),
    /// No instance slot was free.
    Busy(String),
    /// The guest returned without producing a response, or a host-side error.
    Internal(String),
}

impl Failure {
    fn classify(e: wasmtime::Error, timeout: Duration) -> Failure {
        if let Some(m) = e.downcast_ref::<MemoryLimitExceeded>() {
            return Failure::Memory(m.to_string());
        }
        if let Some(Trap::Interrupt) = e.downcast_ref::<Trap>() {
            return Failure::Deadline(timeout);
        }
        if e.downcast_ref::<wasmtime::PoolConcurrencyLimitError>().is_some() {
            return Failure::Busy(format!("{e:#}"));
        }
        if e.downcast_ref::<Trap>().is_some() {
            return Failure::Trap(format!("{e:#}"));
        }
        Failure::Trap(format!("{e:#}"))
    }
}

/// A request ready for the guest: head plus a fully read (size-checked) body.
pub type GuestRequest = http::Request<Full<Bytes>>;

/// Runs `req` on a new instance of the slot's current build.
pub async fn invoke(
    runtime: &Runtime,
    slot: &Arc<Slot>,
    metrics: &Metrics,
    req: GuestRequest,
) -> Result<hyper::Response<HyperOutgoingBody>, Failure> {
    let build = slot.current();
    let timeout = Duration::from_millis(slot.spec.timeout_ms);
    let mut wasi = WasiCtx::builder();
    // Guest logs go to the host's stderr; no files, no sockets, only its manifest environment.
    wasi.inherit_stderr().inherit_stdout();
    for (k, v) in &slot.spec.environment {
        wasi.env(k, v);
    }
    let state = GuestState {
        wasi: wasi.build(),
        http: WasiHttpCtx::new(),
        table: ResourceTable::new(),
        limits: MemoryCap { limit: slot.spec.memory_limit_bytes as usize },
        pg: PgState::new(slot.db.clone()),
    };
    let mut store = Store::new(&runtime.engine, state);
    store.limiter(|s| &mut s.limits);
    store.set_epoch_deadline(runtime.ticks_for(timeout));
    store.epoch_deadline_trap();

    let (sender, receiver) = tokio::sync::oneshot::channel();
    let req = store
        .data_mut()
        .http()
        .new_incoming_request(Scheme::Http, req.map(|b| b.map_err(|never| -> wasmtime_wasi_http::Error { match never {} })))
        .map_err(|e| Failure::Internal(format!("{e:#}")))?;
    let out = store.data_mut().http().new_response_outparam(sender).map_err(|e| Failure::Internal(format!("{e:#}")))?;

    let pre = build.pre.clone();
    let component = slot.spec.id.clone();
    let instantiation = metrics.instantiation.with_label_values(&[&component]);
    // The guest may keep streaming the body after it has sent the head, so it runs in its own task.
    let task = tokio::spawn(async move {
        let started = Instant::now();
        let proxy = pre.instantiate_async(&mut store).await?;
        instantiation.observe(started.elapsed().as_secs_f64());
        proxy.wasi_http_incoming_handler().call_handle(&mut store, req, out).await
    });
    let abort = task.abort_handle();
    // Wall clock covers time spent in host calls, which epochs do not interrupt.
    let watchdog = tokio::spawn(async move {
        tokio::time::sleep(timeout + Duration::from_millis(50)).await;
        abort.abort();
    });

    let result = match receiver.await {
        Ok(Ok(resp)) => Ok(resp),
        Ok(Err(code)) => Err(Failure::Internal(format!("guest reported an error: {code:?}"))),
        Err(_) => match task.await {
            Ok(Ok(())) => Err(Failure::Internal("guest returned without setting a response".into())),
            Ok(Err(e)) => Err(Failure::classify(e, timeout)),
            Err(join) if join.is_cancelled() => Err(Failure::Deadline(timeout)),
            Err(join) => Err(Failure::Internal(format!("guest task failed: {join}"))),
        },
    };
    if result.is_err() {
        watchdog.abort();
    }
    // On success the watchdog stays armed: it still bounds a guest streaming its body forever.
    result
}
