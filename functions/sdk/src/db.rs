//! Postgres helpers over `spin_sdk::pg4` (the `spin:postgres@4.0.0` import).
//!
//! * [`open`] builds the address the host expects, `postgres://<service>`;
//!   the host maps it to that service's own database and role and refuses any
//!   other address, so no credentials ever reach a guest.
//! * [`transaction`] wraps a closure in BEGIN/COMMIT/ROLLBACK. This is a real
//!   transaction because one `Connection` pins one pooled connection.
//! * [`classify`] / [`problem_for`] turn a database error into a client
//!   answer by SQLSTATE: unique violation → 409, foreign-key violation → 409
//!   (services refine to 422 where the client named a missing reference),
//!   serialization failure/deadlock/unreachable → 503, anything else → 500.
//!   The full error is logged to stderr; clients never see SQL text.
//! * [`RowView`] reads typed columns by name with errors that say which
//!   column was wrong.

use spin_sdk::pg4::{Column, Connection, DbValue, ParameterValue, QueryError, RowSet};

pub use spin_sdk::pg4::PgError;

use crate::problem::Problem;

/// SQLSTATE classes we react to differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// 23505
    UniqueViolation,
    /// 23503
    ForeignKeyViolation,
    /// 23502, 23514, 22xxx: input the service should have validated.
    InvalidData,
    /// 40001, 40P01, 57014, 08xxx, connection failures: retrying may help.
    Transient,
    /// Everything else.
    Other,
}

impl FailureKind {
    /// Classifies a SQLSTATE code.
    pub fn from_sqlstate(code: &str) -> FailureKind {
        match code {
            "23505" => FailureKind::UniqueViolation,
            "23503" => FailureKind::ForeignKeyViolation,
            "23502" | "23514" => FailureKind::InvalidData,
            "40001" | "40P01" | "57014" => FailureKind::Transient,
            c if c.starts_with("22") => FailureKind::InvalidData,
            c if c.starts_with("08") => FailureKind::Transient,
            _ => FailureKind::Other,
        }
    }
}

/// What a failed statement tells a handler, independent of spin-sdk types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbFailure {
    pub kind: FailureKind,
    /// SQLSTATE, when the database reported one.
    pub code: Option<String>,
    /// Name of the violated constraint, when reported (e.g. `products_sku_key`).
    pub constraint: Option<String>,
    /// Full text, for logs only.
    pub log_text: String,
}

impl DbFailure {
    pub fn is_unique_violation_of(&self, constraint: &str) -> bool {
        self.kind == FailureKind::UniqueViolation && self.constraint.as_deref() == Some(constraint)
    }

    pub fn is_foreign_key_violation_of(&self, constraint: &str) -> bool {
        self.kind == FailureKind::ForeignKeyViolation
            && self.constraint.as_deref() == Some(constraint)
    }

    /// The generic client answer for this failure. Logs `log_text` to stderr
    /// for the 5xx cases, where the client gets no detail.
    pub fn to_problem(&self) -> Problem {
        match self.kind {
            FailureKind::UniqueViolation => {
                Problem::conflict("a resource with the same unique value already exists")
            }
            FailureKind::ForeignKeyViolation => Problem::conflict(
                "the change conflicts with related resources (a reference is missing or still in use)",
            ),
            FailureKind::Transient => {
                eprintln!("database unavailable or contended: {}", self.log_text);
                Problem::unavailable("the database is busy or unreachable; retry shortly")
            }
            FailureKind::InvalidData | FailureKind::Other => {
                eprintln!("database error: {}", self.log_text);
                Problem::internal()
            }
        }
    }
}

