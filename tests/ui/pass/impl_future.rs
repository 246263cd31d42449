#![deny(warnings)]
use std::future::Future;
use std::pin::Pin;

use langfuse_runtime::observe;

#[observe]
fn later(x: u32) -> impl Future<Output = u32> {
    async move { x + 1 }
}

#[observe]
fn later_result(x: u32) -> impl Future<Output = Result<u32, String>> + Send + 'static {
    async move { if x == 0 { Err("zero".to_owned()) } else { Ok(x) } }
}

#[observe]
fn early(x: u32) -> impl Future<Output = u32> {
    if x == 0 {
        return futures::future::Either::Left(async { 0 });
    }
    futures::future::Either::Right(async move { x })
}

#[observe]
fn boxed(x: u32) -> Pin<Box<dyn Future<Output = u32> + Send>> {
    Box::pin(async move { x * 2 })
}

#[observe]
fn boxed_ready(x: u32) -> Pin<Box<dyn Future<Output = u32>>> {
    let fut = std::future::ready(x);
    Box::pin(fut)
}

fn main() {
    futures::executor::block_on(async {
        assert_eq!(later(1).await, 2);
        assert_eq!(later_result(0).await, Err("zero".to_owned()));
        assert_eq!(early(0).await, 0);
        assert_eq!(early(2).await, 2);
        assert_eq!(boxed(2).await, 4);
        assert_eq!(boxed_ready(3).await, 3);
    });
}
