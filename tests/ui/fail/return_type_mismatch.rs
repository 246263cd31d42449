use langfuse_runtime::observe;

#[observe]
fn sync_early(x: u32) -> u32 {
    if x == 0 {
        return "zero";
    }
    x
}

#[observe]
async fn async_tail(x: u32) -> String {
    x
}

#[observe]
async fn async_early(x: u32) -> Result<u32, String> {
    if x == 0 {
        return Ok("zero");
    }
    Ok(x)
}

#[observe]
fn impl_trait() -> impl std::fmt::Display {
    return vec![1];
}

fn main() {}
