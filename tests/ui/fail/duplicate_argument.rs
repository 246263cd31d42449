use langfuse_runtime::observe;

#[observe(name = "a", name = "b")]
fn twice() {}

#[observe(skip_all, capture_input = true, capture_input = false, skip_all)]
fn many_twice(_x: u8) {}

fn main() {}
