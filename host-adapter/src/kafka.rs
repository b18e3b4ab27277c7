//! Kafka for the host: the broker connection (or a local Tansu), topics, and
//! the `[[trigger.kafka]]` consumers that feed event components.
//!
//! Consumers commit a record's offset only after its handler returned ok or
//! the record was dead-lettered, so nothing is lost and nothing is skipped.
//! Each trigger's records are handled one at a time, which keeps the order
//! within every partition. `retry` answers (and traps, deadlines, memory
//! blow-ups) are retried with exponential back-off up to `max_attempts`;
//! `reject` answers, exhausted retries and records without CloudEvents headers
//! go to `<topic>.dlt`, with headers saying where the record came from and why.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Header as KHeader, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::ClientConfig;
use tokio::sync::watch;

use crate::components::Components;
use crate::config::KafkaConfig;
use crate::events::{Header, KafkaRecord};
use crate::invoke::{self, EventOutcome};
use crate::manifest::KafkaTrigger;
use crate::metrics::Metrics;

pub const DLT_SUFFIX: &str = ".dlt";

/// Longest a consumer's fetch waits for data (librdkafka's default is 500 ms).
pub const FETCH_WAIT_MAX_MS: &str = "100";

/// Header names on dead-lettered records.
pub mod dlt_headers {
    pub const TOPIC: &str = "mart-dlt-original-topic";
    pub const PARTITION: &str = "mart-dlt-original-partition";
    pub const OFFSET: &str = "mart-dlt-original-offset";
    pub const ERROR: &str = "mart-dlt-error";
    pub const ATTEMPTS: &str = "mart-dlt-attempts";
    pub const COMPONENT: &str = "mart-dlt-component";
}

/// The broker as this host uses it.
#[derive(Clone)]
pub struct Kafka {
    pub brokers: String,
    pub prefix: String,
    pub producer: FutureProducer,
    cfg: KafkaConfig,
}

impl Kafka {
    pub fn new(brokers: &str, cfg: &KafkaConfig) -> anyhow::Result<Kafka> {
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("client.id", "mart-host")
            // Idempotent: a retried send is written once, in order, per partition.
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", "30000")
            .set("linger.ms", "2")
            .create()
            .context("cannot create the Kafka producer")?;
        Ok(Kafka { brokers: brokers.to_string(), prefix: cfg.topic_prefix.clone(), producer, cfg: cfg.clone() })
    }

