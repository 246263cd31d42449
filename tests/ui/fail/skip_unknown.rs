use langfuse_runtime::observe;

#[observe(skip(qurey, other))]
fn search(query: &str, limit: usize) -> usize {
    query.len() + limit
}

#[observe(skip(limit, limit))]
fn twice(limit: usize) -> usize {
    limit
}

#[observe(skip(self))]
fn no_receiver(x: u8) -> u8 {
    x
}

fn main() {}