/// Classifies a pg4 error.
pub fn classify(err: &PgError) -> DbFailure {
    match err {
        PgError::QueryFailed(QueryError::DbError(db)) => DbFailure {
            kind: FailureKind::from_sqlstate(&db.code),
            code: Some(db.code.clone()),
            constraint: db
                .extras
                .iter()
                .find(|(k, _)| k == "constraint")
                .map(|(_, v)| v.clone()),
            log_text: format!(
                "{} (SQLSTATE {}){}",
                db.as_text,
                db.code,
                db.detail
                    .as_deref()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            ),
        },
        PgError::ConnectionFailed(text) => DbFailure {
            kind: FailureKind::Transient,
            code: None,
            constraint: None,
            log_text: format!("connection failed: {text}"),
        },
        other => DbFailure {
            kind: FailureKind::Other,
            code: None,
            constraint: None,
            log_text: other.to_string(),
        },
    }
}

/// Generic mapping of a database error to a response (logs 5xx causes).
pub fn problem_for(err: &PgError) -> Problem {
    classify(err).to_problem()
}

impl From<PgError> for Problem {
    fn from(err: PgError) -> Self {
        problem_for(&err)
    }
}

/// The address of `service`'s own database.
pub fn address(service: &str) -> String {
    format!("postgres://{service}")
}

/// Opens a connection to `service`'s database.
pub fn open(service: &str) -> Result<Connection, PgError> {
    Connection::open(&address(service))
}

/// Runs `body` inside BEGIN … COMMIT; rolls back if it returns `Err`.
///
/// `E` only has to be buildable from a [`PgError`] (e.g. [`Problem`] or
/// `anyhow::Error`). A failed ROLLBACK is logged; the body's error wins.
pub fn transaction<T, E>(
    conn: &Connection,
    body: impl FnOnce(&Connection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<PgError>,
{
    conn.execute("BEGIN", &[])?;
    match body(conn) {
        Ok(value) => {
            if let Err(e) = conn.execute("COMMIT", &[]) {
                // A failed COMMIT leaves the server side rolled back already.
                return Err(E::from(e));
            }
            Ok(value)
        }
        Err(e) => {
            if let Err(rb) = conn.execute("ROLLBACK", &[]) {
                eprintln!("rollback failed: {rb}");
            }
            Err(e)
        }
    }
}

/// Parameter helpers, so call sites read like the SQL types they target.
pub mod param {
    use super::ParameterValue;

    pub fn text(v: impl Into<String>) -> ParameterValue {
        ParameterValue::Str(v.into())
    }

    pub fn opt_text(v: Option<impl Into<String>>) -> ParameterValue {
        v.map(text).unwrap_or(ParameterValue::DbNull)
    }

    /// A UUID in its canonical text form.
    pub fn uuid(v: impl Into<String>) -> ParameterValue {
        ParameterValue::Uuid(v.into())
    }

    pub fn opt_uuid(v: Option<impl Into<String>>) -> ParameterValue {
        v.map(uuid).unwrap_or(ParameterValue::DbNull)
    }

    pub fn int8(v: i64) -> ParameterValue {
        ParameterValue::Int64(v)
    }

    pub fn boolean(v: bool) -> ParameterValue {
        ParameterValue::Boolean(v)
    }

    pub fn null() -> ParameterValue {
        ParameterValue::DbNull
    }
}

/// A column read failed: a bug (schema and code disagree), so a 500.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecodeError {}

impl From<DecodeError> for Problem {
    fn from(e: DecodeError) -> Self {
        eprintln!("row decoding failed: {e}");
        Problem::internal()
    }
}

/// One row with by-name typed access.
#[derive(Debug, Clone, Copy)]
pub struct RowView<'a> {
    columns: &'a [Column],
    values: &'a [DbValue],
}

/// Iterates the rows of a result set as [`RowView`]s.
pub fn rows(set: &RowSet) -> impl Iterator<Item = RowView<'_>> {
    set.rows.iter().map(|r| RowView {
        columns: &set.columns,
        values: r,
    })
}

/// The first row, if any.
pub fn first_row(set: &RowSet) -> Option<RowView<'_>> {
    rows(set).next()
}

impl<'a> RowView<'a> {
    pub fn new(columns: &'a [Column], values: &'a [DbValue]) -> Self {
        Self { columns, values }
    }

