#![deny(warnings)]
use futures::{Stream, StreamExt, stream};
use langfuse_runtime::observe;

#[observe]
fn counter(n: u32) -> impl Iterator<Item = u32> {
    0..n
}

#[observe]
fn borrowed(text: &str) -> impl Iterator<Item = &str> + '_ {
    text.split(',')
}

#[observe]
fn sendable(n: u32) -> impl Iterator<Item = Option<u32>> + Send + 'static {
    (0..n).map(Some)
}

#[observe(transform_to_string = concat)]
fn chunks() -> impl Iterator<Item = String> {
    vec!["a".to_owned(), "b".to_owned()].into_iter()
}

fn concat(items: &[String]) -> String {
    items.concat()
}

#[observe]
fn early(n: u32) -> impl Iterator<Item = u32> {
    if n == 0 {
        return 0..0;
    }
    0..n
}

#[observe]
fn tokens(prompt: String) -> impl Stream<Item = String> + Send {
    stream::iter(prompt.split(' ').map(str::to_owned).collect::<Vec<_>>())
}

#[observe]
fn fallible() -> impl Stream<Item = Result<u8, std::io::Error>> {
    stream::iter(vec![Ok(1), Err(std::io::Error::other("x"))])
}

#[observe(transform_to_string = |items: &[u8]| items.len().to_string())]
fn closure_transform() -> impl Stream<Item = u8> {
    stream::iter(vec![1, 2])
}

fn is_send<T: Send>(_: &T) {}

fn main() {
    assert_eq!(counter(3).sum::<u32>(), 3);
    assert_eq!(borrowed("a,b").count(), 2);
    let s = sendable(2);
    is_send(&s);
    assert_eq!(s.flatten().sum::<u32>(), 1);
    assert_eq!(chunks().count(), 2);
    assert_eq!(early(0).count(), 0);
    let t = tokens("a b".into());
    is_send(&t);
    futures::executor::block_on(async {
        assert_eq!(t.collect::<Vec<_>>().await, ["a", "b"]);
        assert_eq!(fallible().count().await, 2);
        assert_eq!(closure_transform().count().await, 2);
    });
}
