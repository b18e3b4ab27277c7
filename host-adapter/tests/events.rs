//! The event backbone against a real broker (Tansu) and PostgreSQL: the Kafka
//! trigger's retries and dead letters, per-key order, the inbox, the outbox
//! relay (including a crash between send and mark), and two hosts sharing a
//! consumer group.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{wasm, TestHost};
use mart_host::kafka::{dlt_headers, Kafka};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::FutureRecord;
use rdkafka::ClientConfig;

const MANIFEST: &str = r#"
spin_manifest_version = 2
[application]
name = "events"

[[trigger.kafka]]
component = "handler"
topics = ["t.events"]
group = "tc-handler"
max_attempts = 3
retry_backoff_ms = 50

[component.handler]
source = "events.wasm"
environment = { SERVICE = "ev" }
[component.handler.tool.mart]
service = "ev"
timeout_ms = 3000
"#;

async fn host() -> TestHost {
    let events = wasm("tc_events");
    TestHost::start(MANIFEST, &[("events.wasm", &events)], &["ev"]).await
}

async fn produce(kafka: &Kafka, topic: &str, key: &str, headers: &[(&str, &str)], payload: &[u8]) {
    let mut hs = OwnedHeaders::new();
    for (k, v) in headers {
        hs = hs.insert(Header { key: k, value: Some(v.as_bytes()) });
    }
    let topic = kafka.topic(topic);
    let record = FutureRecord::to(&topic).key(key).payload(payload).headers(hs);
    kafka.producer.send(record, Duration::from_secs(10)).await.map_err(|(e, _)| e).unwrap();
}

async fn event(kafka: &Kafka, key: &str, id: &str, ce_type: &str, payload: &str) {
    produce(kafka, "t.events", key, &[("ce_id", id), ("ce_type", ce_type), ("ce_source", "test")], payload.as_bytes()).await;
}

/// (event_id, key, body) of every handled record, in handling order.
async fn handled(h: &TestHost) -> Vec<(String, String, String)> {
    let db = h.service_db("ev").await;
    match db.query("SELECT event_id, coalesce(key, ''), body FROM tc_handled ORDER BY seq", &[]).await {
        Ok(rows) => rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect(),
        Err(_) => Vec::new(), // the component creates its table on first use
    }
}

