#![deny(warnings)]
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use langfuse_runtime::observe;

#[derive(Debug, Clone, Default)]
struct Counter {
    n: u32,
}

impl Counter {
    #[observe]
    fn new(n: u32) -> Self {
        Self { n }
    }

    #[observe]
    fn by_ref(&self, add: u32) -> u32 {
        self.n + add
    }

    #[observe]
    fn by_mut(&mut self, add: u32) -> u32 {
        self.n += add;
        self.n
    }

    #[observe]
    fn by_value(self) -> u32 {
        self.n
    }

    #[observe]
    fn by_mut_value(mut self, add: u32) -> Self {
        self.n += add;
        self
    }

    #[observe]
    fn boxed(self: Box<Self>) -> u32 {
        self.n
    }

    #[observe]
    fn arc(self: Arc<Self>) -> u32 {
        self.n
    }

    #[observe]
    fn rc(self: Rc<Self>) -> u32 {
        self.n
    }

    #[observe]
    fn pinned(self: Pin<&mut Self>) -> u32 {
        self.n
    }

    #[observe]
    fn explicit_ref<'a>(&'a self) -> &'a u32 {
        &self.n
    }

    #[observe]
    fn elided_ref(&self) -> &u32 {
        &self.n
    }

    #[observe]
    async fn async_ref(&self, add: u32) -> u32 {
        self.n + add
    }

    #[observe]
    async fn async_mut(&mut self) -> &mut u32 {
        &mut self.n
    }

    #[observe(skip(self))]
    fn skipping_self(&self) -> u32 {
        self.n
    }
}

trait Named {
    fn name(&self) -> String;

    #[observe]
    fn default_method(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.name())
    }
}

impl Named for Counter {
    #[observe]
    fn name(&self) -> String {
        format!("counter{}", self.n)
    }
}

fn main() {
    let mut c = Counter::new(1);
    assert_eq!(c.by_ref(1), 2);
    assert_eq!(c.by_mut(1), 2);
    assert_eq!(c.clone().by_value(), 2);
    assert_eq!(c.clone().by_mut_value(1).n, 3);
    assert_eq!(Box::new(c.clone()).boxed(), 2);
    assert_eq!(Arc::new(c.clone()).arc(), 2);
    assert_eq!(Rc::new(c.clone()).rc(), 2);
    assert_eq!(Pin::new(&mut c).pinned(), 2);
    assert_eq!(*c.explicit_ref(), 2);
    assert_eq!(*c.elided_ref(), 2);
    assert_eq!(c.skipping_self(), 2);
    assert_eq!(c.default_method("!"), "counter2!");
    futures::executor::block_on(async {
        assert_eq!(c.async_ref(1).await, 3);
        *c.async_mut().await += 1;
    });
    assert_eq!(c.n, 3);
}
