use langfuse_runtime::observe;

fn join(items: &[String]) -> String {
    items.concat()
}

#[observe(transform_to_string = join)]
fn not_a_stream() -> Vec<String> {
    vec![]
}

fn main() {}
