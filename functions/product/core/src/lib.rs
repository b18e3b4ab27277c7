//! Product catalogue business rules, in plain Rust.
//!
//! Everything a client can get wrong is decided here, so it is unit-tested
//! natively without a Wasm runtime or a database: request validation that
//! reports every bad field at once ([`product`], [`category`]), money and
//! currency rules ([`money`]), list-query parsing into a typed [`listing::ListQuery`]
//! and its parameterized SQL ([`listing`]), and routing ([`routes`]).
//! The `product-http` component only moves bytes between these functions,
//! `spin-sdk` and Postgres.
//!
//! SQL produced here is always parameterized: user text only ever travels as
//! a bind value ([`SqlValue`]); identifiers and ORDER BY fragments come from
//! fixed enums.

pub mod category;
pub mod events;
pub mod ids;
pub mod listing;
pub mod money;
pub mod product;
pub mod routes;

use serde::{Deserialize, Deserializer, Serialize};

/// One invalid input, named by JSON path (`price.currency`) or query
/// parameter (`min_price`). Mirrors the SDK's problem `errors` entries; kept
/// local so this crate stays free of runtime dependencies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A bind parameter, mapped 1:1 to `spin_sdk::pg4::ParameterValue` by the
/// adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlValue {
    Text(String),
    Int(i64),
    Bool(bool),
    /// Canonical lowercase hyphenated UUID text.
    Uuid(String),
    Null,
}

/// A statement and its parameters (`$1` is `params[0]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlQuery {
    pub sql: String,
    pub params: Vec<SqlValue>,
}

impl SqlQuery {
    /// Appends a parameter and returns its placeholder (`$n`).
    pub(crate) fn bind(&mut self, value: SqlValue) -> String {
        self.params.push(value);
        format!("${}", self.params.len())
    }
}

/// Lets a PATCH body tell "absent" (`None`) from explicit `null`
/// (`Some(None)`); use with `#[serde(default, deserialize_with = "patch_field")]`.
pub fn patch_field<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A human-readable name (product, category): trimmed, non-empty, at most
/// `max` characters, no control characters. Returns the trimmed value to store.
pub(crate) fn display_name(name: &str, max: usize) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    if char_len(name) > max {
        return Err(format!("must be at most {max} characters"));
    }
    if name.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(name.to_string())
}

/// Character count (not bytes), the unit every length limit here uses.
pub(crate) fn char_len(s: &str) -> usize {
    s.chars().count()
}
