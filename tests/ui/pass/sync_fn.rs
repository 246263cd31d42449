#![deny(warnings)]
use langfuse_runtime::observe;

#[observe]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[observe]
fn unit(_x: u8) {}

#[observe]
pub(crate) fn no_args() -> &'static str {
    "x"
}

#[observe]
#[inline]
#[must_use]
fn with_attributes(x: u32) -> u32 {
    #![allow(clippy::identity_op)]
    x + 0
}

fn main() {
    assert_eq!(add(1, 2), 3);
    unit(1);
    assert_eq!(no_args(), "x");
    assert_eq!(with_attributes(4), 4);
}
