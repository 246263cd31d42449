//! The observed functions of rows A, E, F, G and H: the real `#[observe]`, input and output
//! captured (the defaults).

use langfuse_runtime::observe;

/// Which implementation the rows measured (printed into every result file).
pub const IMPLEMENTATION: &str = "#[observe] (langfuse-runtime macro), input and output captured";

/// A, E, H: `#[observe] fn add(a: i64, b: i64) -> i64`. Input `{"a":1,"b":2}`, output `3`.
#[observe]
#[inline(never)]
pub fn observed_add(a: i64, b: i64) -> i64 {
    crate::bare_add(a, b)
}

/// F: the async variant of A.
#[observe]
pub async fn observed_add_async(a: i64, b: i64) -> i64 {
    crate::bare_add(a, b)
}

/// G: `#[observe] fn len(s: &str) -> usize`, the string argument captured as input
/// (`{"s":"…"}`).
#[observe]
#[inline(never)]
pub fn observed_len(s: &str) -> usize {
    crate::bare_len(s)
}

/// H (realistic variant): `#[observe] fn answer(prompt: &str) -> String` with a ~300-byte
/// prompt and a ~300-byte answer, the size of a short chat turn (input `{"prompt":"…"}`, the
/// output the raw text).
#[observe]
#[inline(never)]
pub fn observed_answer(prompt: &str) -> String {
    prompt.chars().rev().collect()
}
