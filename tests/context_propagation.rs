//! Nesting in sync code, across `.await`, in concurrent futures, in spawned tasks and threads,
//! and cancellation — asserted on exact parent ids of the spans a real loopback OTLP/HTTP
//! receiver decoded.

mod support;

use std::time::Duration;

use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
/// What a dropped future is marked with (the wire text is part of the contract).
const CANCELLED_MESSAGE: &str = "cancelled: the future was dropped before it completed";
use langfuse_runtime::{ConfigBuilder, FutureContextExt as _, TraceContext, span};
use support::{Loopback, ReceivedSpan};

/// What the assertions read from a received span.
#[derive(Debug)]
struct Obs {
    name: String,
    id: String,
    parent_id: Option<String>,
    trace_id: String,
    level: Option<String>,
    status_message: Option<String>,
    observation_type: String,
    start: u64,
    end: u64,
    input: Option<String>,
    output: Option<String>,
    model: Option<String>,
}

impl From<&ReceivedSpan> for Obs {
    fn from(s: &ReceivedSpan) -> Self {
        let text = |k: &str| s.str_attr(k).map(str::to_owned);
        Obs {
            name: s.name().to_owned(),
            id: s.span_id_hex(),
            parent_id: s.parent_id_hex(),
            trace_id: s.trace_id_hex(),
            level: text("langfuse.observation.level"),
            status_message: text("langfuse.observation.status_message"),
            observation_type: text("langfuse.observation.type").unwrap_or_default(),
            start: s.span.start_time_unix_nano,
            end: s.span.end_time_unix_nano,
            input: text("langfuse.observation.input"),
            output: text("langfuse.observation.output"),
            model: text("langfuse.observation.model.name"),
        }
    }
}

struct Harness(Loopback);

impl Harness {
    fn new() -> Self {
        Self::with(|b| b)
    }

    fn with(configure: impl FnOnce(ConfigBuilder) -> ConfigBuilder) -> Self {
        Self(Loopback::start(configure))
    }

    fn finish(&mut self) -> Vec<Obs> {
        self.0.finish().iter().map(Obs::from).collect()
    }
}

fn by_name<'a>(records: &'a [Obs], name: &str) -> &'a Obs {
    let found: Vec<_> = records.iter().filter(|r| r.name == name).collect();
    assert_eq!(found.len(), 1, "expected exactly one `{name}` in {:?}", names(records));
    found[0]
}

fn names(records: &[Obs]) -> Vec<&str> {
    records.iter().map(|r| r.name.as_str()).collect()
}

fn assert_child(records: &[Obs], child: &str, parent: &str) {
    let (c, p) = (by_name(records, child), by_name(records, parent));
    assert_eq!(c.parent_id.as_ref(), Some(&p.id), "{child} should be a child of {parent}");
    assert_eq!(c.trace_id, p.trace_id, "{child} should share {parent}'s trace");
}

fn assert_root(records: &[Obs], name: &str) {
    assert_eq!(by_name(records, name).parent_id, None, "{name} should be a trace root");
}

#[test]
fn nested_sync_calls() {
    let mut h = Harness::new();
    let root = span("root").start();
    root.run(|| {
        let child = span("child").start();
        child.run(|| span("grandchild").start().end());
        child.end();
        span("second_child").start().end();
    });
    root.end();
    let records = h.finish();
    assert_eq!(records.len(), 4);
    assert_root(&records, "root");
    assert_child(&records, "child", "root");
    assert_child(&records, "grandchild", "child");
    assert_child(&records, "second_child", "root");
}

async fn leaf(name: &'static str) {
    tokio::task::yield_now().await;
    span(name).start().end();
}

async fn branch(name: &'static str, leaf_name: &'static str) {
    let obs = span(name).start();
    obs.instrument(async move {
        tokio::time::sleep(Duration::from_millis(5)).await;
        leaf(leaf_name).await;
        tokio::task::yield_now().await;
    })
    .await;
}

#[test]
fn concurrent_futures_keep_their_own_parent_across_await() {
    let mut h = Harness::new();
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let root = span("root").start();
        root.instrument(async {
            futures::join!(branch("join_a", "leaf_a"), branch("join_b", "leaf_b"));
            let mut unordered = FuturesUnordered::new();
            unordered.push(branch("fu_1", "leaf_1"));
            unordered.push(branch("fu_2", "leaf_2"));
            while unordered.next().await.is_some() {}
            tokio::select! {
                _ = branch("select_winner", "leaf_w") => {}
                _ = async { tokio::time::sleep(Duration::from_secs(5)).await; branch("never", "never_leaf").await } => {}
            }
        })
        .await;
    });
    let records = h.finish();
    assert_root(&records, "root");
    for (branch, leaf) in [
        ("join_a", "leaf_a"),
        ("join_b", "leaf_b"),
        ("fu_1", "leaf_1"),
        ("fu_2", "leaf_2"),
        ("select_winner", "leaf_w"),
    ] {
        assert_child(&records, branch, "root");
        assert_child(&records, leaf, branch);
    }
    assert!(!names(&records).contains(&"never"));
}

