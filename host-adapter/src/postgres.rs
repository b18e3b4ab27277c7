//! `spin:postgres/postgres@4.0.0` for guests, on the host's connection pools.
//!
//! A guest opens `postgres://<service>`; the host hands it a connection from
//! that service's pool, logged in as that service's role, and refuses every
//! other address. A `connection` resource pins one pooled connection for its
//! lifetime, so `BEGIN … COMMIT` issued by a guest is a real transaction; when
//! the resource (or the whole instance, on a trap) goes away the connection is
//! rolled back before the pool hands it out again.

// The interface's `error` type is what guests receive; boxing it would only add allocations.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};
use deadpool_postgres::Pool;
use rust_decimal::Decimal;
use tokio_postgres::types::{to_sql_checked, FromSql, IsNull, Kind, ToSql, Type};
use wasmtime::component::{HasSelf, Linker, Resource};

use crate::runtime::GuestState;

pub(crate) mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "mart:host/guest-imports",
        imports: { default: async | trappable },
        with: {
            "spin:postgres/postgres.connection": super::PgConnection,
        },
    });
}

use bindings::spin::postgres::postgres::{
    self as pg, Column, DbDataType, DbError, DbValue, Error as PgError, ParameterValue, QueryError, RowSet,
};

/// Connections one instance may hold at once, so a guest cannot drain its service's pool.
const MAX_CONNECTIONS_PER_INSTANCE: usize = 4;

/// A service's database as the host exposes it to that service's components.
#[derive(Clone)]
pub struct ServiceDb {
    pub service: String,
    pub pool: Pool,
    /// Connection settings of the service's role, for connections outside the pool (LISTEN).
    pub config: tokio_postgres::Config,
}

/// The database side of one instance's state.
#[derive(Default)]
pub struct PgState {
    /// The database this component may use, if its manifest binds it to a service.
    pub db: Option<Arc<ServiceDb>>,
    open: usize,
}

impl PgState {
    pub fn new(db: Option<Arc<ServiceDb>>) -> Self {
        PgState { db, open: 0 }
    }
}

/// A pooled connection pinned to one guest `connection` resource.
pub struct PgConnection {
    client: Option<deadpool_postgres::Object>,
    /// Whether the guest left a transaction open, so it must be rolled back
    /// before the connection serves anyone else.
    in_transaction: bool,
}

impl PgConnection {
    fn client(&self) -> &deadpool_postgres::Object {
        self.client.as_ref().expect("client is present until drop")
    }

    fn track(&mut self, sql: &str) {
        if let Some(open) = transaction_effect(sql) {
            self.in_transaction = open;
        }
    }
}

impl Drop for PgConnection {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else { return };
        if !self.in_transaction {
            return; // back to the pool as it is
        }
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move {
                    if let Err(e) = client.batch_execute("ROLLBACK").await {
                        tracing::warn!(error = %e, "rolling back an abandoned guest transaction failed; closing the connection");
                        let _ = deadpool_postgres::Object::take(client);
                    }
                });
            }
            // No runtime to roll back on: never return an open transaction to the pool.
            Err(_) => drop(deadpool_postgres::Object::take(client)),
        }
    }
}

pub fn add_to_linker(linker: &mut Linker<GuestState>) -> wasmtime::Result<()> {
    pg::add_to_linker::<GuestState, HasSelf<GuestState>>(linker, |s| s)
}

/// The address a component of `service` opens: `postgres://<service>`.
pub fn address_for(service: &str) -> String {
    format!("postgres://{service}")
}

impl pg::Host for GuestState {}

