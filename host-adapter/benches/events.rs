//! Events through the backbone: outbox commit → relay → broker → Kafka trigger
//! → wasm handler (inbox + one insert), against native rdkafka produce →
//! consume on the same broker as the baseline.
//!
//! Run: `cargo bench -p mart-host --bench events` with a broker in
//! MART_TEST_KAFKA_BROKERS (scripts/test shows how to start Tansu) and the
//! test components built (`scripts/test` builds them). BENCH_EVENTS sets the
//! number of events (default 2000).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::FutureRecord;
use rdkafka::ClientConfig;

const MANIFEST: &str = r#"
spin_manifest_version = 2
[application]
name = "bench-events"

[[trigger.kafka]]
component = "handler"
topics = ["bench.events"]
group = "bench-handler"

[component.handler]
source = "events.wasm"
environment = { SERVICE = "ev" }
[component.handler.tool.mart]
service = "ev"
"#;

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

struct Figures {
    per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
}

fn now_micros() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros() as i64
}

/// Native baseline: produce `n` records, consume them in a group, latency from send to receipt.
async fn native(kafka: &mart_host::kafka::Kafka, n: usize) -> Figures {
    let topic = kafka.topic("bench.native");
    kafka.ensure_topics(&["bench.native".to_string()]).await.unwrap();
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &kafka.brokers)
        .set("group.id", kafka.topic("bench-native"))
        .set("fetch.wait.max.ms", mart_host::kafka::FETCH_WAIT_MAX_MS)
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&[&topic]).unwrap();
    // Warm up: join the group and fetch once before timing, as the backbone path is warmed.
    let warm = FutureRecord::to(&topic).key("warm").payload("0");
    kafka.producer.send(warm, Duration::from_secs(30)).await.map_err(|(e, _)| e).unwrap();
    consumer.recv().await.unwrap();
    let started = Instant::now();
    let producer = kafka.producer.clone();
    let send_topic = topic.clone();
    let sender = tokio::spawn(async move {
        let sends = (0..n).map(|i| {
            let (producer, topic) = (producer.clone(), send_topic.clone());
            async move {
                let payload = now_micros().to_string();
                let headers = OwnedHeaders::new().insert(Header { key: "ce_type", value: Some(b"bench") });
                let key = format!("k-{}", i % 64);
                let record = FutureRecord::to(&topic).key(&key).payload(&payload).headers(headers);
                producer.send(record, Duration::from_secs(30)).await.map_err(|(e, _)| e).unwrap();
            }
        });
        futures::future::join_all(sends).await;
    });
    let mut lat = Vec::with_capacity(n);
    while lat.len() < n {
        let m = consumer.recv().await.unwrap();
        let sent: i64 = std::str::from_utf8(m.payload().unwrap()).unwrap().parse().unwrap();
        lat.push((now_micros() - sent) as f64 / 1000.0);
    }
    let elapsed = started.elapsed().as_secs_f64();
    sender.await.unwrap();
    lat.sort_by(f64::total_cmp);
    Figures { per_sec: n as f64 / elapsed, p50_ms: pct(&lat, 0.5), p99_ms: pct(&lat, 0.99) }
}

/// The backbone: `n` events committed to the outbox (in transactions of 50) until all are handled.
async fn backbone(h: &common::TestHost, n: usize) -> Figures {
    let db = h.service_db("ev").await;
    // The component creates its tables on first use; warm it (and the consumer group) up.
    db.execute(
        "INSERT INTO mart_outbox (topic, key, ce_type, payload) VALUES ('bench.events', 'warm', 'test.ok', 'warm')",
        &[],
    )
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while db.query("SELECT 1 FROM tc_handled", &[]).await.map(|r| r.is_empty()).unwrap_or(true) {
        assert!(Instant::now() < deadline, "warm-up event never handled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    db.batch_execute("ALTER TABLE tc_handled ADD COLUMN IF NOT EXISTS at timestamptz NOT NULL DEFAULT clock_timestamp(); DELETE FROM tc_handled")
        .await
        .unwrap();

    let started = Instant::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(50) {
        let mut sql = String::from("BEGIN; ");
        for i in chunk {
            sql.push_str(&format!(
                "INSERT INTO mart_outbox (topic, key, ce_type, payload) VALUES ('bench.events', 'k-{}', 'test.ok', '{i}'); ",
                i % 64
            ));
        }
        sql.push_str("COMMIT;");
        db.batch_execute(&sql).await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let done: i64 = db.query_one("SELECT count(*) FROM tc_handled", &[]).await.unwrap().get(0);
        if done as usize >= n {
            break;
        }
        assert!(Instant::now() < deadline, "only {done} of {n} events handled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let rows = db
        .query(
            "SELECT extract(epoch FROM (h.at - o.created_at)) * 1000 FROM tc_handled h JOIN mart_outbox o ON o.id::text = h.event_id",
            &[],
        )
        .await
        .unwrap();
    let mut lat: Vec<f64> = rows.iter().map(|r| r.get::<_, rust_decimal::Decimal>(0).try_into().unwrap()).collect();
    lat.sort_by(f64::total_cmp);
    Figures { per_sec: n as f64 / elapsed, p50_ms: pct(&lat, 0.5), p99_ms: pct(&lat, 0.99) }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let n: usize = std::env::var("BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
        let events = common::wasm("tc_events");
        let h = common::TestHost::start(MANIFEST, &[("events.wasm", &events)], &["ev"]).await;
        println!("{n} events, 64 keys, one host, broker {}\n", h.host.kafka().brokers);
        let base = native(h.host.kafka(), n).await;
        let bb = backbone(&h, n).await;
        println!("| path | events/s | p50 ms | p99 ms |");
        println!("|---|---:|---:|---:|");
        println!("| native produce → consume (baseline) | {:.0} | {:.1} | {:.1} |", base.per_sec, base.p50_ms, base.p99_ms);
        println!(
            "| outbox commit → relay → broker → wasm handler + inbox | {:.0} | {:.1} | {:.1} |",
            bb.per_sec, bb.p50_ms, bb.p99_ms
        );
        println!("\nthroughput ratio backbone/native: {:.3}", bb.per_sec / base.per_sec);
        h.stop().await;
    });
}
