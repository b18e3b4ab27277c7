//! RFC 9457 `application/problem+json` responses produced by the host itself.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

/// Problem types live under one documented namespace so clients can switch on them.
pub const TYPE_BASE: &str = "urn:mart:problem:";

pub fn problem(status: StatusCode, kind: &str, title: &str, detail: impl Into<String>) -> Response<HyperOutgoingBody> {
    let body = serde_json::json!({
        "type": format!("{TYPE_BASE}{kind}"),
        "title": title,
        "status": status.as_u16(),
        "detail": detail.into(),
    });
    json_response(status, "application/problem+json", body.to_string())
}

pub fn json_response(status: StatusCode, content_type: &'static str, body: String) -> Response<HyperOutgoingBody> {
    let mut resp = Response::new(
        Full::new(Bytes::from(body)).map_err(|never| match never {}).boxed_unsync(),
    );
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}
