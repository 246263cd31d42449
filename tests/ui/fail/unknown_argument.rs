use langfuse_runtime::observe;

#[observe(nmae = "x")]
fn typo() {}

#[observe(output = "value")]
fn unknown() {}

fn main() {}
