//! Capture never hurts the call it records: user impls that panic or never end, and values
//! far over the field budget, still let the function run and return its value unchanged,
//! and leave a readable, valid JSON field behind.

mod support;

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use langfuse_runtime::observe;
use serde::{Serialize, Serializer};
use support::record;

/// The default field budget (1 MiB).
const BUDGET: usize = 1 << 20;

struct PanicsInSerialize(u32);

impl Serialize for PanicsInSerialize {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        panic!("bug in the user's Serialize")
    }
}

/// Serializable, but its `Debug` panics: for the `Debug` path, a type without `Serialize`.
struct PanicsInDebug(u32);

impl fmt::Debug for PanicsInDebug {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        panic!("bug in the user's Debug")
    }
}

#[observe]
fn takes_panicking_arg(value: PanicsInSerialize, n: u32) -> u32 {
    value.0 + n
}

#[observe]
fn returns_panicking_serialize(n: u32) -> PanicsInSerialize {
    PanicsInSerialize(n * 2)
}

#[observe]
fn returns_panicking_debug(n: u32) -> PanicsInDebug {
    PanicsInDebug(n * 3)
}

#[test]
fn a_panicking_serialize_argument_still_runs_the_body() {
    let (out, records) = record(|| takes_panicking_arg(PanicsInSerialize(40), 2));
    assert_eq!(out, 42);
    let input: serde_json::Value =
        serde_json::from_str(records.one("takes_panicking_arg").input.as_deref().unwrap()).unwrap();
    assert_eq!(
        input["value"],
        "<capture failed: panic in Serialize for capture_isolation::PanicsInSerialize>"
    );
    assert_eq!(input["n"], 2);
    assert_eq!(records.one("takes_panicking_arg").output.as_deref(), Some("42"));
}

#[test]
fn a_return_value_whose_capture_panics_is_returned_unchanged() {
    let (out, records) = record(|| returns_panicking_serialize(21));
    assert_eq!(out.0, 42);
    assert_eq!(
        records.one("returns_panicking_serialize").output.as_deref(),
        Some("<capture failed: panic in Serialize for capture_isolation::PanicsInSerialize>")
    );
    let (out, records) = record(|| returns_panicking_debug(5));
    assert_eq!(out.0, 15);
    assert_eq!(
        records.one("returns_panicking_debug").output.as_deref(),
        Some("<capture failed: panic in Debug for capture_isolation::PanicsInDebug>")
    );
}

/// A node of a reference cycle: its derived `Debug` recurses forever.
#[derive(Debug)]
#[allow(dead_code)]
struct Node {
    name: &'static str,
    next: Option<Rc<RefCell<Node>>>,
}

#[observe]
fn walks_a_cycle(node: Rc<RefCell<Node>>) -> usize {
    Rc::strong_count(&node)
}

#[test]
fn a_debug_that_recurses_forever_is_cut_before_the_stack_ends() {
    // 2 MiB of stack, as any thread has by default: deep enough to overflow without a bound.
    let (count, input) = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let a = Rc::new(RefCell::new(Node { name: "a", next: None }));
            let b = Rc::new(RefCell::new(Node { name: "b", next: Some(a.clone()) }));
            a.borrow_mut().next = Some(b);
            let (count, records) = record(|| walks_a_cycle(a.clone()));
            let input = records.one("walks_a_cycle").input.clone().unwrap();
            a.borrow_mut().next = None; // break the cycle
            (count, input)
        })
        .unwrap()
        .join()
        .expect("no stack overflow, no panic");
    assert_eq!(count, 3, "the body ran with the argument");
    let input: serde_json::Value = serde_json::from_str(&input).expect("valid JSON");
    let node = input["node"].as_str().expect("the Debug text as a string");
    assert!(node.starts_with("RefCell { value: Node { name: \"a\", next: Some(RefCell"), "{node}");
    assert!(node.ends_with("…[truncated]"), "{}", &node[node.len() - 100..]);
    assert!(node.len() <= BUDGET + "…[truncated]".len());
}

#[observe]
fn echoes_length(text: String) -> usize {
    text.len()
}

#[observe]
fn returns_text(len: usize) -> String {
    "é".repeat(len / 2)
}

#[test]
fn a_fifty_megabyte_string_is_cut_to_the_budget_with_its_size() {
    const LEN: usize = 50 << 20;
    let (len, records) = record(|| echoes_length("\"x".repeat(LEN / 2)));
    assert_eq!(len, LEN);
    let r = records.one("echoes_length");
    let input = r.input.as_deref().unwrap();
    let marker = format!("…[truncated, {LEN} bytes in all]");
    // `{"text":"` + the cut text + marker + `"}`.
    assert!(input.len() <= BUDGET + marker.len() + 11, "{}", input.len());
    let input: serde_json::Value = serde_json::from_str(input).expect("valid JSON");
    let text = input["text"].as_str().unwrap();
    let cut = text.strip_suffix(&marker).expect("the marker with the original size");
    assert!(
        cut.len() > BUDGET / 3 && cut.chars().collect::<Vec<_>>().chunks(2).all(|c| c[0] == '"')
    );

    let (out, records) = record(|| returns_text(LEN));
    assert_eq!(out.len(), LEN, "the value is returned whole");
    let output = records.one("returns_text").output.as_deref().unwrap();
    let cut = output.strip_suffix(&marker).expect("raw text with the marker");
    assert!(cut.len() <= BUDGET && cut.len() > BUDGET - 2 && cut.chars().all(|c| c == 'é'));
}
