//! Test component: never returns (a busy loop with no host calls to yield at).
use spin_sdk::http::{IntoResponse, Request};
use spin_sdk::http_component;

#[http_component]
fn handle(_req: Request) -> anyhow::Result<impl IntoResponse> {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
        if n == u64::MAX {
            break;
        }
    }
    Ok(spin_sdk::http::Response::new(200, "unreachable"))
}
