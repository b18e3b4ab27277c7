//! The mart host: runs the Online Mart's WebAssembly functions.
pub mod auth;
pub mod components;
pub mod config;
pub mod db;
pub mod invoke;
pub mod manifest;
pub mod metrics;
pub mod postgres;
pub mod problem;
pub mod router;
pub mod runtime;
pub mod secrets;
pub mod build;
pub mod host;
pub mod server;
