use langfuse_runtime::observe;

mod mine {
    #[derive(Debug)]
    pub struct Result {
        pub value: u32,
    }
}

use mine::Result;

#[observe]
fn custom() -> Result {
    Result { value: 1 }
}

fn main() {
    let _ = custom();
}
