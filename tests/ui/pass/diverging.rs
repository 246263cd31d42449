#![deny(warnings)]
use langfuse_runtime::observe;

#[observe]
fn fail(message: &str) -> ! {
    panic!("{message}")
}

#[observe]
fn exit_with(code: i32) -> ! {
    std::process::exit(code)
}

#[observe]
fn forever() -> ! {
    loop {
        std::thread::park();
    }
}

#[observe]
fn infallible() -> Result<u8, std::convert::Infallible> {
    Ok(1)
}

fn main() {
    assert!(std::panic::catch_unwind(|| fail("x")).is_err());
    assert_eq!(infallible(), Ok(1));
    if std::env::args().count() > 10 {
        exit_with(1);
    }
    if std::env::args().count() > 11 {
        forever();
    }
}
