use langfuse_runtime::observe;

fn wrong(items: Vec<u32>) -> String {
    format!("{items:?}")
}

#[observe(transform_to_string = wrong)]
fn numbers() -> impl Iterator<Item = u32> {
    0..3
}

fn main() {}
