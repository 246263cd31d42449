//! `#[observe]` on async functions and functions returning futures.

mod support;

use std::future::Future;
use std::time::Duration;

/// What a dropped future is marked with (the wire text is part of the contract).
const CANCELLED_MESSAGE: &str = "cancelled: the future was dropped before it completed";
use langfuse_runtime::{Level, ObservationType, observe, propagate_attributes};
use support::{assert_child, record, record_with};

fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap()
        .block_on(f)
}

#[observe(as_type = "tool")]
async fn fetch(id: u32) -> String {
    tokio::time::sleep(Duration::from_millis(5)).await;
    format!("doc-{id}")
}

#[observe]
async fn combine(a: u32, b: u32) -> Vec<String> {
    let (x, y) = tokio::join!(fetch(a), fetch(b));
    let z = fetch(a + b).await;
    vec![x, y, z]
}

#[test]
fn async_children_nest_across_awaits_and_joins() {
    let (docs, records) = record(|| block_on(combine(1, 2)));
    assert_eq!(docs, ["doc-1", "doc-2", "doc-3"]);
    let parent = records.one("combine");
    assert_eq!(parent.input.as_deref(), Some(r#"{"a":1,"b":2}"#));
    assert_eq!(parent.output.as_deref(), Some(r#"["doc-1","doc-2","doc-3"]"#));
    let fetches = records.all("fetch");
    assert_eq!(fetches.len(), 3);
    for f in &fetches {
        assert_child(f, parent);
        assert_eq!(f.observation_type, ObservationType::Tool);
    }
    let mut outputs: Vec<_> =
        fetches.iter().map(|f| f.output.clone().unwrap().into_string()).collect();
    outputs.sort();
    assert_eq!(outputs, ["doc-1", "doc-2", "doc-3"]);
}

#[test]
fn spawned_tasks_keep_the_parent_when_given_the_context() {
    use langfuse_runtime::FutureContextExt as _;

    #[observe]
    async fn spawner() -> u32 {
        let handle = tokio::spawn(fetch(7).in_current_context());
        handle.await.unwrap().len() as u32
    }
    let (n, records) = record(|| block_on(spawner()));
    assert_eq!(n, 5);
    assert_child(records.one("fetch"), records.one("spawner"));
}

#[derive(Debug)]
struct Failure;
impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("it failed")
    }
}
impl std::error::Error for Failure {}

#[observe]
async fn fallible(fail: bool) -> Result<u8, Box<dyn std::error::Error + Send + Sync>> {
    if fail {
        return Err(Box::new(Failure));
    }
    let v: u8 = "12".parse()?;
    Ok(v)
}

#[test]
fn async_err_and_early_return() {
    let (_, records) = record(|| {
        block_on(async {
            assert_eq!(fallible(false).await.unwrap(), 12);
            assert!(fallible(true).await.is_err());
        })
    });
    let all = records.all("fallible");
    assert_eq!(all[0].output.as_deref(), Some("12"));
    assert_eq!(all[1].level, Some(Level::Error));
    assert_eq!(all[1].status_message(), Some("it failed"));
    assert_eq!(all[1].output, None);
}

#[observe]
async fn async_panic(msg: &'static str) -> u8 {
    tokio::task::yield_now().await;
    panic!("{msg}")
}

#[test]
fn async_panic_is_recorded_and_resumed() {
    let (joined, records) =
        record(|| block_on(async { tokio::spawn(async_panic("async boom")).await }));
    assert!(joined.unwrap_err().is_panic());
    let r = records.one("async_panic");
    assert_eq!(r.level, Some(Level::Error));
    assert_eq!(r.status_message(), Some("async boom"));
}

#[observe]
async fn slow() -> u8 {
    tokio::time::sleep(Duration::from_secs(10)).await;
    1
}

#[test]
fn a_dropped_future_is_marked_cancelled() {
    let (res, records) = record(|| {
        block_on(async { tokio::time::timeout(Duration::from_millis(10), slow()).await })
    });
    assert!(res.is_err());
    let r = records.one("slow");
    assert_eq!(r.level, Some(Level::Warning));
    assert_eq!(r.status_message(), Some(CANCELLED_MESSAGE));
}

#[test]
fn a_future_that_is_never_polled_records_nothing() {
    let (_, records) = record(|| drop(fetch(1)));
    assert_eq!(records.len(), 0);
}

/// Not `async`, but returns a future: observed while the future runs, not while it is made.
#[observe]
fn later(x: u32) -> impl Future<Output = Result<u32, String>> {
    async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if x == 0 { Err("zero".to_owned()) } else { Ok(fetch(x).await.len() as u32) }
    }
}

#[test]
fn impl_future_is_observed_until_it_completes() {
    let (_, records) = record(|| {
        block_on(async {
            let fut = later(3);
            assert_eq!(fut.await, Ok(5));
            assert_eq!(later(0).await, Err("zero".to_owned()));
        })
    });
    let all = records.all("later");
    let ok = all.iter().find(|r| r.output.is_some()).unwrap();
    assert_eq!(ok.input.as_deref(), Some(r#"{"x":3}"#));
    assert_eq!(ok.output.as_deref(), Some("5"));
    assert!(ok.end_unix_nanos - ok.start_unix_nanos >= 20_000_000);
    assert_child(records.one("fetch"), ok);
    let err = all.iter().find(|r| r.output.is_none()).unwrap();
    assert_eq!(err.status_message(), Some("zero"));
}

#[observe]
fn prepare(x: u32) -> u32 {
    x + 1
}

/// Work done before the future is returned (a sync prefix) belongs to the observation too.
#[observe]
fn prepared_later(x: u32) -> impl Future<Output = u32> {
    let y = prepare(x);
    async move { y * 2 }
}

#[observe]
fn exploding_prefix() -> impl Future<Output = u32> {
    if true {
        panic!("no future today");
    }
    async { 1 }
}

#[test]
fn calls_made_before_the_future_is_returned_nest_under_it() {
    let (v, records) = record(|| block_on(async { prepared_later(1).await }));
    assert_eq!(v, 4);
    let outer = records.one("prepared_later");
    assert_eq!(outer.output.as_deref(), Some("4"));
    assert_child(records.one("prepare"), outer);

    let (panicked, records) =
        record(|| std::panic::catch_unwind(|| drop(exploding_prefix())).is_err());
    assert!(panicked);
    let r = records.one("exploding_prefix");
    assert_eq!(r.level, Some(Level::Error));
    assert_eq!(r.status_message(), Some("no future today"));
}

#[observe]
async fn guarded(id: u32) -> usize {
    // A scope guard held across `.await` inside an observed future (allowed where the future
    // need not be `Send`): the observation keeps its children and ends exactly once.
    let _scope = propagate_attributes().user_id("u-7").context().attach();
    fetch(id).await.len()
}

#[test]
fn a_guard_held_across_await_inside_an_observed_future_keeps_the_tree_right() {
    let ((n, after), records) = record(|| {
        let n = block_on(async { guarded(3).await });
        (n, langfuse_runtime::current_trace_id())
    });
    assert_eq!(n, 5);
    assert_eq!(after, None, "nothing stays current after the future completed");
    let guarded = records.one("guarded");
    let fetched = records.one("fetch");
    assert_child(fetched, guarded);
    let user =
        |r: &langfuse_runtime::ObservationRecord| r.trace.as_ref().and_then(|t| t.user_id.clone());
    assert_eq!(user(fetched).as_deref(), Some("u-7"));
    assert_eq!(user(guarded).as_deref(), Some("u-7"));
    assert!(guarded.end_unix_nanos >= fetched.end_unix_nanos);
}

#[test]
fn unsampled_async_records_nothing() {
    let (v, records) = record_with(|b| b.sample_rate(0.0), || block_on(combine(1, 1)));
    assert_eq!(v.len(), 3);
    assert_eq!(records.len(), 0);
}
