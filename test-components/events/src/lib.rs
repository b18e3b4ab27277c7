//! Test component: a Kafka-triggered handler whose behaviour the test picks
//! with `ce_type`, recording what it handled in its service's database.
//!
//! - `test.ok`: apply (inbox-protected: a redelivered event is applied once);
//! - `test.retry`: answer `retry` until the attempt number reaches the payload (a decimal), then apply;
//! - `test.always-retry`, `test.reject`, `test.trap`: what they say;
//! - `mart.product.created.v1`: decode the protobuf payload, reject it if undecodable, else apply;
//! - anything else: reject as an unknown type.

use mart_contracts::mart::product::v1::ProductCreated;
use mart_guest_sdk::events::{self, CloudEvent, Guest, HandlerError, KafkaRecord};
use mart_guest_sdk::{db, inbox};
use spin_sdk::pg4::{Connection, DbValue, ParameterValue as P};

struct Handler;

const CONSUMER: &str = "tc-events";

fn fail(e: spin_sdk::pg4::PgError) -> HandlerError {
    events::db_error(&e)
}

fn setup(conn: &Connection) -> Result<(), HandlerError> {
    conn.execute(
        "CREATE TABLE IF NOT EXISTS tc_handled (seq serial PRIMARY KEY, event_id text NOT NULL, ce_type text NOT NULL, \
         key text, body text NOT NULL, topic text NOT NULL, part int NOT NULL, off bigint NOT NULL)",
        &[],
    )
    .map_err(fail)?;
    conn.execute("CREATE TABLE IF NOT EXISTS tc_attempts (event_id text PRIMARY KEY, n int NOT NULL)", &[]).map_err(fail)?;
    Ok(())
}

fn apply(conn: &Connection, record: &KafkaRecord, ce: &CloudEvent<'_>, body: String) -> Result<(), HandlerError> {
    db::transaction(conn, |c| {
        if inbox::first_delivery(c, CONSUMER, ce.id)? {
            c.execute(
                "INSERT INTO tc_handled (event_id, ce_type, key, body, topic, part, off) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    P::Str(ce.id.to_string()),
                    P::Str(ce.ce_type.to_string()),
                    record.key.as_ref().map_or(P::DbNull, |k| P::Str(String::from_utf8_lossy(k).into_owned())),
                    P::Str(body),
                    P::Str(record.topic.clone()),
                    P::Int32(record.partition),
                    P::Int64(record.offset),
                ],
            )?;
        }
        Ok(())
    })
    .map_err(fail)
}

fn attempt(conn: &Connection, event_id: &str) -> Result<i32, HandlerError> {
    // Committed on its own, so it counts attempts that end in `retry`.
    let rows = conn
        .query(
            "INSERT INTO tc_attempts (event_id, n) VALUES ($1, 1) ON CONFLICT (event_id) DO UPDATE SET n = tc_attempts.n + 1 RETURNING n",
            &[P::Str(event_id.to_string())],
        )
        .map_err(fail)?;
    match rows.rows.first().and_then(|r| r.first()) {
        Some(DbValue::Int32(n)) => Ok(*n),
        other => Err(HandlerError::Retry(format!("unexpected attempt count {other:?}"))),
    }
}

impl Guest for Handler {
    fn handle(record: KafkaRecord) -> Result<(), HandlerError> {
        let ce = events::cloud_event(&record)?;
        let service = std::env::var("SERVICE").map_err(|_| HandlerError::Reject("SERVICE is not set".into()))?;
        let conn = db::open(&service).map_err(fail)?;
        setup(&conn)?;
        let text = String::from_utf8_lossy(&record.payload).into_owned();
        match ce.ce_type {
            "test.ok" => apply(&conn, &record, &ce, text),
            "test.retry" => {
                let wanted: i32 = text.trim().parse().map_err(|_| HandlerError::Reject("payload is not a number".into()))?;
                if attempt(&conn, ce.id)? < wanted {
                    Err(HandlerError::Retry("not yet".into()))
                } else {
                    apply(&conn, &record, &ce, text)
                }
            }
            "test.always-retry" => {
                attempt(&conn, ce.id)?;
                Err(HandlerError::Retry("never ready".into()))
            }
            "test.reject" => Err(HandlerError::Reject("rejected on purpose".into())),
            "test.trap" => panic!("trap on purpose"),
            "mart.product.created.v1" => {
                let created: ProductCreated = events::decode(&record)?;
                let sku = created.product.map(|p| p.sku).unwrap_or_default();
                apply(&conn, &record, &ce, sku)
            }
            other => Err(HandlerError::Reject(format!("unknown ce_type {other}"))),
        }
    }
}

mart_guest_sdk::events::export_event_handler!(Handler);
