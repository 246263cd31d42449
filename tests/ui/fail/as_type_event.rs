use langfuse_runtime::observe;

#[observe(as_type = "event")]
fn cache_miss(key: &str) -> bool {
    key.is_empty()
}

fn main() {}
