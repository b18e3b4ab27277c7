//! Exactly-once effects on at-least-once delivery.
//!
//! A consumer calls [`first_delivery`] inside the transaction that applies the
//! event's effects. It records `(consumer, event id)` in the service's
//! `mart_inbox` table; when the pair is already there, the event was handled
//! before (a redelivery, or a duplicate publish), and the caller skips its
//! effects. Both outcomes commit together with the effects, so a crash in
//! between leaves neither.

use spin_sdk::pg4::{Connection, ParameterValue, PgError};

pub const INSERT_SQL: &str =
    "INSERT INTO mart_inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT (consumer, event_id) DO NOTHING";

/// True the first time `consumer` sees `event_id`; false for every repeat.
pub fn first_delivery(conn: &Connection, consumer: &str, event_id: &str) -> Result<bool, PgError> {
    let inserted = conn.execute(
        INSERT_SQL,
        &[ParameterValue::Str(consumer.to_string()), ParameterValue::Str(event_id.to_string())],
    )?;
    Ok(inserted == 1)
}