    /// The broker-side name of an application topic.
    pub fn topic(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The application name of a broker-side topic.
    pub fn app_topic<'a>(&self, name: &'a str) -> &'a str {
        name.strip_prefix(self.prefix.as_str()).unwrap_or(name)
    }

    /// Creates the topics (and their dead-letter topics) that do not exist yet.
    pub async fn ensure_topics(&self, names: &[String]) -> anyhow::Result<()> {
        let admin: AdminClient<DefaultClientContext> =
            ClientConfig::new().set("bootstrap.servers", &self.brokers).create()?;
        let full: Vec<String> = names.iter().map(|n| self.topic(n)).collect();
        let topics: Vec<NewTopic> = full
            .iter()
            .map(|t| NewTopic::new(t, self.cfg.partitions, TopicReplication::Fixed(self.cfg.replication_factor)))
            .collect();
        let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        for result in admin.create_topics(&topics, &opts).await? {
            match result {
                Ok(_) => {}
                Err((_, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((t, code)) => anyhow::bail!("cannot create topic {t}: {code}"),
            }
        }
        Ok(())
    }

    /// True when the broker answers a metadata request.
    pub async fn reachable(&self) -> bool {
        let producer = self.producer.clone();
        tokio::task::spawn_blocking(move || producer.client().fetch_metadata(None, Duration::from_secs(2)).is_ok())
            .await
            .unwrap_or(false)
    }
}

/// A Tansu broker the host started because none was configured; stopped on drop.
pub struct LocalBroker {
    child: tokio::process::Child,
    pub brokers: String,
}

impl LocalBroker {
    /// Starts `tansu` with in-memory storage, installing it with cargo if missing.
    pub async fn start(port: u16) -> anyhow::Result<LocalBroker> {
        let brokers = format!("127.0.0.1:{port}");
        let bin = find_tansu().await?;
        let url = format!("tcp://127.0.0.1:{port}");
        tracing::info!(%brokers, bin = %bin.display(), "starting a local Tansu broker (memory storage)");
        let child = tokio::process::Command::new(&bin)
            .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url, "--storage-engine", "memory://tansu/"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Ok(LocalBroker { child, brokers });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!("the local Tansu broker did not listen on {brokers} within 10 s")
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

async fn find_tansu() -> anyhow::Result<std::path::PathBuf> {
    let candidates = [
        std::env::var_os("TANSU_BIN").map(std::path::PathBuf::from),
        which("tansu"),
        std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cargo/bin/tansu")),
    ];
    if let Some(found) = candidates.into_iter().flatten().find(|p| p.is_file()) {
        return Ok(found);
    }
    eprintln!("tansu is not installed; installing it (cargo install tansu --locked --features dynostore, several minutes)…");
    let status = tokio::process::Command::new("cargo")
        .args(["install", "tansu", "--locked", "--features", "dynostore"])
        .status()
        .await
        .context("cannot run cargo install tansu")?;
    anyhow::ensure!(status.success(), "installing tansu failed; install it by hand or set KAFKA_BROKERS");
    which("tansu")
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cargo/bin/tansu")))
        .filter(|p| p.is_file())
        .context("tansu was installed but cannot be found on PATH or in ~/.cargo/bin")
}

fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| std::path::Path::new(d).join(name)).find(|p| p.is_file())
}

/// Exponential back-off for attempt `n` (1-based), capped.
pub fn backoff(trigger: &KafkaTrigger, attempt: u32) -> Duration {
    let factor = 2u64.saturating_pow(attempt.saturating_sub(1));
    Duration::from_millis(trigger.retry_backoff_ms.saturating_mul(factor).min(trigger.max_backoff_ms))
}

fn to_record(kafka: &Kafka, msg: &BorrowedMessage<'_>) -> KafkaRecord {
    let headers = msg
        .headers()
        .map(|hs| {
            hs.iter()
                .map(|h| Header { key: h.key.to_string(), value: h.value.map(<[u8]>::to_vec).unwrap_or_default() })
                .collect()
        })
        .unwrap_or_default();
    KafkaRecord {
        topic: kafka.app_topic(msg.topic()).to_string(),
        partition: msg.partition(),
        offset: msg.offset(),
        key: msg.key().map(<[u8]>::to_vec),
        headers,
        payload: msg.payload().map(<[u8]>::to_vec).unwrap_or_default(),
        timestamp_ms: msg.timestamp().to_millis(),
    }
}

fn header<'a>(record: &'a KafkaRecord, name: &str) -> Option<&'a str> {
    record.headers.iter().find(|h| h.key == name).and_then(|h| std::str::from_utf8(&h.value).ok())
}

/// Why a record is dead-lettered, or `None` when it was handled.
async fn handle_with_retries(
    components: &Components,
    metrics: &Metrics,
    trigger: &KafkaTrigger,
    record: &KafkaRecord,
    stop: &watch::Receiver<bool>,
) -> Option<(String, u32)> {
    for missing in ["ce_id", "ce_type"] {
        if header(record, missing).is_none() {
            return Some((format!("missing header {missing}"), 0));
        }
    }
    let correlation = header(record, "x-correlation-id").unwrap_or("").to_string();
    let slot = components.get(&trigger.component)?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let outcome = invoke::invoke_event(&components.runtime, &slot, metrics, record, &correlation).await;
        let retry_reason = match outcome {
            Ok(EventOutcome::Handled) => {
                metrics.events.with_label_values(&[&trigger.component, "handled"]).inc();
                return None;
            }
            Ok(EventOutcome::Reject(why)) => return Some((format!("rejected: {why}"), attempt)),
            Ok(EventOutcome::Retry(why)) => why,
            Err(failure) => format!("{failure:?}"),
        };
        metrics.events.with_label_values(&[&trigger.component, "retried"]).inc();
        if attempt >= trigger.max_attempts {
            return Some((format!("gave up after {attempt} attempts: {retry_reason}"), attempt));
        }
        tracing::warn!(component = %trigger.component, topic = %record.topic, partition = record.partition,
            offset = record.offset, attempt, reason = %retry_reason, correlation_id = %correlation, "retrying record");
        if *stop.borrow() {
            // Shutting down: leave the record uncommitted for the next owner of the partition.
            return Some((String::new(), u32::MAX));
        }
        tokio::time::sleep(backoff(trigger, attempt)).await;
    }
}

