//! The observed functions of rows A, E, F and G.
//!
//! STAND-IN: `#[observe]` has not landed in main yet, so these are written against the runtime's
//! manual API the way the macro expands them (start as a child of the current observation,
//! capture the arguments only when recording, make it current for the body, record the
//! output, end). When the macro lands, each body becomes `#[observe]` on the plain function and
//! `IMPLEMENTATION` changes; nothing else in the benches does.

use langfuse_runtime::{ObservationRef, span};

use crate::{AddInput, bare_add};

/// Which implementation the rows measured (printed into every result file).
pub const IMPLEMENTATION: &str =
    "manual API stand-in (span().start() + run(); #[observe] not in main yet)";

/// A: `#[observe] fn add(a: i64, b: i64) -> i64`, input and output captured.
#[inline(never)]
pub fn observed_add(a: i64, b: i64) -> i64 {
    let observation = span("add").start();
    if observation.is_recording() {
        observation.set_input(&AddInput { a, b });
    }
    observation.run(|| {
        let result = bare_add(a, b);
        record_output(&observation, &result);
        result
    })
}

/// F: `#[observe] async fn add(a: i64, b: i64) -> i64`.
pub async fn observed_add_async(a: i64, b: i64) -> i64 {
    let observation = span("add").start();
    if observation.is_recording() {
        observation.set_input(&AddInput { a, b });
    }
    let observed = langfuse_runtime::observation::Observed::with_finish(
        observation,
        async move { bare_add(a, b) },
        |observation: &ObservationRef, output: &i64| record_output(observation, output),
    );
    observed.await
}

/// G: `#[observe] fn len(s: &str) -> usize`, the string argument captured as input.
#[inline(never)]
pub fn observed_len(s: &str) -> usize {
    let observation = span("len").start();
    if observation.is_recording() {
        observation.set_input(&LenInput { s });
    }
    observation.run(|| {
        let result = crate::bare_len(s);
        record_output(&observation, &result);
        result
    })
}

/// Input of `len` as `#[observe]` captures it: `{"s":"..."}`.
#[derive(serde::Serialize)]
struct LenInput<'a> {
    s: &'a str,
}

#[inline]
fn record_output<T: serde::Serialize>(observation: &ObservationRef, output: &T) {
    if observation.is_recording() {
        observation.set_output(output);
    }
}