impl pg::HostConnection for GuestState {
    async fn open(&mut self, address: String) -> wasmtime::Result<Result<Resource<PgConnection>, PgError>> {
        let Some(db) = self.pg.db.clone() else {
            return Ok(Err(PgError::ConnectionFailed(
                "this component has no database: its manifest binds it to no service".into(),
            )));
        };
        let own = address_for(&db.service);
        if address.trim_end_matches('/') != own {
            tracing::warn!(service = %db.service, %address, "guest asked for a database that is not its own");
            return Ok(Err(PgError::ConnectionFailed(format!(
                "address `{address}` refused: this component may open only its own service's database, `{own}`"
            ))));
        }
        if self.pg.open >= MAX_CONNECTIONS_PER_INSTANCE {
            return Ok(Err(PgError::ConnectionFailed(format!(
                "at most {MAX_CONNECTIONS_PER_INSTANCE} connections may be open at once per instance"
            ))));
        }
        match db.pool.get().await {
            Ok(client) => {
                self.pg.open += 1;
                Ok(Ok(self.table.push(PgConnection { client: Some(client), in_transaction: false })?))
            }
            Err(e) => Ok(Err(PgError::ConnectionFailed(format!("database `{}` unavailable: {e}", db.service)))),
        }
    }

    async fn query(
        &mut self,
        conn: Resource<PgConnection>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> wasmtime::Result<Result<RowSet, PgError>> {
        let conn = self.table.get_mut(&conn)?;
        let result = run_query(conn.client(), &statement, params).await;
        conn.track(&statement);
        Ok(result)
    }

    async fn execute(
        &mut self,
        conn: Resource<PgConnection>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> wasmtime::Result<Result<u64, PgError>> {
        let conn = self.table.get_mut(&conn)?;
        let result = run_execute(conn.client(), &statement, params).await;
        conn.track(&statement);
        Ok(result)
    }

    async fn drop(&mut self, conn: Resource<PgConnection>) -> wasmtime::Result<()> {
        self.table.delete(conn)?;
        self.pg.open = self.pg.open.saturating_sub(1);
        Ok(())
    }
}

async fn run_query(client: &deadpool_postgres::Object, sql: &str, params: Vec<ParameterValue>) -> Result<RowSet, PgError> {
    let stmt = client.prepare_cached(sql).await.map_err(query_error)?;
    let args = bind(stmt.params(), params)?;
    let refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a.as_ref() as &(dyn ToSql + Sync)).collect();
    let rows = client.query(&stmt, &refs).await.map_err(query_error)?;
    let columns: Vec<Column> = stmt
        .columns()
        .iter()
        .map(|c| Column { name: c.name().to_string(), data_type: data_type(c.type_()) })
        .collect();
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut values = Vec::with_capacity(columns.len());
        for (i, col) in stmt.columns().iter().enumerate() {
            values.push(db_value(row, i, col.type_())?);
        }
        out.push(values);
    }
    Ok(RowSet { columns, rows: out })
}

async fn run_execute(client: &deadpool_postgres::Object, sql: &str, params: Vec<ParameterValue>) -> Result<u64, PgError> {
    if params.is_empty() && is_transaction_control(sql) {
        // BEGIN/COMMIT/ROLLBACK/SAVEPOINT need no plan; the simple protocol saves a round trip.
        client.batch_execute(sql).await.map_err(query_error)?;
        return Ok(0);
    }
    let stmt = client.prepare_cached(sql).await.map_err(query_error)?;
    let args = bind(stmt.params(), params)?;
    let refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a.as_ref() as &(dyn ToSql + Sync)).collect();
    client.execute(&stmt, &refs).await.map_err(query_error)
}

/// `Some(true)` when `sql` opens a transaction, `Some(false)` when it ends one.
fn transaction_effect(sql: &str) -> Option<bool> {
    let mut words = sql.trim_start().split(|c: char| c.is_whitespace() || c == ';').filter(|w| !w.is_empty());
    let first = words.next()?.to_ascii_lowercase();
    let second = words.next().map(|w| w.to_ascii_lowercase());
    match first.as_str() {
        "begin" | "start" => Some(true),
        "commit" | "end" | "abort" => Some(false),
        // `ROLLBACK TO [SAVEPOINT] x` keeps the transaction open.
        "rollback" if second.as_deref() != Some("to") => Some(false),
        _ => None,
    }
}

fn is_transaction_control(sql: &str) -> bool {
    let first = sql.trim_start().split(|c: char| c.is_whitespace() || c == ';').next().unwrap_or("");
    ["begin", "commit", "rollback", "savepoint", "release", "start", "end"]
        .iter()
        .any(|k| first.eq_ignore_ascii_case(k))
}

