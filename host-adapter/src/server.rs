//! The HTTP front of the host: routing, identity, limits, host endpoints.
//!
//! Requests under `/-/` and the probes (`/healthz`, `/readyz`, `/metrics`) are
//! the host's own; everything else is routed by the manifest to a component.
//! Before a guest sees a request the host removes identity headers a client
//! may have forged, verifies the bearer token, sets the verified identity and
//! a correlation id, and reads the body up to the component's limit.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use http::{header, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use crate::auth::{AuthError, Authenticator, Identity, ROLES_HEADER, SUBJECT_HEADER};
use crate::components::Components;
use crate::invoke::{self, Failure};
use crate::manifest::AuthRequirement;
use crate::metrics::Metrics;
use crate::postgres::ServiceDb;
use crate::problem::{json_response, problem};
use crate::router::Router;

pub const CORRELATION_HEADER: &str = "x-correlation-id";
/// Largest build `PUT /-/functions/<id>` accepts.
const MAX_DEPLOY_BYTES: usize = 256 * 1024 * 1024;

pub struct AppState {
    pub components: Arc<Components>,
    pub router: Router<String>,
    pub auth: Authenticator,
    pub metrics: Arc<Metrics>,
    pub dbs: BTreeMap<String, Arc<ServiceDb>>,
    pub kafka: crate::kafka::Kafka,
}

type Resp = Response<HyperOutgoingBody>;

pub async fn handle(state: Arc<AppState>, req: Request<Incoming>, client: SocketAddr) -> Result<Resp, Infallible> {
    let correlation = correlation_id(req.headers().get(CORRELATION_HEADER));
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let mut resp = dispatch(&state, req, client, &correlation).await;
    if let Ok(v) = HeaderValue::from_str(&correlation) {
        resp.headers_mut().insert(HeaderName::from_static(CORRELATION_HEADER), v);
    }
    tracing::debug!(%method, %path, status = resp.status().as_u16(), correlation_id = %correlation, "request");
    Ok(resp)
}

/// The gateway's correlation id when it is sane, a new one otherwise.
fn correlation_id(given: Option<&HeaderValue>) -> String {
    given
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

async fn dispatch(state: &Arc<AppState>, req: Request<Incoming>, client: SocketAddr, correlation: &str) -> Resp {
    let path = req.uri().path();
    if path == "/healthz" || path == "/readyz" || path == "/metrics" || path == "/-" || path.starts_with("/-/") {
        return host_endpoint(state, req).await;
    }

    let identity = match state.auth.authenticate(req.headers().get(header::AUTHORIZATION).map(|v| v.as_bytes())) {
        Ok(id) => id,
        Err(e) => return unauthorized(e),
    };
    let Some(matched) = state.router.route(path) else {
        return problem(StatusCode::NOT_FOUND, "not-found", "Not Found", format!("no route serves {path}"));
    };
    let component = matched.target.clone();
    let Some(slot) = state.components.get(&component) else {
        return problem(StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal Server Error", "route names no loaded component");
    };
    if slot.spec.auth == AuthRequirement::Required && identity.is_none() {
        return unauthorized(AuthError::Malformed);
    }

    let started = Instant::now();
    let (mut parts, body) = req.into_parts();
    let limit = slot.spec.max_body_bytes as usize;
    if let Some(len) = parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok()) {
        if len > limit as u64 {
            return too_large(limit);
        }
    }
    let body = match Limited::new(body, limit).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => return too_large(limit),
        Err(e) => {
            return problem(StatusCode::BAD_REQUEST, "bad-request", "Bad Request", format!("could not read the request body: {e}"))
        }
    };

    let headers = &mut parts.headers;
    let forged: Vec<HeaderName> = headers
        .keys()
        .filter(|k| k.as_str().starts_with("x-mart-") || k.as_str().starts_with("spin-"))
        .cloned()
        .collect();
    for k in forged {
        headers.remove(k);
    }
    if let Some(Identity { subject, roles }) = &identity {
        set(headers, SUBJECT_HEADER, subject);
        set(headers, ROLES_HEADER, &roles.join(","));
    }
    set(headers, CORRELATION_HEADER, correlation);
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost").to_string();
    if !headers.contains_key(header::HOST) {
        set(headers, "host", &host);
    }
    let path_and_query = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/").to_string();
    // What Spin tells its components about routing, so spin-sdk code behaves the same here.
    set(headers, "spin-full-url", &format!("http://{host}{path_and_query}"));
    set(headers, "spin-path-info", &matched.path_info);
    set(headers, "spin-matched-route", matched.route);
    set(headers, "spin-component-route", matched.route.trim_end_matches("/..."));
    set(headers, "spin-raw-component-route", matched.route);
    set(headers, "spin-base-path", "/");
    set(headers, "spin-client-addr", &client.to_string());
    for (name, value) in &matched.params {
        set(headers, &format!("spin-path-match-{name}"), value);
    }
    parts.uri = match http::Uri::builder().scheme("http").authority(host.as_str()).path_and_query(path_and_query).build() {
        Ok(u) => u,
        Err(e) => return problem(StatusCode::BAD_REQUEST, "bad-request", "Bad Request", format!("bad request target: {e}")),
    };

    let request = Request::from_parts(parts, Full::new(body));
    let result = invoke::invoke(&state.components.runtime, &slot, &state.metrics, request, correlation).await;
    let resp = match result {
        Ok(r) => r,
        Err(failure) => failure_response(&component, correlation, failure),
    };
    state.metrics.requests.with_label_values(&[&component, resp.status().as_str()]).inc();
    state.metrics.latency.with_label_values(&[&component]).observe(started.elapsed().as_secs_f64());
    resp
}

