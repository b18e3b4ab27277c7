//! A new build replaces the running one without losing a request; a broken
//! build is refused and the running one keeps answering.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{problem, wasm, TestHost};

const MANIFEST: &str = r#"
spin_manifest_version = 2
[application]
name = "swap"

[[trigger.http]]
route = "/..."
component = "swappable"

[component.swappable]
source = "build/swappable.wasm"
environment = { SERVICE = "unused" }
"#;

async fn host() -> TestHost {
    // The build lives in a subdirectory, as a real build output does.
    let echo = wasm("tc_echo");
    let h = TestHost::start(MANIFEST, &[("build/swappable.wasm", &echo)], &[]).await;
    assert!(h.get("/hello").await.text().await.unwrap().starts_with("echo /hello"));
    h
}

/// Replaces a file the way build tools do: write a sibling, then rename over it.
fn replace(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("wasm.partial");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

async fn digest(h: &TestHost) -> String {
    let v: serde_json::Value = h
        .client
        .get(h.url("/-/functions/swappable"))
        .header("authorization", h.admin())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["digest"].as_str().unwrap().to_string()
}

async fn wait_for_body(h: &TestHost, prefix: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let body = h.get("/probe-me").await.text().await.unwrap();
        if body.starts_with(prefix) {
            return;
        }
        assert!(Instant::now() < deadline, "still answering {body:?}, expected {prefix}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn file_change_swaps_without_losing_in_flight_requests() {
    let h = host().await;
    let before = digest(&h).await;
    // Requests that are still running on the old build when the file changes.
    let in_flight: Vec<_> = (0..16)
        .map(|i| {
            let client = h.client.clone();
            let url = h.url(&format!("/slow/{i}?sleep_ms=600"));
            tokio::spawn(async move { client.get(url).send().await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(150)).await;
    replace(&h.dir.join("build/swappable.wasm"), &std::fs::read(wasm("tc_db_probe")).unwrap());
    for (i, req) in in_flight.into_iter().enumerate() {
        let resp = req.await.unwrap().expect("request dropped during swap");
        assert_eq!(resp.status(), 200);
        let body = resp.text().await.unwrap();
        assert!(body.starts_with(&format!("echo /slow/{i}")), "in-flight request {i} got {body:?}");
    }
    wait_for_body(&h, "probe").await;
    assert_ne!(digest(&h).await, before);
    h.stop().await;
}

#[tokio::test]
async fn broken_builds_are_refused_and_the_old_one_keeps_serving() {
    let h = host().await;
    let before = digest(&h).await;
    // Not wasm at all, then a core module (not a component): neither compiles as a component.
    for bad in [b"not wasm at all".to_vec(), b"\0asm\x01\0\0\0".to_vec()] {
        let r = h
            .client
            .put(h.url("/-/functions/swappable"))
            .header("authorization", h.admin())
            .body(bad.clone())
            .send()
            .await
            .unwrap();
        let p = problem(r, 422).await;
        assert!(p["detail"].as_str().unwrap().contains("does not compile"), "{p}");
        // The same bytes arriving as a file change are refused too.
        replace(&h.dir.join("build/swappable.wasm"), &bad);
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert!(h.get("/still").await.text().await.unwrap().starts_with("echo /still"));
    }
    // A component, but not an HTTP one: it lacks the export this route needs.
    let event_component = std::fs::read(wasm("tc_events")).unwrap();
    let r = h.client.put(h.url("/-/functions/swappable")).header("authorization", h.admin()).body(event_component).send().await.unwrap();
    let p = problem(r, 422).await;
    assert!(p["detail"].as_str().unwrap().contains("does not export wasi:http/incoming-handler"), "{p}");
    assert!(h.get("/still").await.text().await.unwrap().starts_with("echo /still"));
    assert_eq!(digest(&h).await, before);
    let metrics = h.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains(r#"mart_component_swaps_total{component="swappable",outcome="refused"}"#), "{metrics}");
    h.stop().await;
}

#[tokio::test]
async fn deploy_endpoint_swaps_and_is_admin_only() {
    let h = host().await;
    let probe = std::fs::read(wasm("tc_db_probe")).unwrap();
    problem(h.client.put(h.url("/-/functions/swappable")).body(probe.clone()).send().await.unwrap(), 401).await;
    problem(
        h.client.put(h.url("/-/functions/nope")).header("authorization", h.admin()).body(probe.clone()).send().await.unwrap(),
        404,
    )
    .await;
    let r = h.client.put(h.url("/-/functions/swappable")).header("authorization", h.admin()).body(probe).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let info: serde_json::Value = r.json().await.unwrap();
    assert_eq!(info["id"], "swappable");
    // Swapped before the response: the very next request runs the new build.
    assert_eq!(h.get("/x").await.text().await.unwrap(), "probe");
    h.stop().await;
}

#[tokio::test]
async fn mart_deploy_swaps_a_running_host() {
    let h = host().await;
    let probe = wasm("tc_db_probe");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_mart"))
        .args(["deploy", "swappable"])
        .arg(&probe)
        .args(["--url", &h.url(""), "--token", &h.host.admin_token])
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["id"], "swappable");
    assert_eq!(h.get("/x").await.text().await.unwrap(), "probe");
    // A refused build is a failing command that says why.
    let bad = h.dir.join("bad.wasm");
    std::fs::write(&bad, b"nope").unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_mart"))
        .args(["deploy", "swappable"])
        .arg(&bad)
        .args(["--url", &h.url(""), "--token", &h.host.admin_token])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not compile"));
    h.stop().await;
}
