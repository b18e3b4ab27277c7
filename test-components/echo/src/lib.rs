//! Test component: answers `echo <path>`, optionally after `?sleep_ms=N`;
//! with `?variable=NAME` it answers that Spin variable's value instead.
//! Used as the well-behaved neighbour in fault tests and as the first build in hot-swap tests.
use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::http_component;

#[http_component]
fn handle(req: Request) -> anyhow::Result<impl IntoResponse> {
    let sleep_ms = req
        .query()
        .split('&')
        .find_map(|kv| kv.strip_prefix("sleep_ms="))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    if let Some(name) = req.query().split('&').find_map(|kv| kv.strip_prefix("variable=")) {
        let body = match spin_sdk::variables::get(name) {
            Ok(v) => format!("value {v}"),
            Err(e) => format!("error {e:?}"),
        };
        return Ok(Response::builder().status(200).header("content-type", "text/plain").body(body).build());
    }
    if sleep_ms > 0 {
        std::thread::sleep(std::time::Duration::from_millis(sleep_ms));
    }
    let subject = req.header("x-mart-subject").and_then(|v| v.as_str()).unwrap_or("anonymous").to_string();
    let body = format!("echo {} as {subject} body={}", req.path(), req.body().len());
    Ok(Response::builder().status(200).header("content-type", "text/plain").body(body).build())
}