fn set(headers: &mut http::HeaderMap, name: &str, value: &str) {
    if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::from_str(value)) {
        headers.insert(n, v);
    }
}

fn failure_response(component: &str, correlation: &str, failure: Failure) -> Resp {
    match failure {
        Failure::Trap(detail) => {
            tracing::error!(%component, correlation_id = %correlation, error = %detail, "guest trapped");
            problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "function-failed",
                "Function Failed",
                format!("the `{component}` function failed while handling this request"),
            )
        }
        Failure::Memory(detail) => {
            tracing::error!(%component, correlation_id = %correlation, error = %detail, "guest exceeded its memory cap");
            problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "memory-limit",
                "Memory Limit Exceeded",
                format!("the `{component}` function exceeded its memory limit"),
            )
        }
        Failure::Deadline(timeout) => {
            tracing::error!(%component, correlation_id = %correlation, timeout_ms = timeout.as_millis() as u64, "guest missed its deadline");
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "deadline-exceeded",
                "Deadline Exceeded",
                format!("the `{component}` function did not finish within {} ms", timeout.as_millis()),
            )
        }
        Failure::Busy(detail) => {
            tracing::warn!(%component, correlation_id = %correlation, error = %detail, "no instance slot free");
            let mut r = problem(StatusCode::SERVICE_UNAVAILABLE, "busy", "Busy", "the host is at its instance limit; retry shortly");
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            r
        }
        Failure::Internal(detail) => {
            tracing::error!(%component, correlation_id = %correlation, error = %detail, "invocation failed");
            problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "function-failed",
                "Function Failed",
                format!("the `{component}` function did not produce a response"),
            )
        }
    }
}

fn too_large(limit: usize) -> Resp {
    problem(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload-too-large",
        "Payload Too Large",
        format!("the request body is larger than this route's limit of {limit} bytes"),
    )
}

fn unauthorized(e: AuthError) -> Resp {
    let detail = match e {
        AuthError::Malformed => "send `Authorization: Bearer <token>`".to_string(),
        AuthError::Invalid(why) => format!("the bearer token is not valid: {why}"),
    };
    let mut r = problem(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized", detail);
    r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"mart\""));
    r
}

fn method_not_allowed(allow: &'static str) -> Resp {
    let mut r = problem(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "Method Not Allowed", format!("allowed: {allow}"));
    r.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
    r
}

