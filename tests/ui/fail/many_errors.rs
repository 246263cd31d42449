use langfuse_runtime::observe;

// Every mistake is reported in the same compile, each at its own token.
#[observe(as_type = "evnt", nmae = "x", skip(y), level = "loud", capture_output = 1)]
const fn everything_wrong(x: u8) -> u8 {
    x
}

fn main() {}
