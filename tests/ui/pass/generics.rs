#![deny(warnings)]
use std::fmt::Debug;
use std::hash::Hash;

use langfuse_runtime::observe;
use serde::Serialize;

#[observe]
fn unbounded<T>(x: T) -> T {
    x
}

#[observe]
fn serializable<T: Serialize + Clone>(x: &T) -> T {
    x.clone()
}

#[observe]
fn with_where<K, V>(key: K, value: V) -> Vec<(K, V)>
where
    K: Hash + Eq + Debug,
    V: Clone + Debug,
{
    vec![(key, value)]
}

#[observe]
fn const_generic<const N: usize>(xs: [u8; N]) -> usize {
    xs.len()
}

#[observe]
async fn async_generic<T: Debug + Send>(x: T) -> Option<T> {
    Some(x)
}

struct Wrapper<T>(T);

impl<T: Clone + Debug> Wrapper<T> {
    #[observe]
    fn get(&self) -> T {
        self.0.clone()
    }

    #[observe]
    fn map<U, F: FnOnce(T) -> U>(self, f: F) -> Wrapper<U> {
        Wrapper(f(self.0))
    }
}

fn main() {
    assert_eq!(unbounded(3), 3);
    assert_eq!(serializable(&"s".to_owned()), "s");
    assert_eq!(with_where("k", 1).len(), 1);
    assert_eq!(const_generic([1, 2, 3]), 3);
    assert_eq!(futures::executor::block_on(async_generic(1)), Some(1));
    let w = Wrapper(2);
    assert_eq!(w.get(), 2);
    assert_eq!(w.map(|x| x * 2).0, 4);
}
