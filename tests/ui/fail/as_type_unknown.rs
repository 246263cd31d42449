use langfuse_runtime::observe;

#[observe(as_type = "tol")]
fn tool() {}

#[observe(as_type = "Generation")]
fn capitalised() {}

#[observe(as_type = "database")]
fn unrelated() {}

fn main() {}
