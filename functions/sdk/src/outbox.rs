//! Publishing an event: a row in the service's `mart_outbox` table, written in
//! the same transaction as the state change it announces.
//!
//! A guest never talks to Kafka. The host relays committed rows to the
//! event's topic (key = aggregate id) with CloudEvents headers and marks them
//! sent, so an event is published if and only if its transaction commits.
//! The table is created by the host in every service database.

use mart_contracts::Event;
use spin_sdk::pg4::{Connection, ParameterValue, PgError};

/// The statement [`publish`] runs; `id` (the CloudEvents `ce_id`) and `created_at` are set by the database.
pub const INSERT_SQL: &str =
    "INSERT INTO mart_outbox (topic, key, ce_type, payload, correlation_id) VALUES ($1, $2, $3, $4, $5) RETURNING id::text";

/// Queues `event` for publication inside the caller's open transaction; returns its `ce_id`.
///
/// `correlation_id` is the id of the request or event that caused this one,
/// so it can be followed across services in logs and headers.
pub fn publish<E: Event>(conn: &Connection, event: &E, correlation_id: Option<&str>) -> Result<String, PgError> {
    let params = [
        ParameterValue::Str(E::TOPIC.to_string()),
        ParameterValue::Str(event.key()),
        ParameterValue::Str(E::TYPE.to_string()),
        ParameterValue::Binary(event.encode_to_vec()),
        correlation_id.map_or(ParameterValue::DbNull, |c| ParameterValue::Str(c.to_string())),
    ];
    let rows = conn.query(INSERT_SQL, &params)?;
    match rows.rows.first().and_then(|r| r.first()) {
        Some(spin_sdk::pg4::DbValue::Str(id)) => Ok(id.clone()),
        other => Err(PgError::Other(format!("outbox insert returned {other:?}"))),
    }
}
