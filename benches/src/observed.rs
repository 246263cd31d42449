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
    // The body is the benchmark's, not the SDK's, so it should cost little: reversing by
    // `chars().rev().collect()` was 7,700 of the call's 10,600 instructions (callgrind,
    // `benches/instructions.sh H300`), so H_300B measured the string reversal more than the
    // SDK. The prompts are ASCII; reversed bytes are then a valid, different 300-byte text.
    if prompt.is_ascii() {
        let mut bytes = prompt.as_bytes().to_vec();
        bytes.reverse();
        if let Ok(answer) = String::from_utf8(bytes) {
            return answer;
        }
    }
    prompt.chars().rev().collect()
}
