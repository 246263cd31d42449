use langfuse_runtime::observe;

#[observe(skip(a), skip_all)]
fn both(a: u8, b: u8) -> u8 {
    a + b
}

fn main() {}
