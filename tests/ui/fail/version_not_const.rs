use langfuse_runtime::observe;

fn version() -> &'static str {
    "1.0"
}

#[observe(version = version())]
fn runtime_version() {}

#[observe(version = 3)]
fn number_version() {}

fn main() {}
