#![deny(warnings)]
use std::fmt::Display;

use langfuse_runtime::observe;

#[observe]
fn show(x: impl Display, y: impl Display + Clone) -> String {
    format!("{x}{y}")
}

#[observe]
fn adder(n: u32) -> impl Fn(u32) -> u32 {
    move |x| x + n
}

#[observe]
fn boxed(n: u32) -> Box<impl Fn(u32) -> u32> {
    Box::new(move |x| x * n)
}

#[observe]
fn displayed(n: u32) -> impl Display {
    n
}

#[observe]
fn dyn_box(s: &str) -> Box<dyn Display + '_> {
    Box::new(s)
}

#[observe]
fn iter_arg(xs: impl IntoIterator<Item = u32>) -> u32 {
    xs.into_iter().sum()
}

fn main() {
    assert_eq!(show(1, "a"), "1a");
    assert_eq!(adder(1)(1), 2);
    assert_eq!(boxed(2)(3), 6);
    assert_eq!(displayed(3).to_string(), "3");
    assert_eq!(dyn_box("d").to_string(), "d");
    assert_eq!(iter_arg([1, 2]), 3);
}
