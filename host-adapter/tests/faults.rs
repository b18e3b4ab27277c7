//! A misbehaving guest fails only its own request; the host keeps serving.

mod common;

use std::time::{Duration, Instant};

use common::{problem, wasm, TestHost};

const MANIFEST: &str = r#"
spin_manifest_version = 2
[application]
name = "faults"

[[trigger.http]]
route = "/echo/..."
component = "echo"
[[trigger.http]]
route = "/trap"
component = "trap"
[[trigger.http]]
route = "/loop"
component = "spin-loop"
[[trigger.http]]
route = "/hog"
component = "memory-hog"
[[trigger.http]]
route = "/private/..."
component = "private"

[variables]
who = { default = "world" }

[component.echo]
source = "echo.wasm"
[component.echo.variables]
greeting = "hello {{ who }}"
[component.echo.tool.mart]
max_body_bytes = 1024

[component.private]
source = "echo.wasm"
[component.private.tool.mart]
auth = "required"

[component.trap]
source = "trap.wasm"

[component.spin-loop]
source = "loop.wasm"
[component.spin-loop.tool.mart]
timeout_ms = 300

[component.memory-hog]
source = "hog.wasm"
[component.memory-hog.tool.mart]
memory_limit_mb = 16
"#;

async fn host() -> TestHost {
    let (echo, trap, lp, hog) = (wasm("tc_echo"), wasm("tc_trap"), wasm("tc_spin_loop"), wasm("tc_memory_hog"));
    TestHost::start(MANIFEST, &[("echo.wasm", &echo), ("trap.wasm", &trap), ("loop.wasm", &lp), ("hog.wasm", &hog)], &[])
        .await
}

async fn echo_ok(h: &TestHost) {
    let r = h.get("/echo/ping").await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().starts_with("echo /echo/ping"));
}

#[tokio::test]
async fn trap_fails_only_its_request() {
    let h = host().await;
    let (trapped, fine) = tokio::join!(h.get("/trap"), h.get("/echo/ping"));
    let p = problem(trapped, 500).await;
    assert!(p["type"].as_str().unwrap().ends_with("function-failed"), "{p}");
    assert_eq!(fine.status(), 200);
    // Repeatedly: no instance slot, connection or memory is lost to the traps.
    for _ in 0..20 {
        problem(h.get("/trap").await, 500).await;
    }
    echo_ok(&h).await;
    h.stop().await;
}

#[tokio::test]
async fn endless_loop_is_stopped_at_its_deadline_while_others_are_served() {
    let h = host().await;
    let started = Instant::now();
    let looping = h.get("/loop");
    let others = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let t = Instant::now();
        echo_ok(&h).await;
        t.elapsed()
    };
    let (looped, echo_took) = tokio::join!(looping, others);
    let p = problem(looped, 503).await;
    assert!(p["type"].as_str().unwrap().ends_with("deadline-exceeded"), "{p}");
    assert!(p["detail"].as_str().unwrap().contains("300 ms"), "{p}");
    // The loop ran to its deadline, not forever; the neighbour never waited for it.
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(echo_took < Duration::from_millis(250), "echo waited {echo_took:?} behind the loop");
    echo_ok(&h).await;
    h.stop().await;
}

#[tokio::test]
async fn memory_hog_hits_its_cap_and_only_its_request_fails() {
    let h = host().await;
    let (hog, fine) = tokio::join!(h.get("/hog"), h.get("/echo/x"));
    let p = problem(hog, 500).await;
    assert!(p["type"].as_str().unwrap().ends_with("memory-limit"), "{p}");
    assert_eq!(fine.status(), 200);
    echo_ok(&h).await;
    h.stop().await;
}

#[tokio::test]
async fn unknown_route_and_host_endpoints() {
    let h = host().await;
    let p = problem(h.get("/nowhere").await, 404).await;
    assert!(p["detail"].as_str().unwrap().contains("/nowhere"));
    assert_eq!(h.get("/healthz").await.status(), 200);
    assert_eq!(h.get("/readyz").await.status(), 200);
    problem(h.client.post(h.url("/healthz")).send().await.unwrap(), 405).await;
    h.stop().await;
}