async fn host_endpoint(state: &Arc<AppState>, req: Request<Incoming>) -> Resp {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    match path.as_str() {
        "/healthz" => {
            if method != Method::GET {
                return method_not_allowed("GET");
            }
            json_response(StatusCode::OK, "application/json", r#"{"status":"ok"}"#.into())
        }
        "/readyz" => {
            if method != Method::GET {
                return method_not_allowed("GET");
            }
            readiness(state).await
        }
        "/metrics" => {
            if method != Method::GET {
                return method_not_allowed("GET");
            }
            json_response(StatusCode::OK, "text/plain; version=0.0.4", state.metrics.render())
        }
        _ => admin_endpoint(state, req, &path, method).await,
    }
}

async fn readiness(state: &Arc<AppState>) -> Resp {
    let mut unreachable = Vec::new();
    for (service, db) in &state.dbs {
        if !crate::db::ping(&db.pool).await {
            unreachable.push(service.clone());
        }
    }
    if !state.kafka.reachable().await {
        unreachable.push(format!("Kafka broker {}", state.kafka.brokers));
    }
    if unreachable.is_empty() {
        let body = serde_json::json!({ "status": "ready", "components": state.components.list().len() });
        json_response(StatusCode::OK, "application/json", body.to_string())
    } else {
        problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "not-ready",
            "Not Ready",
            format!("unreachable: {}", unreachable.join(", ")),
        )
    }
}

/// `/-/functions` and `/-/functions/<id>`: admin only.
async fn admin_endpoint(state: &Arc<AppState>, req: Request<Incoming>, path: &str, method: Method) -> Resp {
    match state.auth.authenticate(req.headers().get(header::AUTHORIZATION).map(|v| v.as_bytes())) {
        Err(e) => return unauthorized(e),
        Ok(None) => return unauthorized(AuthError::Malformed),
        Ok(Some(id)) if !id.roles.iter().any(|r| r == "admin") => {
            return problem(StatusCode::FORBIDDEN, "forbidden", "Forbidden", "host administration needs the admin role")
        }
        Ok(Some(_)) => {}
    }
    if path == "/-/functions" {
        if method != Method::GET {
            return method_not_allowed("GET");
        }
        let body = serde_json::json!({ "functions": state.components.list() });
        return json_response(StatusCode::OK, "application/json", body.to_string());
    }
    if let Some(id) = path.strip_prefix("/-/functions/") {
        let Some(slot) = state.components.get(id) else {
            return problem(StatusCode::NOT_FOUND, "not-found", "Not Found", format!("no component `{id}`"));
        };
        return match method {
            Method::GET => {
                let info = state.components.list().into_iter().find(|c| c.id == slot.spec.id);
                json_response(StatusCode::OK, "application/json", serde_json::to_string(&info).unwrap_or_default())
            }
            Method::PUT => {
                let bytes = match Limited::new(req.into_body(), MAX_DEPLOY_BYTES).collect().await {
                    Ok(b) => b.to_bytes(),
                    Err(_) => return too_large(MAX_DEPLOY_BYTES),
                };
                match state.components.deploy(id, bytes.to_vec()).await {
                    Ok(info) => json_response(StatusCode::OK, "application/json", serde_json::to_string(&info).unwrap_or_default()),
                    Err(refused) => problem(StatusCode::UNPROCESSABLE_ENTITY, "build-refused", "Build Refused", refused.0),
                }
            }
            _ => method_not_allowed("GET, PUT"),
        };
    }
    problem(StatusCode::NOT_FOUND, "not-found", "Not Found", format!("no host endpoint {path}"))
}

/// Serves connections until `shutdown` resolves, then lets open requests finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, addr) = match accepted {
                    Ok(x) => x,
                    Err(e) => { tracing::warn!(error = %e, "accept failed"); continue; }
                };
                let _ = stream.set_nodelay(true);
                let state = state.clone();
                let svc = hyper::service::service_fn(move |req| handle(state.clone(), req, addr));
                let conn = hyper::server::conn::http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection closed with an error");
                    }
                });
            }
            _ = &mut shutdown => break,
        }
    }
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), graceful.shutdown()).await;
}
