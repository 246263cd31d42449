use langfuse_runtime::observe;

#[observe(capture_input = "yes")]
fn not_a_bool(x: u8) -> u8 {
    x
}

#[observe(name = some_name)]
fn not_a_string() {}

#[observe(level = "verbose")]
fn unknown_level() {}

#[observe(level = "warn")]
fn near_level() {}

#[observe(metadata(a = 1, a = 2))]
fn duplicate_metadata() {}

#[observe(skip = "x")]
fn skip_needs_parentheses(x: u8) -> u8 {
    x
}

fn main() {}
