//! Shared helpers for Online Mart guest components.
//!
//! Every service's HTTP component is a thin adapter over its plain-Rust core
//! crate; this crate holds what those adapters would otherwise copy: RFC 9457
//! problem responses, JSON body extraction with useful 400/422 errors, the
//! verified identity the host passes in headers, pagination, query-string
//! access and Postgres helpers.
//!
//! The modules are split on purpose: [`problem`], [`json`], [`identity`],
//! [`page`], [`query`] and the classification half of [`db`] work on plain
//! Rust values (strings, byte slices, SQLSTATE codes) so they are unit-tested
//! natively with `cargo test -p mart-guest-sdk`. Only the thin conversions in
//! [`http`] and the connection helpers in [`db`] touch `spin-sdk` types (which
//! compile natively too, they just cannot be *called* outside a Spin host).

// `Problem` (and spin-sdk's `PgError`) are large for an `Err`, but they are
// the response path of a one-request-per-instance handler: boxing would only
// add allocations. spin-sdk allows the same lint for pg4.
#![allow(clippy::result_large_err)]

pub mod db;
pub mod events;
pub mod http;
pub mod inbox;
pub mod identity;
pub mod json;
pub mod outbox;
pub mod page;
pub mod problem;
pub mod query;

pub use identity::Identity;
pub use page::{PageRequest, Paginated};
pub use problem::{FieldError, FieldErrors, Problem};
