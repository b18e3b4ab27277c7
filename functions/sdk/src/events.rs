//! Kafka-triggered components: the `mart:events/handler` export and helpers
//! to read a record as a CloudEvent carrying a protobuf payload.
//!
//! A component implements [`Guest`] and exports it with
//! `mart_guest_sdk::events::export_event_handler!(MyHandler);`.

use mart_contracts::Event;

/// Bindings generated from `wit/events/events.wit`.
#[allow(clippy::all, missing_docs)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "event-handler",
        path: "../../wit/events",
        pub_export_macro: true,
        export_macro_name: "export_event_handler",
        default_bindings_module: "mart_guest_sdk::events::bindings",
    });
}

pub use bindings::export_event_handler;
pub use bindings::exports::mart::events::handler::Guest;
pub use bindings::mart::events::types::{HandlerError, Header, KafkaRecord};

/// Header names of the CloudEvents Kafka binding (binary mode) and the correlation id.
pub mod headers {
    pub const ID: &str = "ce_id";
    pub const TYPE: &str = "ce_type";
    pub const SOURCE: &str = "ce_source";
    pub const SPEC_VERSION: &str = "ce_specversion";
    pub const TIME: &str = "ce_time";
    pub const CONTENT_TYPE: &str = "content-type";
    pub const CORRELATION_ID: &str = "x-correlation-id";
}

/// A header's value as text, when present and UTF-8.
pub fn header<'a>(record: &'a KafkaRecord, name: &str) -> Option<&'a str> {
    record.headers.iter().find(|h| h.key.eq_ignore_ascii_case(name)).and_then(|h| std::str::from_utf8(&h.value).ok())
}

/// The CloudEvents attributes of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudEvent<'a> {
    pub id: &'a str,
    pub ce_type: &'a str,
    pub correlation_id: Option<&'a str>,
}

/// Reads `ce_id` and `ce_type`; a record without them cannot be handled.
pub fn cloud_event(record: &KafkaRecord) -> Result<CloudEvent<'_>, HandlerError> {
    let id = header(record, headers::ID).ok_or_else(|| HandlerError::Reject("missing header ce_id".into()))?;
    let ce_type = header(record, headers::TYPE).ok_or_else(|| HandlerError::Reject("missing header ce_type".into()))?;
    Ok(CloudEvent { id, ce_type, correlation_id: header(record, headers::CORRELATION_ID) })
}

/// Decodes the payload as `E`; an undecodable payload is rejected (it will never decode).
pub fn decode<E: Event>(record: &KafkaRecord) -> Result<E, HandlerError> {
    E::decode(record.payload.as_slice())
        .map_err(|e| HandlerError::Reject(format!("payload is not a valid {}: {e}", E::TYPE)))
}

/// Maps a database error inside a handler to a retry: a transient error passes,
/// and a persistent one ends in the dead-letter topic once retries run out.
pub fn db_error(e: &spin_sdk::pg4::PgError) -> HandlerError {
    HandlerError::Retry(format!("database error: {}", crate::db::classify(e).log_text))
}
