//! Test component: traps on every request (a Rust panic aborts the instance).
use spin_sdk::http::{IntoResponse, Request};
use spin_sdk::http_component;

#[http_component]
fn handle(_req: Request) -> anyhow::Result<impl IntoResponse> {
    let v: Vec<u8> = Vec::new();
    // Index out of bounds: a panic, which in wasm is a trap.
    let i = std::hint::black_box(3usize);
    Ok(spin_sdk::http::Response::new(200, format!("unreachable {}", v[i])))
}
