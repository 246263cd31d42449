#![deny(dead_code)]
use langfuse_runtime::observe;

// The expansion keeps the function an ordinary item: unused ones are still reported.
#[observe]
fn never_called() {}

fn main() {}