async fn dead_letter(kafka: &Kafka, msg: &BorrowedMessage<'_>, component: &str, error: &str, attempts: u32) -> anyhow::Result<()> {
    let mut headers = OwnedHeaders::new();
    if let Some(hs) = msg.headers() {
        for h in hs.iter() {
            headers = headers.insert(KHeader { key: h.key, value: h.value });
        }
    }
    let (partition, offset, attempts) = (msg.partition().to_string(), msg.offset().to_string(), attempts.to_string());
    let topic_app = kafka.app_topic(msg.topic()).to_string();
    for (k, v) in [
        (dlt_headers::TOPIC, topic_app.as_str()),
        (dlt_headers::PARTITION, partition.as_str()),
        (dlt_headers::OFFSET, offset.as_str()),
        (dlt_headers::ERROR, error),
        (dlt_headers::ATTEMPTS, attempts.as_str()),
        (dlt_headers::COMPONENT, component),
    ] {
        headers = headers.insert(KHeader { key: k, value: Some(v.as_bytes()) });
    }
    let dlt = format!("{}{DLT_SUFFIX}", msg.topic());
    let mut record = FutureRecord::to(&dlt).headers(headers);
    if let Some(p) = msg.payload() {
        record = record.payload(p);
    }
    if let Some(k) = msg.key() {
        record = record.key(k);
    }
    kafka.producer.send(record, Duration::from_secs(30)).await.map_err(|(e, _)| anyhow::anyhow!("{e}"))?;
    Ok(())
}

/// Runs one `[[trigger.kafka]]` consumer until `stop` turns true.
pub async fn run_trigger(
    kafka: Kafka,
    trigger: KafkaTrigger,
    components: Arc<Components>,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let consumer: StreamConsumer = match ClientConfig::new()
        .set("bootstrap.servers", &kafka.brokers)
        .set("group.id", kafka.topic(&trigger.group))
        .set("client.id", format!("mart-{}", trigger.component))
        .set("enable.auto.commit", "true")
        // Offsets are stored only once a record is done with, so the auto-commit never runs ahead.
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "10000")
        .set("auto.commit.interval.ms", "500")
        // Brokers that answer a fetch only at its deadline (Tansu does) would add this much latency.
        .set("fetch.wait.max.ms", FETCH_WAIT_MAX_MS)
        .create()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(component = %trigger.component, error = %e, "cannot create a consumer");
            return;
        }
    };
    let topics: Vec<String> = trigger.topics.iter().map(|t| kafka.topic(t)).collect();
    let refs: Vec<&str> = topics.iter().map(String::as_str).collect();
    if let Err(e) = consumer.subscribe(&refs) {
        tracing::error!(component = %trigger.component, error = %e, "cannot subscribe");
        return;
    }
    tracing::info!(component = %trigger.component, group = %trigger.group, topics = ?trigger.topics, "consuming");
    loop {
        let msg = tokio::select! {
            m = consumer.recv() => m,
            _ = stop.changed() => break,
        };
        let msg = match msg {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(component = %trigger.component, error = %e, "consumer error; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        let record = to_record(&kafka, &msg);
        if let Some((error, attempts)) = handle_with_retries(&components, &metrics, &trigger, &record, &stop).await {
            if attempts == u32::MAX {
                break; // stopping mid-retry: not committed, redelivered later
            }
            tracing::error!(component = %trigger.component, topic = %record.topic, partition = record.partition,
                offset = record.offset, %error, "dead-lettering record");
            // The offset is stored only once the dead letter is safely written.
            let mut delay = Duration::from_millis(200);
            while let Err(e) = dead_letter(&kafka, &msg, &trigger.component, &error, attempts).await {
                tracing::error!(component = %trigger.component, error = %e, "cannot write the dead letter; retrying");
                if *stop.borrow() {
                    return;
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
            metrics.events.with_label_values(&[&trigger.component, "dead_lettered"]).inc();
        }
        if let Err(e) = consumer.store_offset_from_message(&msg) {
            tracing::warn!(component = %trigger.component, error = %e, "cannot store the offset");
        }
    }
    let _ = consumer.commit_consumer_state(CommitMode::Sync);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let t = KafkaTrigger {
            component: "c".into(),
            topics: vec!["t".into()],
            group: "g".into(),
            max_attempts: 5,
            retry_backoff_ms: 100,
            max_backoff_ms: 350,
        };
        assert_eq!(backoff(&t, 1), Duration::from_millis(100));
        assert_eq!(backoff(&t, 2), Duration::from_millis(200));
        assert_eq!(backoff(&t, 3), Duration::from_millis(350));
        assert_eq!(backoff(&t, 40), Duration::from_millis(350));
    }
}
