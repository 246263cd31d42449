use langfuse_runtime::observe;

mod mine {
    #[derive(Debug)]
    pub enum Option {
        Nothing,
    }
}

use mine::Option;

#[observe]
fn custom() -> Option {
    Option::Nothing
}

fn main() {
    let _ = custom();
}