fn query_error(e: tokio_postgres::Error) -> PgError {
    match e.as_db_error() {
        Some(db) => {
            let mut extras = Vec::new();
            for (k, v) in [
                ("schema", db.schema()),
                ("table", db.table()),
                ("column", db.column()),
                ("constraint", db.constraint()),
                ("datatype", db.datatype()),
                ("hint", db.hint()),
            ] {
                if let Some(v) = v {
                    extras.push((k.to_string(), v.to_string()));
                }
            }
            PgError::QueryFailed(QueryError::DbError(DbError {
                as_text: db.to_string(),
                severity: db.severity().to_string(),
                code: db.code().code().to_string(),
                message: db.message().to_string(),
                detail: db.detail().map(str::to_string),
                extras,
            }))
        }
        None => PgError::QueryFailed(QueryError::Text(e.to_string())),
    }
}

// ---------------------------------------------------------------------------
// Parameters: the guest's value, converted to what the statement expects.

type Param = Box<dyn ToSql + Sync + Send>;

/// SQL NULL for a parameter of any type.
#[derive(Debug)]
struct Null;

impl ToSql for Null {
    fn to_sql(&self, _: &Type, _: &mut bytes::BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        Ok(IsNull::Yes)
    }
    fn accepts(_: &Type) -> bool {
        true
    }
    to_sql_checked!();
}

fn bind(types: &[Type], params: Vec<ParameterValue>) -> Result<Vec<Param>, PgError> {
    if types.len() != params.len() {
        return Err(PgError::BadParameter(format!(
            "the statement takes {} parameter(s), {} given",
            types.len(),
            params.len()
        )));
    }
    params
        .into_iter()
        .zip(types)
        .enumerate()
        .map(|(i, (p, ty))| param(p, ty).map_err(|e| PgError::BadParameter(format!("${}: {e}", i + 1))))
        .collect()
}

fn int_param(v: i64, ty: &Type) -> Result<Param, String> {
    let range = |t: &str| format!("{v} does not fit {t}");
    Ok(match *ty {
        Type::INT2 => Box::new(i16::try_from(v).map_err(|_| range("int2"))?),
        Type::INT4 => Box::new(i32::try_from(v).map_err(|_| range("int4"))?),
        Type::INT8 => Box::new(v),
        Type::CHAR => Box::new(i8::try_from(v).map_err(|_| range("\"char\""))?),
        Type::NUMERIC => Box::new(Decimal::from(v)),
        Type::FLOAT4 => Box::new(v as f32),
        Type::FLOAT8 => Box::new(v as f64),
        Type::TEXT | Type::VARCHAR => Box::new(v.to_string()),
        _ => return Err(format!("an integer cannot be passed as {ty}")),
    })
}

fn float_param(v: f64, ty: &Type) -> Result<Param, String> {
    Ok(match *ty {
        Type::FLOAT4 => Box::new(v as f32),
        Type::FLOAT8 => Box::new(v),
        Type::NUMERIC => Box::new(Decimal::try_from(v).map_err(|e| e.to_string())?),
        _ => return Err(format!("a float cannot be passed as {ty}")),
    })
}

fn text_like(ty: &Type) -> bool {
    matches!(*ty, Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN)
}

