use langfuse_runtime::observe;

// A body that does not parse still expands: the only error is the syntax error itself.
#[observe]
fn half_written(x: u32) -> u32 {
    let y = x +;
    y
}

fn main() {
    let _ = half_written(1);
}