async fn wait_for<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Reads `count` records from a topic from the beginning, with their headers.
async fn read(kafka: &Kafka, topic: &str, count: usize) -> Vec<(Option<Vec<u8>>, HashMap<String, String>, Vec<u8>)> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &kafka.brokers)
        .set("group.id", format!("reader-{}", common::unique("g")))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(&[&kafka.topic(topic)]).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(45);
    while out.len() < count {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "read {} of {count} records from {topic}", out.len());
        let Ok(Ok(m)) = tokio::time::timeout(left, consumer.recv()).await else { continue };
        let headers = m
            .headers()
            .map(|hs| {
                hs.iter()
                    .map(|h| (h.key.to_string(), String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        out.push((m.key().map(<[u8]>::to_vec), headers, m.payload().unwrap_or_default().to_vec()));
    }
    out
}

#[tokio::test]
async fn retry_then_success() {
    let h = host().await;
    let k = h.host.kafka();
    event(k, "order-1", "ev-retry", "test.retry", "3").await;
    let rows = wait_for("the retried record", async || Some(handled(&h).await).filter(|r| !r.is_empty())).await;
    assert_eq!(rows, vec![("ev-retry".into(), "order-1".into(), "3".into())]);
    let db = h.service_db("ev").await;
    let n: i32 = db.query_one("SELECT n FROM tc_attempts WHERE event_id = 'ev-retry'", &[]).await.unwrap().get(0);
    assert_eq!(n, 3);
    h.stop().await;
}

#[tokio::test]
async fn exhausted_retries_and_rejects_go_to_the_dead_letter_topic() {
    let h = host().await;
    let k = h.host.kafka();
    event(k, "a", "ev-never", "test.always-retry", "x").await;
    event(k, "b", "ev-reject", "test.reject", "y").await;
    event(k, "c", "ev-unknown", "test.who-knows", "z").await;
    produce(k, "t.events", "d", &[("ce_type", "test.ok")], b"no id").await;
    let dead = read(k, "t.events.dlt", 4).await;
    let by_key: HashMap<String, &HashMap<String, String>> =
        dead.iter().map(|(key, hs, _)| (String::from_utf8(key.clone().unwrap()).unwrap(), hs)).collect();

    let never = by_key["a"];
    assert_eq!(never[dlt_headers::ATTEMPTS], "3");
    assert!(never[dlt_headers::ERROR].contains("gave up after 3 attempts"), "{never:?}");
    assert_eq!(never[dlt_headers::TOPIC], "t.events");
    assert!(never[dlt_headers::OFFSET].parse::<i64>().is_ok());
    assert!(never[dlt_headers::PARTITION].parse::<i32>().is_ok());
    assert_eq!(never["ce_id"], "ev-never", "original headers are kept");

    assert!(by_key["b"][dlt_headers::ERROR].contains("rejected on purpose"));
    assert_eq!(by_key["b"][dlt_headers::ATTEMPTS], "1");
    assert!(by_key["c"][dlt_headers::ERROR].contains("unknown ce_type"));
    assert!(by_key["d"][dlt_headers::ERROR].contains("missing header ce_id"));
    // Exhausted retries were real attempts, not one.
    let db = h.service_db("ev").await;
    let n: i32 = db.query_one("SELECT n FROM tc_attempts WHERE event_id = 'ev-never'", &[]).await.unwrap().get(0);
    assert_eq!(n, 3);
    assert!(handled(&h).await.is_empty());
    h.stop().await;
}

#[tokio::test]
async fn a_poison_record_is_dead_lettered_and_the_next_one_is_handled() {
    let h = host().await;
    let k = h.host.kafka();
    // Same key, so same partition: the good record waits behind the poison one.
    event(k, "p-1", "ev-poison", "mart.product.created.v1", "\u{ff}\u{ff} not protobuf").await;
    event(k, "p-1", "ev-trap", "test.trap", "").await;
    event(k, "p-1", "ev-good", "test.ok", "after").await;
    let rows = wait_for("the good record", async || Some(handled(&h).await).filter(|r| !r.is_empty())).await;
    assert_eq!(rows, vec![("ev-good".into(), "p-1".into(), "after".into())]);
    let dead = read(k, "t.events.dlt", 2).await;
    let errors: Vec<&str> = dead.iter().map(|(_, hs, _)| hs[dlt_headers::ERROR].as_str()).collect();
    assert!(errors[0].contains("not a valid mart.product.created.v1"), "{errors:?}");
    assert!(errors[1].contains("Trap"), "a trapping handler is retried, then dead-lettered: {errors:?}");
    h.stop().await;
}

#[tokio::test]
async fn order_is_kept_per_key_and_duplicates_change_state_once() {
    let h = host().await;
    let k = h.host.kafka();
    for i in 0..25 {
        event(k, "cart-7", &format!("ev-{i}"), "test.ok", &i.to_string()).await;
        event(k, "cart-8", &format!("ev-b{i}"), "test.ok", &i.to_string()).await;
    }
    // A redelivery: the same event again.
    event(k, "cart-7", "ev-3", "test.ok", "3").await;
    let rows = wait_for("50 records", async || Some(handled(&h).await).filter(|r| r.len() >= 50)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rows = if rows.len() == 50 { handled(&h).await } else { rows };
    assert_eq!(rows.len(), 50, "the duplicate was applied twice");
    for key in ["cart-7", "cart-8"] {
        let bodies: Vec<i32> = rows.iter().filter(|r| r.1 == key).map(|r| r.2.parse().unwrap()).collect();
        assert_eq!(bodies, (0..25).collect::<Vec<_>>(), "order of {key}");
    }
    h.stop().await;
}

#[tokio::test]
async fn product_writes_publish_their_events_through_the_outbox() {
    let root = common::workspace_root();
    let manifest = std::fs::read_to_string(root.join("spin.toml")).unwrap();
    let h = TestHost::start_in(&manifest, &[], &["product"], Some(&root)).await;
    let body = serde_json::json!({"sku": "EV-1", "name": "Evented", "price": {"amount_minor": 500, "currency": "EUR"}});
    let r = h
        .client
        .post(h.url("/products"))
        .header("authorization", h.admin())
        .header("x-correlation-id", "corr-42")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: serde_json::Value = r.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    // A write that fails (duplicate SKU) rolls back, event included.
    let dup = h.client.post(h.url("/products")).header("authorization", h.admin()).json(&body).send().await.unwrap();
    assert_eq!(dup.status(), 409);
    let r = h
        .client
        .patch(h.url(&format!("/products/{id}")))
        .header("authorization", h.admin())
        .json(&serde_json::json!({"name": "Renamed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = h.client.delete(h.url(&format!("/products/{id}"))).header("authorization", h.admin()).send().await.unwrap();
    assert_eq!(r.status(), 204);

    let records = read(h.host.kafka(), mart_contracts::topics::PRODUCT, 3).await;
    let types: Vec<&str> = records.iter().map(|(_, hs, _)| hs["ce_type"].as_str()).collect();
    assert_eq!(types, ["mart.product.created.v1", "mart.product.updated.v1", "mart.product.deleted.v1"]);
    for (key, hs, _) in &records {
        assert_eq!(key.as_deref(), Some(id.as_bytes()), "key is the product id");
        assert_eq!(hs["ce_source"], "mart/product");
        assert_eq!(hs["ce_specversion"], "1.0");
        assert_eq!(hs["content-type"], "application/protobuf");
        assert_eq!(hs["ce_id"].len(), 36);
        assert!(hs["ce_time"].ends_with('Z'));
    }
    assert_eq!(records[0].1["x-correlation-id"], "corr-42");
    use mart_contracts::prost::Message;
    let created_ev = mart_contracts::mart::product::v1::ProductCreated::decode(records[0].2.as_slice()).unwrap();
    assert_eq!(created_ev.product.unwrap().sku, "EV-1");
    let updated_ev = mart_contracts::mart::product::v1::ProductUpdated::decode(records[1].2.as_slice()).unwrap();
    assert_eq!(updated_ev.product.unwrap().name, "Renamed");
    // Nothing else was published (the failed write above), and nothing is left pending.
    let db = h.service_db("product").await;
    let (sent, pending): (i64, i64) = {
        let r = db.query_one("SELECT count(*) FILTER (WHERE sent_at IS NOT NULL), count(*) FILTER (WHERE sent_at IS NULL) FROM mart_outbox", &[]).await.unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!((sent, pending), (3, 0));
    h.stop().await;
}

#[tokio::test]
async fn a_relay_crash_between_send_and_mark_duplicates_and_the_inbox_absorbs_it() {
    let h = host().await;
    // A source service whose outbox this test relays by hand, as a crashing host would.
    let mut secrets = mart_host::secrets::Secrets::load_or_create(&h.cfg.state_dir).unwrap();
    let dbs = mart_host::db::prepare_all(&h.cfg.database, &h.dir, &["src".to_string()], &mut secrets).await.unwrap();
    let _cleanup = common::DbCleanup { cfg: h.cfg.database.clone(), services: vec!["src".into()], dir: h.dir.join("none") };
    let relay = mart_host::outbox::Relay {
        db: dbs["src"].clone(),
        kafka: h.host.kafka().clone(),
        metrics: std::sync::Arc::new(mart_host::metrics::Metrics::new()),
        poll: Duration::from_millis(100),
    };
    let src = h.service_db("src").await;
    src.execute(
        "INSERT INTO mart_outbox (topic, key, ce_type, payload) VALUES ('t.events', 'k-crash', 'test.ok', 'once')",
        &[],
    )
    .await
    .unwrap();
    assert_eq!(relay.relay_batch(true).await.unwrap(), 1, "sent, then the relay 'crashed'");
    assert_eq!(relay.relay_batch(false).await.unwrap(), 1, "still pending, so sent again");
    assert_eq!(relay.relay_batch(false).await.unwrap(), 0, "now marked sent");

    let on_topic = read(h.host.kafka(), "t.events", 2).await;
    assert_eq!(on_topic[0].1["ce_id"], on_topic[1].1["ce_id"], "the same event twice");
    let rows = wait_for("the event", async || Some(handled(&h).await).filter(|r| !r.is_empty())).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(handled(&h).await.len(), 1, "the duplicate changed state again: {rows:?}");

    // A rolled-back insert publishes nothing.
    src.batch_execute(
        "BEGIN; INSERT INTO mart_outbox (topic, key, ce_type, payload) VALUES ('t.events', 'k-rb', 'test.ok', 'never'); ROLLBACK;",
    )
    .await
    .unwrap();
    assert_eq!(relay.relay_batch(false).await.unwrap(), 0);
    h.stop().await;
}

#[tokio::test]
async fn two_hosts_in_one_group_share_the_work_and_handle_each_record_once() {
    let h = host().await;
    let peer = h.start_peer().await;
    // Let both consumers join the group before records arrive.
    tokio::time::sleep(Duration::from_secs(8)).await;
    for i in 0..60 {
        event(h.host.kafka(), &format!("key-{i}"), &format!("ev-{i}"), "test.ok", &i.to_string()).await;
    }
    let rows = wait_for("60 records", async || Some(handled(&h).await).filter(|r| r.len() >= 60)).await;
    let mut ids: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!((rows.len(), ids.len()), (60, 60));
    let handled_by = |m: &mart_host::metrics::Metrics| m.events.with_label_values(&["handler", "handled"]).get();
    let (a, b) = (handled_by(&h.host.state.metrics), handled_by(&peer.state.metrics));
    assert!(a > 0 && b > 0, "one host did all the work: {a} and {b}");
    peer.stop().await;
    h.stop().await;
}

#[tokio::test]
async fn without_a_broker_the_host_serves_and_waits_then_delivers_once_it_appears() {
    // A port nothing listens on yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let events = wasm("tc_events");
    let h = TestHost::start_with(MANIFEST, &[("events.wasm", &events)], &["ev"], |cfg| {
        cfg.kafka.brokers = Some(format!("127.0.0.1:{port}"));
    })
    .await;
    let ready = h.get("/readyz").await;
    assert_eq!(ready.status(), 503);
    assert!(ready.text().await.unwrap().contains("Kafka"));
    assert_eq!(h.get("/healthz").await.status(), 200);

    let db = h.service_db("ev").await;
    db.execute(
        "INSERT INTO mart_outbox (topic, key, ce_type, payload) VALUES ('t.events', 'late', 'test.ok', 'waited')",
        &[],
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pending: i64 = db.query_one("SELECT count(*) FROM mart_outbox WHERE sent_at IS NULL", &[]).await.unwrap().get(0);
    assert_eq!(pending, 1, "the row waits for the broker");

    let broker = mart_host::kafka::LocalBroker::start(port).await.unwrap();
    let rows = wait_for("the waiting event", async || Some(handled(&h).await).filter(|r| !r.is_empty())).await;
    assert_eq!(rows[0].2, "waited");
    wait_for("readiness", async || (h.get("/readyz").await.status() == 200).then_some(())).await;
    h.stop().await;
    broker.stop().await;
}

#[tokio::test]
async fn severed_database_connections_delay_the_relay_but_lose_nothing() {
    let h = host().await;
    let db = h.service_db("ev").await;
    event(h.host.kafka(), "k", "ev-first", "test.ok", "first").await;
    wait_for("the first event", async || Some(handled(&h).await).filter(|r| !r.is_empty())).await;
    // What a PostgreSQL restart looks like to the host: every connection to the database dies.
    let name = format!("{}_ev", h.cfg.database.prefix);
    db.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        &[&name],
    )
    .await
    .unwrap();
    let db = h.service_db("ev").await;
    for i in 0..5 {
        db.execute(
            "INSERT INTO mart_outbox (topic, key, ce_type, payload) VALUES ('t.events', 'k', 'test.ok', $1)",
            &[&format!("after-{i}").into_bytes()],
        )
        .await
        .unwrap();
    }
    let rows = wait_for("events after the cut", async || Some(handled(&h).await).filter(|r| r.len() >= 6)).await;
    let bodies: Vec<&str> = rows.iter().map(|r| r.2.as_str()).collect();
    assert_eq!(bodies, ["first", "after-0", "after-1", "after-2", "after-3", "after-4"]);
    h.stop().await;
}
