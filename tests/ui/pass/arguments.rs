#![deny(warnings)]
use langfuse_runtime::observe;

const VERSION: &str = "2.0";

#[observe(
    name = "custom-name",
    as_type = "generation",
    capture_input = false,
    capture_output = true,
    skip(secret),
    metadata(model = "gpt-4o", "max tokens" = 64, doubled = n * 2),
    level = "DEBUG",
    version = VERSION,
)]
fn everything(n: u32, secret: &str) -> u32 {
    let _ = secret;
    n
}

#[observe(skip_all, version = env!("CARGO_PKG_VERSION"), level = "warning")]
fn skip_all(a: u32) -> u32 {
    a
}

mod renamed {
    pub use langfuse_runtime as lf;
}

#[observe(crate = renamed::lf, as_type = "retriever")]
fn with_crate_path(q: &str) -> Vec<String> {
    vec![q.to_owned()]
}

#[observe(crate = ::langfuse_runtime)]
async fn with_absolute_crate_path() {}

#[langfuse_runtime::observe(as_type = "evaluator")]
fn by_path(x: f64) -> f64 {
    x
}

#[observe(as_type = "embedding")]
fn embedding() {}
#[observe(as_type = "guardrail")]
fn guardrail() {}
#[observe(as_type = "agent")]
fn agent() {}
#[observe(as_type = "chain")]
fn chain() {}
#[observe(as_type = "tool")]
fn tool() {}
#[observe(as_type = "span")]
fn span() {}

fn main() {
    assert_eq!(everything(1, "s"), 1);
    assert_eq!(skip_all(2), 2);
    assert_eq!(with_crate_path("q"), ["q"]);
    futures::executor::block_on(with_absolute_crate_path());
    assert_eq!(by_path(1.5), 1.5);
    embedding();
    guardrail();
    agent();
    chain();
    tool();
    span();
}
