//! Prometheus metrics served at `/metrics`.

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};

/// Buckets from 0.5 ms to 10 s: guest requests span cache hits to slow queries.
const LATENCY_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
const INSTANTIATION_BUCKETS: &[f64] = &[0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05];

pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub latency: HistogramVec,
    pub instantiation: HistogramVec,
    pub swaps: IntCounterVec,
    pub loaded: IntGaugeVec,
    pub events: IntCounterVec,
    pub outbox_sent: IntCounterVec,
    pub outbox_backlog: IntGaugeVec,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new_custom(Some("mart".into()), None).expect("static prefix is valid");
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests served, by component and status code"),
            &["component", "status"],
        )
        .expect("static metric");
        let latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "Time from request to response head, by component")
                .buckets(LATENCY_BUCKETS.to_vec()),
            &["component"],
        )
        .expect("static metric");
        let instantiation = HistogramVec::new(
            HistogramOpts::new("instantiation_duration_seconds", "Time to instantiate a component from its pre-instance")
                .buckets(INSTANTIATION_BUCKETS.to_vec()),
            &["component"],
        )
        .expect("static metric");
        let swaps = IntCounterVec::new(
            Opts::new("component_swaps_total", "Hot-swap attempts, by component and outcome"),
            &["component", "outcome"],
        )
        .expect("static metric");
        let loaded = IntGaugeVec::new(
            Opts::new("component_loaded", "1 when the component has a loaded build"),
            &["component"],
        )
        .expect("static metric");
        let events = IntCounterVec::new(
            Opts::new("events_total", "Kafka records by component and outcome (handled, retried, dead_lettered)"),
            &["component", "outcome"],
        )
        .expect("static metric");
        let outbox_sent = IntCounterVec::new(
            Opts::new("outbox_sent_total", "Outbox rows published to Kafka, by service"),
            &["service"],
        )
        .expect("static metric");
        let outbox_backlog = IntGaugeVec::new(
            Opts::new("outbox_backlog", "Outbox rows waiting to be published, by service"),
            &["service"],
        )
        .expect("static metric");
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(instantiation.clone()),
            Box::new(swaps.clone()),
            Box::new(loaded.clone()),
            Box::new(events.clone()),
            Box::new(outbox_sent.clone()),
            Box::new(outbox_backlog.clone()),
        ] {
            registry.register(c).expect("metric names are unique");
        }
        Metrics { registry, requests, latency, instantiation, swaps, loaded, events, outbox_sent, outbox_backlog }
    }

    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buf).expect("text encoding cannot fail");
        String::from_utf8(buf).expect("prometheus text is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