    fn value(&self, name: &str) -> Result<&'a DbValue, DecodeError> {
        self.columns
            .iter()
            .position(|c| c.name == name)
            .and_then(|i| self.values.get(i))
            .ok_or_else(|| DecodeError(format!("no column `{name}` in the result")))
    }

    fn mismatch(name: &str, want: &str, got: &DbValue) -> DecodeError {
        DecodeError(format!("column `{name}`: expected {want}, got {got:?}"))
    }

    fn non_null<T>(name: &str, v: Option<T>) -> Result<T, DecodeError> {
        v.ok_or_else(|| DecodeError(format!("column `{name}` is NULL")))
    }

    /// TEXT/VARCHAR (also accepts UUID, delivered as text).
    pub fn opt_string(&self, name: &str) -> Result<Option<String>, DecodeError> {
        match self.value(name)? {
            DbValue::Str(s) | DbValue::Uuid(s) => Ok(Some(s.clone())),
            DbValue::DbNull => Ok(None),
            other => Err(Self::mismatch(name, "text", other)),
        }
    }

    pub fn string(&self, name: &str) -> Result<String, DecodeError> {
        Self::non_null(name, self.opt_string(name)?)
    }

    /// Any integer column, widened to i64.
    pub fn opt_i64(&self, name: &str) -> Result<Option<i64>, DecodeError> {
        match self.value(name)? {
            DbValue::Int8(n) => Ok(Some(i64::from(*n))),
            DbValue::Int16(n) => Ok(Some(i64::from(*n))),
            DbValue::Int32(n) => Ok(Some(i64::from(*n))),
            DbValue::Int64(n) => Ok(Some(*n)),
            DbValue::DbNull => Ok(None),
            other => Err(Self::mismatch(name, "an integer", other)),
        }
    }

    pub fn i64(&self, name: &str) -> Result<i64, DecodeError> {
        Self::non_null(name, self.opt_i64(name)?)
    }

    pub fn opt_bool(&self, name: &str) -> Result<Option<bool>, DecodeError> {
        match self.value(name)? {
            DbValue::Boolean(b) => Ok(Some(*b)),
            DbValue::DbNull => Ok(None),
            other => Err(Self::mismatch(name, "boolean", other)),
        }
    }

    pub fn bool(&self, name: &str) -> Result<bool, DecodeError> {
        Self::non_null(name, self.opt_bool(name)?)
    }

    /// TIMESTAMP/TIMESTAMPTZ (delivered as UTC) rendered as RFC 3339
    /// `YYYY-MM-DDTHH:MM:SS.ffffffZ`; a text column is passed through.
    pub fn opt_timestamp(&self, name: &str) -> Result<Option<String>, DecodeError> {
        match self.value(name)? {
            DbValue::Datetime(dt) => Ok(Some(format_datetime(*dt))),
            DbValue::Str(s) => Ok(Some(s.clone())),
            DbValue::DbNull => Ok(None),
            other => Err(Self::mismatch(name, "timestamp", other)),
        }
    }

    pub fn timestamp(&self, name: &str) -> Result<String, DecodeError> {
        Self::non_null(name, self.opt_timestamp(name)?)
    }
}

