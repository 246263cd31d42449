#![deny(warnings)]
use std::error::Error;

use langfuse_runtime::observe;

#[derive(Debug)]
struct Custom;
impl std::fmt::Display for Custom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("custom")
    }
}
impl Error for Custom {}

#[observe]
fn coerce(x: i32) -> Result<i32, Box<dyn Error>> {
    if x < 0 {
        return Err(Box::new(Custom));
    }
    if x == 0 {
        Err(Custom)?;
    }
    let parsed: i32 = "5".parse()?;
    Ok(parsed + x)
}

#[observe]
fn option_question(xs: &[u32]) -> Option<u32> {
    let first = xs.first()?;
    Some(first + 1)
}

#[observe]
fn unsized_coercion(flag: bool) -> Box<dyn Fn() -> u32> {
    if flag {
        return Box::new(|| 1);
    }
    Box::new(|| 2)
}

#[observe]
fn looped(xs: &[u32]) -> u32 {
    for x in xs {
        if *x > 2 {
            return *x;
        }
    }
    0
}

#[observe]
fn fmt_result(f: bool) -> std::fmt::Result {
    if f { Err(std::fmt::Error) } else { Ok(()) }
}

fn main() {
    assert!(coerce(-1).is_err());
    assert!(coerce(0).is_err());
    assert_eq!(coerce(1).unwrap(), 6);
    assert_eq!(option_question(&[]), None);
    assert_eq!(option_question(&[1]), Some(2));
    assert_eq!(unsized_coercion(true)(), 1);
    assert_eq!(looped(&[1, 3]), 3);
    assert!(fmt_result(true).is_err());
}
