//! The OTLP/HTTP exporter against the shared loopback receiver of `tests/support`: its
//! settings are crate-private, so these tests live in the crate rather than in `tests/`.

#[path = "../../../../../tests/support/mod.rs"]
mod support;

mod otlp_http_export;
mod retry_policy;
