//! What each function shape records: methods, generics, patterns, `#[async_trait]`, futures.

mod support;

use std::fmt::Debug;
use std::sync::Arc;

use langfuse_runtime::{Level, observe};
use serde::Serialize;
use support::{assert_child, record};

#[derive(Debug, Serialize, Clone)]
struct Account {
    balance: i64,
}

impl Account {
    #[observe]
    fn open(balance: i64) -> Self {
        Account { balance }
    }

    #[observe]
    fn deposit(&mut self, amount: i64) -> i64 {
        self.balance += amount;
        self.check(self.balance)
    }

    #[observe]
    fn check(&self, value: i64) -> i64 {
        value
    }

    #[observe]
    fn shared(self: Arc<Self>, factor: i64) -> i64 {
        self.balance * factor
    }

    #[observe]
    fn close(self) -> Account {
        self
    }
}

#[test]
fn methods_never_capture_the_receiver_and_nest() {
    let (_, records) = record(|| {
        let mut a = Account::open(10);
        a.deposit(5);
        Arc::new(a.clone()).shared(2);
        a.close()
    });
    assert_eq!(records.one("open").input.as_deref(), Some(r#"{"balance":10}"#));
    assert_eq!(records.one("open").output.as_deref(), Some(r#"{"balance":10}"#));
    let deposit = records.one("deposit");
    assert_eq!(deposit.input.as_deref(), Some(r#"{"amount":5}"#));
    assert_eq!(deposit.output.as_deref(), Some("15"));
    assert_child(records.one("check"), deposit);
    assert_eq!(records.one("shared").input.as_deref(), Some(r#"{"factor":2}"#));
    assert_eq!(records.one("close").input.as_deref(), Some("{}"));
    assert_eq!(records.one("close").output.as_deref(), Some(r#"{"balance":15}"#));
}

#[observe]
fn unbounded<T>(x: T) -> T {
    x
}

#[observe]
fn debug_bound<T: Debug>(x: T) -> T {
    x
}

#[observe]
fn serialize_bound<T: Serialize>(x: T) -> Vec<T> {
    vec![x]
}

#[test]
fn generic_parameters_are_captured_as_their_bounds_allow() {
    let (_, records) = record(|| {
        unbounded(Account { balance: 1 });
        debug_bound(Account { balance: 2 });
        serialize_bound(Account { balance: 3 });
    });
    let placeholder = r#""<observe_shapes::Account>""#;
    assert_eq!(
        records.one("unbounded").input.as_deref(),
        Some(format!(r#"{{"x":{placeholder}}}"#).as_str())
    );
    assert_eq!(records.one("unbounded").output.as_deref(), Some("<observe_shapes::Account>"));
    assert_eq!(
        records.one("debug_bound").input.as_deref(),
        Some(r#"{"x":"Account { balance: 2 }"}"#)
    );
    assert_eq!(records.one("serialize_bound").input.as_deref(), Some(r#"{"x":{"balance":3}}"#));
    assert_eq!(records.one("serialize_bound").output.as_deref(), Some(r#"[{"balance":3}]"#));
}

struct Point {
    x: i32,
    y: i32,
}

#[observe]
fn destructured((a, b): (i32, i32), Point { x, y: vertical }: Point, _: u8) -> i32 {
    a + b + x + vertical
}

#[test]
fn destructured_parameters_are_captured_per_binding() {
    let (_, records) = record(|| destructured((1, 2), Point { x: 3, y: 4 }, 0));
    let r = records.one("destructured");
    assert_eq!(r.input.as_deref(), Some(r#"{"a":1,"b":2,"x":3,"vertical":4}"#));
    assert_eq!(r.output.as_deref(), Some("10"));
}

#[async_trait::async_trait]
trait Retriever {
    async fn retrieve(&self, query: &str, k: usize) -> Result<Vec<String>, std::io::Error>;
}

struct Index;

#[async_trait::async_trait]
impl Retriever for Index {
    #[observe(as_type = "retriever")]
    async fn retrieve(&self, query: &str, k: usize) -> Result<Vec<String>, std::io::Error> {
        if k == 0 {
            return Err(std::io::Error::other("k must be positive"));
        }
        Ok(vec![format!("{query}-{}", leaf(k))])
    }
}

#[observe]
fn leaf(k: usize) -> usize {
    k
}

#[test]
fn async_trait_methods_are_observed_while_they_run() {
    let (_, records) = record(|| {
        futures::executor::block_on(async {
            Index.retrieve("q", 2).await.unwrap();
            Index.retrieve("q", 0).await.unwrap_err();
        })
    });
    let all = records.all("retrieve");
    assert_eq!(all.len(), 2);
    let ok = all.iter().find(|r| r.level.is_none()).unwrap();
    assert_eq!(ok.input.as_deref(), Some(r#"{"query":"q","k":2}"#));
    assert_eq!(ok.output.as_deref(), Some(r#"["q-2"]"#));
    assert_child(records.one("leaf"), ok);
    let err = all.iter().find(|r| r.level.is_some()).unwrap();
    assert_eq!(err.level, Some(Level::Error));
    assert_eq!(err.status_message(), Some("k must be positive"));
}

trait Native {
    async fn run(&self, n: u32) -> u32;
}

impl Native for Index {
    #[observe]
    async fn run(&self, n: u32) -> u32 {
        leaf(n as usize) as u32
    }
}

#[test]
fn native_async_trait_methods_nest() {
    let (_, records) = record(|| futures::executor::block_on(Index.run(4)));
    let run = records.one("run");
    assert_eq!(run.input.as_deref(), Some(r#"{"n":4}"#));
    assert_eq!(run.output.as_deref(), Some("4"));
    assert_child(records.one("leaf"), run);
}

#[observe]
fn outer_sync() -> u32 {
    futures::executor::block_on(inner_async(2))
}

#[observe]
async fn inner_async(n: u32) -> u32 {
    leaf(n as usize) as u32
}

#[test]
fn sync_and_async_nest_into_each_other() {
    let (_, records) = record(outer_sync);
    let outer = records.one("outer_sync");
    let inner = records.one("inner_async");
    assert_child(inner, outer);
    assert_child(records.one("leaf"), inner);
}