fn param(p: ParameterValue, ty: &Type) -> Result<Param, String> {
    use ParameterValue as P;
    Ok(match p {
        P::DbNull => Box::new(Null),
        P::Boolean(b) => Box::new(b),
        P::Int8(v) => int_param(v.into(), ty)?,
        P::Int16(v) => int_param(v.into(), ty)?,
        P::Int32(v) => int_param(v.into(), ty)?,
        P::Int64(v) => int_param(v, ty)?,
        P::Floating32(v) => float_param(v.into(), ty)?,
        P::Floating64(v) => float_param(v, ty)?,
        P::Str(s) => match *ty {
            Type::UUID => Box::new(uuid::Uuid::parse_str(&s).map_err(|e| format!("not a uuid: {e}"))?),
            Type::JSON | Type::JSONB => {
                Box::new(serde_json::from_str::<serde_json::Value>(&s).map_err(|e| format!("not JSON: {e}"))?)
            }
            Type::NUMERIC => Box::new(s.parse::<Decimal>().map_err(|e| format!("not a decimal: {e}"))?),
            _ => Box::new(s),
        },
        P::Binary(b) => Box::new(b),
        P::Date((y, m, d)) => Box::new(date(y, m, d)?),
        P::Time((h, mi, s, ns)) => Box::new(time(h, mi, s, ns)?),
        P::Datetime((y, mo, d, h, mi, s, ns)) => {
            let dt = NaiveDateTime::new(date(y, mo, d)?, time(h, mi, s, ns)?);
            match *ty {
                Type::TIMESTAMPTZ => Box::new(dt.and_utc()),
                _ => Box::new(dt),
            }
        }
        P::Timestamp(secs) => {
            let dt = DateTime::<Utc>::from_timestamp(secs, 0).ok_or_else(|| format!("timestamp {secs} out of range"))?;
            match *ty {
                Type::TIMESTAMP => Box::new(dt.naive_utc()),
                _ => Box::new(dt),
            }
        }
        P::Uuid(s) => {
            let u = uuid::Uuid::parse_str(&s).map_err(|e| format!("not a uuid: {e}"))?;
            if text_like(ty) { Box::new(u.to_string()) } else { Box::new(u) }
        }
        P::Jsonb(bytes) => {
            Box::new(serde_json::from_slice::<serde_json::Value>(&bytes).map_err(|e| format!("not JSON: {e}"))?)
        }
        P::Decimal(s) => {
            let d = s.parse::<Decimal>().map_err(|e| format!("not a decimal: {e}"))?;
            match *ty {
                Type::FLOAT8 => Box::new(f64::try_from(d).map_err(|e| e.to_string())?),
                _ => Box::new(d),
            }
        }
        P::ArrayInt32(v) => match *ty {
            Type::INT8_ARRAY => Box::new(v.into_iter().map(|x| x.map(i64::from)).collect::<Vec<_>>()),
            _ => Box::new(v),
        },
        P::ArrayInt64(v) => match *ty {
            Type::INT4_ARRAY => Box::new(
                v.into_iter()
                    .map(|x| x.map(i32::try_from).transpose().map_err(|_| "array element does not fit int4".to_string()))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            _ => Box::new(v),
        },
        P::ArrayDecimal(v) => Box::new(
            v.into_iter()
                .map(|x| x.map(|s| s.parse::<Decimal>()).transpose().map_err(|e| format!("not a decimal: {e}")))
                .collect::<Result<Vec<Option<Decimal>>, _>>()?,
        ),
        P::ArrayStr(v) => match *ty {
            Type::UUID_ARRAY => Box::new(
                v.into_iter()
                    .map(|x| x.map(|s| uuid::Uuid::parse_str(&s)).transpose().map_err(|e| format!("not a uuid: {e}")))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            _ => Box::new(v),
        },
        P::Interval(i) => Box::new(PgInterval { micros: i.micros, days: i.days, months: i.months }),
        P::RangeInt32(_) | P::RangeInt64(_) | P::RangeDecimal(_) => {
            return Err("range parameters are not supported by this host; pass the bounds as two parameters".into())
        }
    })
}

fn date(y: i32, m: u8, d: u8) -> Result<NaiveDate, String> {
    NaiveDate::from_ymd_opt(y, m.into(), d.into()).ok_or_else(|| format!("{y}-{m}-{d} is not a date"))
}

fn time(h: u8, m: u8, s: u8, ns: u32) -> Result<NaiveTime, String> {
    NaiveTime::from_hms_nano_opt(h.into(), m.into(), s.into(), ns).ok_or_else(|| format!("{h}:{m}:{s}.{ns} is not a time"))
}

/// PostgreSQL `interval` in its binary wire form (micros, days, months).
#[derive(Debug)]
struct PgInterval {
    micros: i64,
    days: i32,
    months: i32,
}

impl ToSql for PgInterval {
    fn to_sql(&self, _: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(&self.micros.to_be_bytes());
        out.extend_from_slice(&self.days.to_be_bytes());
        out.extend_from_slice(&self.months.to_be_bytes());
        Ok(IsNull::No)
    }
    fn accepts(ty: &Type) -> bool {
        *ty == Type::INTERVAL
    }
    to_sql_checked!();
}

impl<'a> FromSql<'a> for PgInterval {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        if raw.len() != 16 {
            return Err("interval must be 16 bytes".into());
        }
        Ok(PgInterval {
            micros: i64::from_be_bytes(raw[0..8].try_into()?),
            days: i32::from_be_bytes(raw[8..12].try_into()?),
            months: i32::from_be_bytes(raw[12..16].try_into()?),
        })
    }
    fn accepts(ty: &Type) -> bool {
        *ty == Type::INTERVAL
    }
}

/// Any value, as the raw bytes PostgreSQL sent, for types the interface has no variant for.
struct Raw(Vec<u8>);

impl<'a> FromSql<'a> for Raw {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(raw.to_vec()))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}

