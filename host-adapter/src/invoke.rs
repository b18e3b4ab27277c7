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
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpView};

use crate::components::{Pre, Slot};
use crate::events::{HandlerError, KafkaRecord};
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

/// What a guest may print during one invocation; more is cut off (and the guest's write fails).
const GUEST_OUTPUT_CAPACITY: usize = 1024 * 1024;

/// A store for one invocation: the component's environment, memory cap and
/// epoch deadline. What the guest prints lands in the returned pipe.
fn new_store(runtime: &Runtime, slot: &Slot, timeout: Duration) -> (Store<GuestState>, MemoryOutputPipe) {
    let mut wasi = WasiCtx::builder();
    // No files, no sockets, only its manifest environment. What the guest prints
    // is captured and logged with the component and correlation id.
    let output = MemoryOutputPipe::new(GUEST_OUTPUT_CAPACITY);
    wasi.stderr(output.clone()).stdout(output.clone());
    for (k, v) in &slot.spec.environment {
        wasi.env(k, v);
    }
    let state = GuestState {
        wasi: wasi.build(),
        http: WasiHttpCtx::new(),
        table: ResourceTable::new(),
        limits: MemoryCap { limit: slot.spec.memory_limit_bytes as usize },
        pg: PgState::new(slot.db.clone()),
        variables: slot.variables.clone(),
    };
    let mut store = Store::new(&runtime.engine, state);
    store.limiter(|s| &mut s.limits);
    store.set_epoch_deadline(runtime.ticks_for(timeout));
    store.epoch_deadline_trap();
    (store, output)
}

fn log_output(component: &str, correlation: &str, output: &MemoryOutputPipe) {
    let printed = output.contents();
    if !printed.is_empty() {
        let text = String::from_utf8_lossy(&printed);
        tracing::info!(%component, correlation_id = %correlation, output = %text.trim_end(), "guest output");
    }
}

/// Runs `req` on a new instance of the slot's current build.
pub async fn invoke(
    runtime: &Runtime,
    slot: &Arc<Slot>,
    metrics: &Metrics,
    req: GuestRequest,
    correlation: &str,
) -> Result<hyper::Response<HyperOutgoingBody>, Failure> {
    let build = slot.current();
    let Pre::Http(pre) = &build.pre else {
        return Err(Failure::Internal("component does not serve HTTP".into()));
    };
    let pre = pre.clone();
    let timeout = Duration::from_millis(slot.spec.timeout_ms);
    let (mut store, output) = new_store(runtime, slot, timeout);

    let (sender, receiver) = tokio::sync::oneshot::channel();
    let req = store
        .data_mut()
        .http()
        .new_incoming_request(Scheme::Http, req.map(|b| b.map_err(|never| -> wasmtime_wasi_http::Error { match never {} })))
        .map_err(|e| Failure::Internal(format!("{e:#}")))?;
    let out = store.data_mut().http().new_response_outparam(sender).map_err(|e| Failure::Internal(format!("{e:#}")))?;

    let component = slot.spec.id.clone();
    let instantiation = metrics.instantiation.with_label_values(&[&component]);
    // The guest may keep streaming the body after it has sent the head, so it runs in its own task.
    let task = tokio::spawn(async move {
        let started = Instant::now();
        let proxy = pre.instantiate_async(&mut store).await?;
        instantiation.observe(started.elapsed().as_secs_f64());
        proxy.wasi_http_incoming_handler().call_handle(&mut store, req, out).await
    });
    // The supervisor bounds the task by wall clock too (time spent in host calls
    // is not interrupted by epochs), logs what the guest printed, and reports how it ended.
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let correlation = correlation.to_string();
    tokio::spawn(async move {
        let mut task = task;
        let outcome = match tokio::time::timeout(timeout + Duration::from_millis(50), &mut task).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(e))) => Err(Failure::classify(e, timeout)),
            Ok(Err(join)) => Err(Failure::Internal(format!("guest task failed: {join}"))),
            Err(_) => {
                task.abort();
                Err(Failure::Deadline(timeout))
            }
        };
        log_output(&component, &correlation, &output);
        let _ = done_tx.send(outcome);
    });

    match receiver.await {
        Ok(Ok(resp)) => Ok(resp),
        Ok(Err(code)) => Err(Failure::Internal(format!("guest reported an error: {code:?}"))),
        Err(_) => match done_rx.await {
            Ok(Ok(())) => Err(Failure::Internal("guest returned without setting a response".into())),
            Ok(Err(failure)) => Err(failure),
            Err(_) => Err(Failure::Internal("guest supervisor vanished".into())),
        },
    }
}

/// How an event handler answered.
#[derive(Debug, PartialEq, Eq)]
pub enum EventOutcome {
    Handled,
    Retry(String),
    Reject(String),
}

/// Runs one Kafka record through a new instance of the slot's current build.
pub async fn invoke_event(
    runtime: &Runtime,
    slot: &Arc<Slot>,
    metrics: &Metrics,
    record: &KafkaRecord,
    correlation: &str,
) -> Result<EventOutcome, Failure> {
    let build = slot.current();
    let Pre::Event(pre) = &build.pre else {
        return Err(Failure::Internal("component does not handle events".into()));
    };
    let timeout = Duration::from_millis(slot.spec.timeout_ms);
    let (mut store, output) = new_store(runtime, slot, timeout);
    let component = slot.spec.id.as_str();
    let call = async {
        let started = Instant::now();
        let handler = pre.instantiate_async(&mut store).await?;
        metrics.instantiation.with_label_values(&[component]).observe(started.elapsed().as_secs_f64());
        handler.mart_events_handler().call_handle(&mut store, record).await
    };
    // Wall clock as well as epochs: time spent waiting in host calls is not interrupted by epochs.
    let result = match tokio::time::timeout(timeout + Duration::from_millis(50), call).await {
        Ok(Ok(Ok(()))) => Ok(EventOutcome::Handled),
        Ok(Ok(Err(HandlerError::Retry(why)))) => Ok(EventOutcome::Retry(why)),
        Ok(Ok(Err(HandlerError::Reject(why)))) => Ok(EventOutcome::Reject(why)),
        Ok(Err(e)) => Err(Failure::classify(e, timeout)),
        Err(_) => Err(Failure::Deadline(timeout)),
    };
    log_output(component, correlation, &output);
    result
}
