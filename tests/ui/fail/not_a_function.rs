use langfuse_runtime::observe;

#[observe]
struct NotAFunction;

trait Declared {
    #[observe]
    fn no_body(&self);
}

fn main() {}
