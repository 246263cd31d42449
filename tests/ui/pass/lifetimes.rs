#![deny(warnings)]
use std::borrow::Cow;
use std::collections::HashMap;

use langfuse_runtime::observe;

#[observe]
fn first_word(s: &str) -> &str {
    s.split(' ').next().unwrap_or("")
}

#[observe]
fn longest<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.len() >= b.len() { a } else { b }
}

#[observe]
fn cow(s: &str) -> Cow<'_, str> {
    Cow::Borrowed(s)
}

#[observe]
fn lookup<'m>(map: &'m HashMap<String, u32>, key: &str) -> Option<&'m u32> {
    map.get(key)
}

#[observe]
fn mutate(v: &mut Vec<u32>, x: u32) -> &mut u32 {
    v.push(x);
    v.last_mut().unwrap()
}

#[observe]
fn slices<'a>(xs: &'a [u32]) -> &'a [u32] {
    &xs[1..]
}

#[observe]
fn static_str() -> &'static str {
    "static"
}

struct Parser<'a> {
    input: &'a str,
}

impl<'a> Parser<'a> {
    #[observe]
    fn rest(&self) -> &'a str {
        self.input
    }
}

fn main() {
    assert_eq!(first_word("hello world"), "hello");
    assert_eq!(longest("ab", "c"), "ab");
    assert_eq!(cow("c"), "c");
    let mut map = HashMap::new();
    map.insert("k".to_owned(), 1);
    assert_eq!(lookup(&map, "k"), Some(&1));
    let mut v = vec![];
    *mutate(&mut v, 1) += 1;
    assert_eq!(v, [2]);
    assert_eq!(slices(&[1, 2]), &[2]);
    assert_eq!(static_str(), "static");
    assert_eq!(Parser { input: "p" }.rest(), "p");
}