#[test]
fn cancelled_future_ends_its_observation_marked_cancelled() {
    let mut h = Harness::new();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let root = span("root").start();
        root.instrument(async {
            let slow = span("slow").start().instrument(async {
                span("before_cancel").start().end();
                tokio::time::sleep(Duration::from_secs(10)).await;
            });
            let timed_out = tokio::time::timeout(Duration::from_millis(10), slow).await;
            assert!(timed_out.is_err());
        })
        .await;
    });
    let records = h.finish();
    let slow = by_name(&records, "slow");
    assert_child(&records, "slow", "root");
    assert_child(&records, "before_cancel", "slow");
    assert_eq!(slow.level.as_deref(), Some("WARNING"));
    assert_eq!(slow.status_message.as_deref(), Some(CANCELLED_MESSAGE));
    assert!(slow.end >= slow.start);
    assert_eq!(by_name(&records, "root").level, None);
    assert_eq!(by_name(&records, "root").status_message, None);
}

#[test]
fn tokio_spawn_needs_the_helper_to_nest() {
    let mut h = Harness::new();
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let root = span("root").start();
        root.instrument(async {
            tokio::spawn(async { span("plain_spawn").start().end() }).await.unwrap();
            langfuse_runtime::spawn(async {
                tokio::task::yield_now().await;
                span("helper_spawn").start().end()
            })
            .await
            .unwrap();
            tokio::spawn(async { span("adaptor_spawn").start().end() }.in_current_context())
                .await
                .unwrap();
            langfuse_runtime::spawn_blocking(|| span("helper_blocking").start().end())
                .await
                .unwrap();
            tokio::task::spawn_blocking(|| span("plain_blocking").start().end()).await.unwrap();
        })
        .await;
    });
    let records = h.finish();
    assert_child(&records, "helper_spawn", "root");
    assert_child(&records, "adaptor_spawn", "root");
    assert_child(&records, "helper_blocking", "root");
    // Without a helper the task starts outside any observation: a new trace, as documented.
    assert_root(&records, "plain_spawn");
    assert_root(&records, "plain_blocking");
    assert_ne!(by_name(&records, "plain_spawn").trace_id, by_name(&records, "root").trace_id);
}

#[test]
fn threads_nest_with_the_helpers() {
    let mut h = Harness::new();
    let root = span("root").start();
    root.run(|| {
        langfuse_runtime::spawn_thread(|| span("helper_thread").start().end()).join().unwrap();
        let cx = TraceContext::current();
        std::thread::spawn(move || cx.run(|| span("context_thread").start().end())).join().unwrap();
        std::thread::spawn(langfuse_runtime::bind(|| span("bound_thread").start().end()))
            .join()
            .unwrap();
        std::thread::spawn(|| span("plain_thread").start().end()).join().unwrap();
    });
    root.end();
    let records = h.finish();
    assert_child(&records, "helper_thread", "root");
    assert_child(&records, "context_thread", "root");
    assert_child(&records, "bound_thread", "root");
    assert_root(&records, "plain_thread");
}

#[test]
fn explicit_parent_and_current_ids() {
    let mut h = Harness::new();
    let root = span("root").start();
    let detached = root.start_child("explicit_child").start();
    assert_eq!(langfuse_runtime::current_trace_id(), None);
    root.run(|| {
        assert_eq!(langfuse_runtime::current_trace_id(), root.trace_id());
        assert_eq!(langfuse_runtime::current_observation_id(), root.id());
        langfuse_runtime::current_observation().set_output(&"from inside");
        let g = langfuse_runtime::generation("gen").start();
        g.run(|| {
            langfuse_runtime::current_generation().set_model("gpt-4o");
        });
    });
    detached.end();
    root.end();
    let records = h.finish();
    assert_child(&records, "explicit_child", "root");
    assert_child(&records, "gen", "root");
    assert_eq!(by_name(&records, "root").output.as_deref(), Some("from inside"));
    let g = by_name(&records, "gen");
    assert_eq!(g.model.as_deref(), Some("gpt-4o"));
    assert_eq!(g.observation_type, "generation");
}

#[test]
fn events_have_zero_duration_and_nest() {
    let mut h = Harness::new();
    let root = span("root").start();
    root.run(|| {
        langfuse_runtime::event("cache_miss").input(&"key").emit();
    });
    root.end();
    let records = h.finish();
    let e = by_name(&records, "cache_miss");
    assert_child(&records, "cache_miss", "root");
    assert_eq!(e.observation_type, "event");
    assert_eq!(e.start, e.end);
    assert_eq!(e.input.as_deref(), Some("key"));
}

#[test]
fn unsampled_traces_export_nothing_but_keep_ids() {
    let mut h = Harness::with(|b| b.sample_rate(0.0));
    let root = span("root").start();
    assert!(!root.is_recording());
    assert!(root.trace_id().is_some());
    root.run(|| {
        let child = span("child").start();
        assert_eq!(child.trace_id(), root.trace_id());
        assert_eq!(langfuse_runtime::current_trace_id(), root.trace_id());
    });
    root.end();
    assert!(h.finish().is_empty());
}

#[test]
fn drop_of_the_client_flushes() {
    let h = Harness::new();
    for i in 0..1000 {
        span(format!("obs_{i}")).start().end();
    }
    std::thread::spawn(|| span("from_thread").start().end()).join().unwrap();
    let Harness(Loopback { langfuse, receiver, .. }) = h;
    // No flush: dropping the client must export everything it was given.
    drop(langfuse);
    let spans = receiver.spans();
    assert_eq!(spans.len(), 1001);
    assert!(spans.iter().any(|s| s.name() == "from_thread"));
    // Batches of at most `flush_at` (512) observations per request.
    assert!(receiver.requests().iter().all(|r| r.spans().len() <= 512));
}