// ---------------------------------------------------------------------------
// Results: each column's PostgreSQL type, as the interface's variants.

fn data_type(ty: &Type) -> DbDataType {
    match *ty {
        Type::BOOL => DbDataType::Boolean,
        Type::CHAR => DbDataType::Int8,
        Type::INT2 => DbDataType::Int16,
        Type::INT4 => DbDataType::Int32,
        Type::INT8 => DbDataType::Int64,
        Type::FLOAT4 => DbDataType::Floating32,
        Type::FLOAT8 => DbDataType::Floating64,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => DbDataType::Str,
        Type::BYTEA => DbDataType::Binary,
        Type::DATE => DbDataType::Date,
        Type::TIME => DbDataType::Time,
        Type::TIMESTAMP | Type::TIMESTAMPTZ => DbDataType::Datetime,
        Type::UUID => DbDataType::Uuid,
        Type::JSON | Type::JSONB => DbDataType::Jsonb,
        Type::NUMERIC => DbDataType::Decimal,
        Type::INT2_ARRAY | Type::INT4_ARRAY => DbDataType::ArrayInt32,
        Type::INT8_ARRAY => DbDataType::ArrayInt64,
        Type::NUMERIC_ARRAY => DbDataType::ArrayDecimal,
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY | Type::BPCHAR_ARRAY | Type::UUID_ARRAY => DbDataType::ArrayStr,
        Type::INTERVAL => DbDataType::Interval,
        _ => DbDataType::Other(ty.name().to_string()),
    }
}

fn conversion(col: usize, ty: &Type, e: impl std::fmt::Display) -> PgError {
    PgError::ValueConversionFailed(format!("column {col} ({ty}): {e}"))
}

