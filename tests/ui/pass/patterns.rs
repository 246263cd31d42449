#![deny(warnings)]
use langfuse_runtime::observe;

struct Point {
    x: i32,
    y: i32,
}

struct Pair(u8, u8);

#[observe]
fn tuple((a, b): (i32, i32)) -> i32 {
    a + b
}

#[observe]
fn structure(Point { x, y: vertical }: Point, mut scale: i32) -> i32 {
    scale += 1;
    (x + vertical) * scale
}

#[observe]
fn tuple_struct(Pair(first, _): Pair, _: u8) -> u8 {
    first
}

#[observe]
fn reference(&n: &u32, [head, ..]: [u8; 3]) -> u32 {
    n + head as u32
}

#[observe]
fn binding(whole @ (first, _): (u8, u8)) -> u8 {
    whole.1 + first
}

#[observe(skip(vertical))]
fn skip_binding(Point { x, y: vertical }: Point) -> i32 {
    x - vertical
}

#[observe]
async fn async_pattern((a, b): (String, String)) -> String {
    a + &b
}

#[observe]
fn raw_ident(r#type: &str) -> &str {
    r#type
}

fn main() {
    assert_eq!(tuple((1, 2)), 3);
    assert_eq!(structure(Point { x: 1, y: 2 }, 0), 3);
    assert_eq!(tuple_struct(Pair(1, 2), 3), 1);
    assert_eq!(reference(&1, [2, 3, 4]), 3);
    assert_eq!(binding((1, 2)), 3);
    assert_eq!(skip_binding(Point { x: 3, y: 1 }), 2);
    assert_eq!(futures::executor::block_on(async_pattern(("a".into(), "b".into()))), "ab");
    assert_eq!(raw_ident("t"), "t");
}
