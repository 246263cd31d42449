//! The capture limits set in the configuration reach `#[observe]`, and lost values show in
//! the client's stats.

mod support;

use langfuse_runtime::observe;
use serde::{Serialize, Serializer};
use support::{Records, with_client};

fn input_of(records: &Records, name: &str) -> String {
    records.one(name).input.clone().expect("an input").into_string()
}

#[observe]
fn takes_text(text: String) -> usize {
    text.len()
}

#[test]
fn max_field_bytes_truncates_captured_arguments() {
    let ((), records) = with_client(
        |b| b.max_field_bytes(2048),
        |_| assert_eq!(takes_text("x".repeat(10_000)), 10_000),
    );
    let input = input_of(&records, "takes_text");
    assert!(input.len() <= 2048 + 64, "{} bytes: {input}", input.len());
    assert!(input.contains("truncated"), "{input}");

    // A client with the default budget lifts the small one again.
    let (_, records) = with_client(|b| b, |_| takes_text("x".repeat(10_000)));
    let input = input_of(&records, "takes_text");
    assert!(input.len() > 10_000 && !input.contains("truncated"), "{} bytes", input.len());
}

struct PanicsInSerialize;

impl Serialize for PanicsInSerialize {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        panic!("user bug in Serialize")
    }
}

#[observe]
fn takes_bad(value: PanicsInSerialize) -> u8 {
    let _ = value;
    7
}

#[test]
fn a_panicking_serialize_is_counted_in_stats() {
    let ((), records) = with_client(
        |b| b,
        |langfuse| {
            let before = langfuse.stats().capture_failures;
            assert_eq!(takes_bad(PanicsInSerialize), 7);
            assert!(langfuse.flush().is_success());
            assert_eq!(langfuse.stats().capture_failures, before + 1);
        },
    );
    let input = input_of(&records, "takes_bad");
    assert!(input.contains("capture failed"), "{input}");
}