fn db_value(row: &tokio_postgres::Row, i: usize, ty: &Type) -> Result<DbValue, PgError> {
    macro_rules! get {
        ($t:ty, $variant:expr) => {
            match row.try_get::<_, Option<$t>>(i).map_err(|e| conversion(i, ty, e))? {
                None => DbValue::DbNull,
                Some(v) => $variant(v),
            }
        };
    }
    Ok(match *ty {
        Type::BOOL => get!(bool, DbValue::Boolean),
        Type::CHAR => get!(i8, DbValue::Int8),
        Type::INT2 => get!(i16, DbValue::Int16),
        Type::INT4 => get!(i32, DbValue::Int32),
        Type::INT8 => get!(i64, DbValue::Int64),
        Type::FLOAT4 => get!(f32, DbValue::Floating32),
        Type::FLOAT8 => get!(f64, DbValue::Floating64),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => get!(String, DbValue::Str),
        Type::BYTEA => get!(Vec<u8>, DbValue::Binary),
        Type::DATE => get!(NaiveDate, |d: NaiveDate| DbValue::Date((d.year(), d.month() as u8, d.day() as u8))),
        Type::TIME => get!(NaiveTime, |t: NaiveTime| DbValue::Time(time_tuple(t))),
        Type::TIMESTAMP => get!(NaiveDateTime, |dt: NaiveDateTime| DbValue::Datetime(datetime_tuple(dt))),
        Type::TIMESTAMPTZ => get!(DateTime<Utc>, |dt: DateTime<Utc>| DbValue::Datetime(datetime_tuple(dt.naive_utc()))),
        Type::UUID => get!(uuid::Uuid, |u: uuid::Uuid| DbValue::Uuid(u.to_string())),
        Type::JSON | Type::JSONB => {
            get!(serde_json::Value, |v: serde_json::Value| DbValue::Jsonb(serde_json::to_vec(&v).unwrap_or_default()))
        }
        Type::NUMERIC => get!(Decimal, |d: Decimal| DbValue::Decimal(d.to_string())),
        Type::INT2_ARRAY => get!(Vec<Option<i16>>, |v: Vec<Option<i16>>| DbValue::ArrayInt32(
            v.into_iter().map(|x| x.map(i32::from)).collect()
        )),
        Type::INT4_ARRAY => get!(Vec<Option<i32>>, DbValue::ArrayInt32),
        Type::INT8_ARRAY => get!(Vec<Option<i64>>, DbValue::ArrayInt64),
        Type::NUMERIC_ARRAY => get!(Vec<Option<Decimal>>, |v: Vec<Option<Decimal>>| DbValue::ArrayDecimal(
            v.into_iter().map(|x| x.map(|d| d.to_string())).collect()
        )),
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY | Type::BPCHAR_ARRAY => get!(Vec<Option<String>>, DbValue::ArrayStr),
        Type::UUID_ARRAY => get!(Vec<Option<uuid::Uuid>>, |v: Vec<Option<uuid::Uuid>>| DbValue::ArrayStr(
            v.into_iter().map(|x| x.map(|u| u.to_string())).collect()
        )),
        Type::INTERVAL => get!(PgInterval, |iv: PgInterval| DbValue::Interval(pg::Interval {
            micros: iv.micros,
            days: iv.days,
            months: iv.months
        })),
        _ if matches!(ty.kind(), Kind::Enum(_)) => get!(Raw, |r: Raw| DbValue::Str(String::from_utf8_lossy(&r.0).into_owned())),
        _ => get!(Raw, |r: Raw| DbValue::Unsupported(r.0)),
    })
}

fn time_tuple(t: NaiveTime) -> (u8, u8, u8, u32) {
    (t.hour() as u8, t.minute() as u8, t.second() as u8, t.nanosecond())
}

fn datetime_tuple(dt: NaiveDateTime) -> (i32, u8, u8, u8, u8, u8, u32) {
    let (h, m, s, ns) = time_tuple(dt.time());
    (dt.year(), dt.month() as u8, dt.day() as u8, h, m, s, ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_coerced_to_the_column_width() {
        assert!(int_param(7, &Type::INT2).is_ok());
        assert!(int_param(70_000, &Type::INT2).unwrap_err().contains("int2"));
        assert!(int_param(i64::MAX, &Type::INT4).is_err());
        assert!(int_param(1, &Type::BYTEA).is_err());
    }

    #[test]
    fn transaction_state_is_tracked() {
        assert_eq!(transaction_effect("BEGIN"), Some(true));
        assert_eq!(transaction_effect("start transaction"), Some(true));
        assert_eq!(transaction_effect("COMMIT;"), Some(false));
        assert_eq!(transaction_effect("ROLLBACK"), Some(false));
        assert_eq!(transaction_effect("ROLLBACK TO SAVEPOINT a"), None);
        assert_eq!(transaction_effect("SELECT 1"), None);
    }

    #[test]
    fn transaction_control_is_recognised() {
        assert!(is_transaction_control("BEGIN"));
        assert!(is_transaction_control("  commit;"));
        assert!(is_transaction_control("ROLLBACK TO SAVEPOINT a"));
        assert!(!is_transaction_control("INSERT INTO t VALUES (1)"));
        assert!(!is_transaction_control("beginning"));
    }

    #[test]
    fn bad_values_name_the_parameter() {
        let err = bind(&[Type::UUID], vec![ParameterValue::Str("nope".into())]).err().unwrap();
        match err {
            PgError::BadParameter(m) => assert!(m.starts_with("$1"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(bind(&[Type::INT4, Type::INT4], vec![ParameterValue::Int32(1)]).is_err());
    }

    #[test]
    fn dates_are_validated() {
        assert!(date(2024, 2, 30).is_err());
        assert!(time(24, 0, 0, 0).is_err());
        assert!(date(2024, 2, 29).is_ok());
    }
}
