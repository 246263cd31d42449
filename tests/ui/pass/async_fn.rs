#![deny(warnings)]
use langfuse_runtime::observe;

#[observe]
async fn fetch(id: u32) -> String {
    format!("doc-{id}")
}

#[observe]
async fn unit(_id: u32) {}

#[observe]
async fn borrowing<'a>(s: &'a str, t: &str) -> &'a str {
    let _ = t;
    s
}

#[observe]
async fn elided(s: &str) -> &str {
    s
}

#[observe]
async fn fallible(x: u8) -> Result<u8, Box<dyn std::error::Error + Send + Sync>> {
    if x == 0 {
        return Err(Box::new(std::fmt::Error));
    }
    let y: u8 = "1".parse()?;
    Ok(x + y)
}

fn is_send<T: Send>(_: &T) {}

fn main() {
    let f = fetch(1);
    is_send(&f);
    is_send(&fallible(1));
    futures::executor::block_on(async {
        assert_eq!(f.await, "doc-1");
        unit(1).await;
        assert_eq!(borrowing("a", "b").await, "a");
        assert_eq!(elided("e").await, "e");
        assert_eq!(fallible(1).await.unwrap(), 2);
        assert!(fallible(0).await.is_err());
    });
}
