#![deny(warnings)]
//! Names in the body cannot break the expansion, and the expansion's names never leak.
use langfuse_runtime::observe;

#[allow(dead_code)]
mod shadow {
    pub struct Option;
    pub struct Result;
    pub struct Some;
    pub struct Ok;
    pub struct Box;
    pub fn call() {}
}

#[observe]
fn shadowed(x: u32) -> u32 {
    #[allow(unused_imports)]
    use shadow::*;
    x
}

#[observe]
fn local_names(__lf_span: u32, __lf_s: u32, __lf_o: u32, __lf_r: u32, __lf_w: u32) -> u32 {
    __lf_span + __lf_s + __lf_o + __lf_r + __lf_w
}

#[observe]
fn nested_items(x: u32) -> u32 {
    fn helper(y: u32) -> u32 {
        y * 2
    }
    struct Local(u32);
    Local(helper(x)).0
}

#[observe]
fn closures(xs: Vec<u32>) -> Vec<u32> {
    xs.into_iter().map(|x| {
        if x == 0 {
            return 1;
        }
        x
    }).collect()
}

fn main() {
    assert_eq!(shadowed(1), 1);
    assert_eq!(local_names(1, 1, 1, 1, 1), 5);
    assert_eq!(nested_items(2), 4);
    assert_eq!(closures(vec![0, 2]), [1, 2]);
}
