//! The outbox relay: committed `mart_outbox` rows → Kafka.
//!
//! Guests publish by inserting into their service's `mart_outbox` in the
//! transaction that changes state (`mart_guest_sdk::outbox::publish`). Per
//! service, the relay wakes on `NOTIFY mart_outbox` (polling as a fallback),
//! locks pending rows with `FOR UPDATE SKIP LOCKED`, sends them with the
//! idempotent producer (key = aggregate id, CloudEvents headers), and marks
//! them sent in the same transaction. A crash between send and mark leaves the
//! rows pending, so they are sent again: a duplicate the consumers' inbox
//! absorbs, never a loss. A transaction-scoped advisory lock lets only one
//! relay per service send at a time, so several hosts never reorder one
//! aggregate's events.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures::StreamExt;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::FutureRecord;
use tokio::sync::{watch, Notify};

use crate::kafka::Kafka;
use crate::metrics::Metrics;
use crate::postgres::ServiceDb;

/// Tables the host owns in every service database (applied before the service's migrations).
pub const PLATFORM_SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS mart_outbox (
    seq            bigserial PRIMARY KEY,
    id             uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    topic          text NOT NULL,
    key            text NOT NULL,
    ce_type        text NOT NULL,
    payload        bytea NOT NULL,
    correlation_id text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    sent_at        timestamptz
);
CREATE INDEX IF NOT EXISTS mart_outbox_pending ON mart_outbox (seq) WHERE sent_at IS NULL;
CREATE OR REPLACE FUNCTION mart_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('mart_outbox', '');
    RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER mart_outbox_notify AFTER INSERT ON mart_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION mart_outbox_notify();
CREATE TABLE IF NOT EXISTS mart_inbox (
    consumer   text NOT NULL,
    event_id   text NOT NULL,
    handled_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
"#;

const BATCH: i64 = 200;
/// Sent rows are kept this long for inspection, then deleted.
const KEEP_SENT: &str = "7 days";

pub struct Relay {
    pub db: Arc<ServiceDb>,
    pub kafka: Kafka,
    pub metrics: Arc<Metrics>,
    pub poll: Duration,
}

impl Relay {
    /// Publishes up to one batch of pending rows; returns how many were sent.
    ///
    /// `crash_after_send` stops after the sends and before marking the rows
    /// sent, as a host dying at that moment would (tests use it).
    pub async fn relay_batch(&self, crash_after_send: bool) -> anyhow::Result<usize> {
        let mut client = self.db.pool.get().await.context("no database connection")?;
        let tx = client.transaction().await?;
        let locked: bool = tx.query_one("SELECT pg_try_advisory_xact_lock(hashtext('mart-outbox-relay'))", &[]).await?.get(0);
        if !locked {
            return Ok(0); // another relay is sending this service's rows
        }
        let rows = tx
            .query(
                "SELECT seq, id, topic, key, ce_type, payload, correlation_id, created_at FROM mart_outbox \
                 WHERE sent_at IS NULL ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED",
                &[&BATCH],
            )
            .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let source = format!("mart/{}", self.db.service);
        let mut sends = Vec::with_capacity(rows.len());
        let mut seqs = Vec::with_capacity(rows.len());
        for row in &rows {
            let seq: i64 = row.get("seq");
            let id: uuid::Uuid = row.get("id");
            let topic: String = self.kafka.topic(row.get::<_, &str>("topic"));
            let key: String = row.get("key");
            let ce_type: String = row.get("ce_type");
            let payload: Vec<u8> = row.get("payload");
            let correlation: Option<String> = row.get("correlation_id");
            let time: chrono::DateTime<chrono::Utc> = row.get("created_at");
            let id = id.to_string();
            let time = time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
            let mut headers = OwnedHeaders::new();
            for (k, v) in [
                ("ce_id", id.as_str()),
                ("ce_type", ce_type.as_str()),
                ("ce_source", source.as_str()),
                ("ce_specversion", "1.0"),
                ("ce_time", time.as_str()),
                ("content-type", "application/protobuf"),
            ] {
                headers = headers.insert(Header { key: k, value: Some(v.as_bytes()) });
            }
            if let Some(c) = &correlation {
                headers = headers.insert(Header { key: "x-correlation-id", value: Some(c.as_bytes()) });
            }
            let producer = self.kafka.producer.clone();
            seqs.push(seq);
            sends.push(async move {
                let record = FutureRecord::to(&topic).key(&key).payload(&payload).headers(headers);
                producer.send(record, Duration::from_secs(30)).await.map_err(|(e, _)| anyhow::anyhow!("sending to {topic}: {e}"))
            });
        }
        // All in flight at once; the idempotent producer keeps each partition in order.
        for result in futures::future::join_all(sends).await {
            result?;
        }
        if crash_after_send {
            return Ok(rows.len()); // the transaction is dropped: rows stay pending
        }
        tx.execute("UPDATE mart_outbox SET sent_at = now() WHERE seq = ANY($1)", &[&seqs]).await?;
        tx.commit().await?;
        self.metrics.outbox_sent.with_label_values(&[&self.db.service]).inc_by(rows.len() as u64);
        Ok(rows.len())
    }

    async fn housekeeping(&self) -> anyhow::Result<()> {
        let client = self.db.pool.get().await?;
        let backlog: i64 = client.query_one("SELECT count(*) FROM mart_outbox WHERE sent_at IS NULL", &[]).await?.get(0);
        self.metrics.outbox_backlog.with_label_values(&[&self.db.service]).set(backlog);
        client
            .execute(&format!("DELETE FROM mart_outbox WHERE sent_at < now() - interval '{KEEP_SENT}'"), &[])
            .await?;
        Ok(())
    }

    /// Relays until `stop` turns true.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let wake = Arc::new(Notify::new());
        let listener = tokio::spawn(listen(self.db.clone(), wake.clone()));
        let mut failures = 0u32;
        loop {
            match self.relay_batch(false).await {
                Ok(n) if n > 0 => {
                    failures = 0;
                    continue;
                }
                Ok(_) => failures = 0,
                Err(e) => {
                    failures += 1;
                    tracing::warn!(service = %self.db.service, error = %format!("{e:#}"), "outbox relay failed; rows stay pending");
                }
            }
            if let Err(e) = self.housekeeping().await {
                tracing::debug!(service = %self.db.service, error = %e, "outbox housekeeping failed");
            }
            let wait = if failures == 0 { self.poll } else { (self.poll * failures.min(10)).min(Duration::from_secs(10)) };
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => break,
            }
        }
        listener.abort();
    }
}

/// Keeps a LISTEN connection open and turns notifications into wake-ups; reconnects when it drops.
async fn listen(db: Arc<ServiceDb>, wake: Arc<Notify>) {
    loop {
        match db.config.connect(tokio_postgres::NoTls).await {
            Ok((client, mut connection)) => {
                let wake2 = wake.clone();
                let driver = tokio::spawn(async move {
                    let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
                    while let Some(Ok(m)) = messages.next().await {
                        if matches!(m, tokio_postgres::AsyncMessage::Notification(_)) {
                            wake2.notify_one();
                        }
                    }
                });
                if client.batch_execute("LISTEN mart_outbox").await.is_ok() {
                    // Catch rows committed while we were not listening.
                    wake.notify_one();
                    let _ = driver.await;
                } else {
                    driver.abort();
                }
            }
            Err(e) => tracing::debug!(service = %db.service, error = %e, "outbox listener cannot connect"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
