//! `GET /products/{id}`: through the host (wasm component + PostgreSQL)
//! against a plain native Rust handler running the same SQL on the same pool.
//!
//! Run: `cargo bench -p mart-host --bench product_get` (after `scripts/test`
//! or `mart build` has built the product component). Prints requests/s and
//! p50/p99 latency for both, their ratio, and the mean instantiation time.
//! Tunables: BENCH_SECONDS (default 5), BENCH_CONCURRENCY (default 16).

#[path = "../tests/common/mod.rs"]
mod common;

use std::convert::Infallible;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use product_core::money::Money;
use product_core::product::{self, Product};
use product_core::SqlValue;
use tokio_postgres::types::ToSql;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The native baseline: what product-http does for this route, minus wasm.
async fn native_get(pool: deadpool_postgres::Pool, id: String) -> hyper::Response<Full<Bytes>> {
    let q = product::select_by_id_sql(&id);
    let client = pool.get().await.expect("pooled connection");
    let stmt = client.prepare_cached(&q.sql).await.expect("prepare");
    let params: Vec<Box<dyn ToSql + Sync + Send>> = q
        .params
        .iter()
        .map(|p| -> Box<dyn ToSql + Sync + Send> {
            match p {
                SqlValue::Uuid(u) => Box::new(uuid::Uuid::parse_str(u).unwrap()),
                SqlValue::Text(t) => Box::new(t.clone()),
                SqlValue::Int(i) => Box::new(*i),
                SqlValue::Bool(b) => Box::new(*b),
                SqlValue::Null => Box::new(Option::<String>::None),
            }
        })
        .collect();
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect();
    let row = client.query_opt(&stmt, &refs).await.expect("query");
    let Some(row) = row else {
        return hyper::Response::builder().status(404).body(Full::new(Bytes::new())).unwrap();
    };
    let ts = |c: &str| row.get::<_, chrono::DateTime<chrono::Utc>>(c).format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    let p = Product {
        id: row.get::<_, uuid::Uuid>("id").to_string(),
        sku: row.get("sku"),
        name: row.get("name"),
        description: row.get("description"),
        price: Money { amount_minor: row.get("price_minor"), currency: row.get("currency") },
        category_id: row.get::<_, Option<uuid::Uuid>>("category_id").map(|u| u.to_string()),
        image_url: row.get("image_url"),
        active: row.get("active"),
        created_at: ts("created_at"),
        updated_at: ts("updated_at"),
    };
    hyper::Response::builder()
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(serde_json::to_vec(&p).unwrap())))
        .unwrap()
}

async fn serve_native(pool: deadpool_postgres::Pool) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let _ = stream.set_nodelay(true);
            let pool = pool.clone();
            let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let pool = pool.clone();
                let id = req.uri().path().trim_start_matches("/products/").to_string();
                async move { Ok::<_, Infallible>(native_get(pool, id).await) }
            });
            tokio::spawn(hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(stream), svc));
        }
    });
    addr
}

struct Figures {
    rps: f64,
    p50: Duration,
    p99: Duration,
    requests: usize,
}

/// Closed-loop load: `concurrency` clients each issue requests back to back for `secs`.
async fn load(url: String, concurrency: usize, secs: u64, expect: &serde_json::Value) -> Figures {
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build().unwrap();
    // Warm up connections, caches and prepared statements.
    for _ in 0..200 {
        let body: serde_json::Value = client.get(&url).send().await.unwrap().json().await.unwrap();
        assert_eq!(&body, expect, "the two handlers must return the same document");
    }
    let started = Instant::now();
    let until = started + Duration::from_secs(secs);
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move {
                let mut lat = Vec::new();
                while Instant::now() < until {
                    let t = Instant::now();
                    let r = client.get(&url).send().await.unwrap();
                    assert_eq!(r.status(), 200);
                    r.bytes().await.unwrap();
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    Figures { rps: all.len() as f64 / elapsed, p50: pct(0.50), p99: pct(0.99), requests: all.len() }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let secs = env_or("BENCH_SECONDS", 5);
        let concurrency = env_or("BENCH_CONCURRENCY", 16) as usize;
        let root = common::workspace_root();
        let manifest = std::fs::read_to_string(root.join("spin.toml")).unwrap();
        common::wasm("product_http");
        let h = common::TestHost::start_in(&manifest, &[], &["product"], Some(&root)).await;

        let created: serde_json::Value = h
            .client
            .post(h.url("/products"))
            .header("authorization", h.admin())
            .json(&serde_json::json!({"sku": "BENCH-1", "name": "Benchmark mug", "description": "A mug",
                "price": {"amount_minor": 1299, "currency": "EUR"}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = created["id"].as_str().unwrap().to_string();
        let expect = created.clone();

        let pool = h.host.state.dbs["product"].pool.clone();
        let native = serve_native(pool).await;

        println!("GET /products/{{id}}: {concurrency} concurrent clients, {secs} s each, same machine, same PostgreSQL pool\n");
        let native_f = load(format!("http://{native}/products/{id}"), concurrency, secs, &expect).await;
        let inst = &h.host.state.metrics.instantiation.with_label_values(&["product-http"]);
        let (sum0, count0) = (inst.get_sample_sum(), inst.get_sample_count());
        let wasm_f = load(h.url(&format!("/products/{id}")), concurrency, secs, &expect).await;
        let (sum1, count1) = (inst.get_sample_sum(), inst.get_sample_count());

        println!("| handler | requests | req/s | p50 ms | p99 ms |");
        println!("|---|---:|---:|---:|---:|");
        for (name, f) in [("native Rust (baseline)", &native_f), ("wasm component via host", &wasm_f)] {
            println!("| {name} | {} | {:.0} | {:.3} | {:.3} |", f.requests, f.rps, ms(f.p50), ms(f.p99));
        }
        println!();
        println!("throughput ratio wasm/native: {:.2}", wasm_f.rps / native_f.rps);
        println!("p50 latency ratio wasm/native: {:.2}", ms(wasm_f.p50) / ms(native_f.p50));
        println!("p99 latency ratio wasm/native: {:.2}", ms(wasm_f.p99) / ms(native_f.p99));
        let n = (count1 - count0).max(1);
        println!("mean instantiation time per request: {:.1} µs over {n} instantiations", (sum1 - sum0) / n as f64 * 1e6);
        h.stop().await;
    });
}