#[tokio::test]
async fn oversized_body_is_refused_before_the_guest() {
    let h = host().await;
    let r = h.client.post(h.url("/echo/big")).body(vec![b'x'; 4096]).send().await.unwrap();
    let p = problem(r, 413).await;
    assert!(p["detail"].as_str().unwrap().contains("1024"), "{p}");
    // Chunked, with no Content-Length to check up front.
    let chunks = futures::stream::iter((0..8).map(|_| Ok::<_, std::io::Error>(vec![b'y'; 512])));
    let r = h.client.post(h.url("/echo/big")).body(reqwest::Body::wrap_stream(chunks)).send().await.unwrap();
    problem(r, 413).await;
    // At the limit is fine.
    let r = h.client.post(h.url("/echo/ok")).body(vec![b'x'; 1024]).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().ends_with("body=1024"));
    h.stop().await;
}

#[tokio::test]
async fn identity_is_verified_by_the_host_and_cannot_be_forged() {
    let h = host().await;
    let forged = h.client.get(h.url("/echo/me")).header("x-mart-subject", "mallory").send().await.unwrap();
    assert!(forged.text().await.unwrap().contains("as anonymous"));

    let admin = h.client.get(h.url("/echo/me")).header("authorization", h.admin()).send().await.unwrap();
    assert!(admin.text().await.unwrap().contains("as bootstrap-admin"));

    let token = h.host.sign_token("user-42", &["customer".into()]).unwrap();
    let user = h.client.get(h.url("/echo/me")).bearer_auth(&token).send().await.unwrap();
    assert!(user.text().await.unwrap().contains("as user-42"));

    let bad = h.client.get(h.url("/echo/me")).bearer_auth("not-a-token").send().await.unwrap();
    assert!(bad.headers().contains_key("www-authenticate"));
    problem(bad, 401).await;

    // A component that requires authentication refuses anonymous callers.
    problem(h.get("/private/x").await, 401).await;
    let ok = h.client.get(h.url("/private/x")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    h.stop().await;
}

#[tokio::test]
async fn correlation_id_is_kept_or_generated() {
    let h = host().await;
    let r = h.client.get(h.url("/echo/c")).header("x-correlation-id", "abc-123").send().await.unwrap();
    assert_eq!(r.headers()["x-correlation-id"], "abc-123");
    let r = h.get("/echo/c").await;
    assert_eq!(r.headers()["x-correlation-id"].len(), 36);
    // Something that could inject into logs is replaced.
    let r = h.client.get(h.url("/echo/c")).header("x-correlation-id", "a b\tc").send().await.unwrap();
    assert_ne!(r.headers()["x-correlation-id"], "a b\tc");
    h.stop().await;
}

#[tokio::test]
async fn function_list_is_admin_only_and_metrics_count_requests() {
    let h = host().await;
    problem(h.get("/-/functions").await, 401).await;
    let token = h.host.sign_token("user-1", &["customer".into()]).unwrap();
    problem(h.client.get(h.url("/-/functions")).bearer_auth(token).send().await.unwrap(), 403).await;
    let list: serde_json::Value =
        h.client.get(h.url("/-/functions")).header("authorization", h.admin()).send().await.unwrap().json().await.unwrap();
    let fns = list["functions"].as_array().unwrap();
    assert_eq!(fns.len(), 5);
    let echo = fns.iter().find(|f| f["id"] == "echo").unwrap();
    assert!(echo["digest"].as_str().unwrap().starts_with("sha256:"));
    assert!(echo["loaded_at"].is_string());

    echo_ok(&h).await;
    problem(h.get("/trap").await, 500).await;
    let metrics = h.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains(r#"mart_http_requests_total{component="echo",status="200"}"#), "{metrics}");
    assert!(metrics.contains(r#"mart_http_requests_total{component="trap",status="500"}"#), "{metrics}");
    assert!(metrics.contains("mart_instantiation_duration_seconds_count{component=\"echo\"}"), "{metrics}");
    assert!(metrics.contains("mart_http_request_duration_seconds_bucket{component=\"echo\""), "{metrics}");
    h.stop().await;
}

#[tokio::test]
async fn components_read_their_manifest_variables() {
    let h = host().await;
    assert_eq!(h.get("/echo/v?variable=greeting").await.text().await.unwrap(), "value hello world");
    let missing = h.get("/echo/v?variable=nope").await.text().await.unwrap();
    assert!(missing.starts_with("error Error::Undefined"), "{missing}");
    let invalid = h.get("/echo/v?variable=Bad-Name").await.text().await.unwrap();
    assert!(invalid.starts_with("error Error::InvalidName"), "{invalid}");
    // Another component sees only its own variables.
    let other = h.client.get(h.url("/private/v?variable=greeting")).header("authorization", h.admin()).send().await.unwrap();
    assert!(other.text().await.unwrap().starts_with("error Error::Undefined"));
    h.stop().await;
}
