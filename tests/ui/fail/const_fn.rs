use langfuse_runtime::observe;

#[observe]
const fn answer() -> u32 {
    42
}

fn main() {
    // The function is still emitted next to the error, so this use reports nothing more.
    let _ = answer();
}
