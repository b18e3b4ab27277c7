//! Test component: allocates (and touches) memory until something stops it.
use spin_sdk::http::{IntoResponse, Request};
use spin_sdk::http_component;

#[http_component]
fn handle(_req: Request) -> anyhow::Result<impl IntoResponse> {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    while std::hint::black_box(hoard.len()) < usize::MAX {
        hoard.push(vec![1u8; 1024 * 1024]);
    }
    Ok(spin_sdk::http::Response::new(200, format!("hoarded {}", hoard.len())))
}