/// Formats the pg4 datetime tuple (always UTC) as RFC 3339 with microseconds,
/// PostgreSQL's own precision.
pub fn format_datetime((y, mo, d, h, mi, s, ns): (i32, u8, u8, u8, u8, u8, u32)) -> String {
    format!(
        "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:06}Z",
        ns / 1_000
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use spin_sdk::pg4::{DbDataType, DbError};

    fn db_error(code: &str, constraint: Option<&str>) -> PgError {
        PgError::QueryFailed(QueryError::DbError(DbError {
            as_text: format!("ERROR: something SELECT secret FROM t ({code})"),
            severity: "ERROR".into(),
            code: code.into(),
            message: "m".into(),
            detail: Some("Key (sku)=(A) already exists.".into()),
            extras: constraint
                .map(|c| vec![("constraint".to_string(), c.to_string())])
                .unwrap_or_default(),
        }))
    }

    #[test]
    fn sqlstate_classes() {
        assert_eq!(
            FailureKind::from_sqlstate("23505"),
            FailureKind::UniqueViolation
        );
        assert_eq!(
            FailureKind::from_sqlstate("23503"),
            FailureKind::ForeignKeyViolation
        );
        assert_eq!(
            FailureKind::from_sqlstate("23514"),
            FailureKind::InvalidData
        );
        assert_eq!(
            FailureKind::from_sqlstate("22P02"),
            FailureKind::InvalidData
        );
        assert_eq!(FailureKind::from_sqlstate("40001"), FailureKind::Transient);
        assert_eq!(FailureKind::from_sqlstate("40P01"), FailureKind::Transient);
        assert_eq!(FailureKind::from_sqlstate("08006"), FailureKind::Transient);
        assert_eq!(FailureKind::from_sqlstate("42P01"), FailureKind::Other);
    }

    #[test]
    fn unique_violation_is_409_with_constraint() {
        let f = classify(&db_error("23505", Some("products_sku_key")));
        assert!(f.is_unique_violation_of("products_sku_key"));
        assert!(!f.is_unique_violation_of("other"));
        assert_eq!(f.to_problem().status, 409);
        assert_eq!(problem_for(&db_error("23505", None)).status, 409);
    }

    #[test]
    fn foreign_key_violation_is_409() {
        let f = classify(&db_error("23503", Some("products_category_id_fkey")));
        assert!(f.is_foreign_key_violation_of("products_category_id_fkey"));
        assert_eq!(f.to_problem().status, 409);
    }

    #[test]
    fn other_errors_are_500_without_sql() {
        let p: Problem = db_error("42P01", None).into();
        assert_eq!(p.status, 500);
        let body = String::from_utf8(p.to_json()).unwrap();
        assert!(!body.contains("SELECT"), "{body}");
        assert!(!body.contains("sku"), "{body}");
    }

    #[test]
    fn connection_failure_is_503() {
        let p = problem_for(&PgError::ConnectionFailed("refused".into()));
        assert_eq!(p.status, 503);
        assert_eq!(problem_for(&PgError::BadParameter("x".into())).status, 500);
    }

    #[test]
    fn address_format() {
        assert_eq!(address("product"), "postgres://product");
    }

    fn col(name: &str) -> Column {
        Column {
            name: name.into(),
            data_type: DbDataType::Str,
        }
    }

    #[test]
    fn row_view_reads_typed_columns() {
        let columns = vec![
            col("id"),
            col("n"),
            col("flag"),
            col("at"),
            col("none"),
            col("s"),
        ];
        let values = vec![
            DbValue::Uuid("0b6a…".into()),
            DbValue::Int32(7),
            DbValue::Boolean(true),
            DbValue::Datetime((2024, 2, 29, 13, 5, 9, 123_456_789)),
            DbValue::DbNull,
            DbValue::Str("hello".into()),
        ];
        let row = RowView::new(&columns, &values);
        assert_eq!(row.string("id").unwrap(), "0b6a…");
        assert_eq!(row.i64("n").unwrap(), 7);
        assert!(row.bool("flag").unwrap());
        assert_eq!(row.timestamp("at").unwrap(), "2024-02-29T13:05:09.123456Z");
        assert_eq!(row.opt_string("none").unwrap(), None);
        assert_eq!(row.opt_i64("none").unwrap(), None);
        assert!(row.string("none").unwrap_err().0.contains("NULL"));
        assert!(row.i64("s").unwrap_err().0.contains("`s`"));
        assert!(row.string("missing").unwrap_err().0.contains("no column"));
        let p: Problem = row.bool("s").unwrap_err().into();
        assert_eq!(p.status, 500);
    }

    #[test]
    fn datetime_formatting_pads() {
        assert_eq!(
            format_datetime((999, 1, 2, 3, 4, 5, 0)),
            "0999-01-02T03:04:05.000000Z"
        );
    }
}
