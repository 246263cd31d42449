#![deny(warnings)]
use async_trait::async_trait;
use langfuse_runtime::observe;

trait Native {
    async fn get(&self, key: &str) -> Option<String>;

    #[observe]
    async fn default_get(&self, key: &str) -> String {
        self.get(key).await.unwrap_or_default()
    }
}

struct Store;

impl Native for Store {
    #[observe]
    async fn get(&self, key: &str) -> Option<String> {
        Some(key.to_uppercase())
    }
}

#[async_trait]
trait Boxed {
    async fn fetch(&self, id: u32) -> Result<String, std::io::Error>;
    async fn pair(&mut self, (a, b): (u32, u32)) -> u32;
}

#[async_trait]
impl Boxed for Store {
    #[observe(as_type = "tool")]
    async fn fetch(&self, id: u32) -> Result<String, std::io::Error> {
        if id == 0 {
            return Err(std::io::Error::other("no id"));
        }
        Ok(format!("doc-{id}"))
    }

    #[observe]
    async fn pair(&mut self, (a, b): (u32, u32)) -> u32 {
        a + b
    }
}

fn is_send<T: Send>(_: T) {}

fn main() {
    let mut store = Store;
    is_send(store.fetch(1));
    futures::executor::block_on(async {
        assert_eq!(store.get("a").await.as_deref(), Some("A"));
        assert_eq!(store.default_get("b").await, "B");
        assert_eq!(store.fetch(1).await.unwrap(), "doc-1");
        assert!(store.fetch(0).await.is_err());
        assert_eq!(store.pair((1, 2)).await, 3);
    });
}
