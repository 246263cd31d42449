use langfuse_runtime::observe;

#[observe(crate = not_a_crate)]
fn wrong_path() {}

fn main() {}
