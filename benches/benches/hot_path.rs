//! Rows A–G (and the scaling rows A8, F64) of BENCHMARKS.md in one criterion run, so that every ratio comes from the same run.
//!
//! ```sh
//! cargo bench -p langfuse-benches --bench hot_path
//! ```
//!
//! Every row calls the same `add(a, b)` (or `len(s)` for G) nested under a root span of its
//! library, with input and output captured, through that library's real export path into an
//! exporter that counts what it receives. After each row the exporter's count is compared with
//! the number of calls made, and drops are reported.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkGroup, Criterion, measurement::WallTime};
use langfuse_benches::{
    AddInput, CountingExporter, IMPLEMENTATION, bare_add, bare_len, clients, observed_add,
    observed_add_async, observed_len,
};
use serde_json::json;

const INPUT_KEY: &str = "langfuse.observation.input";
const OUTPUT_KEY: &str = "langfuse.observation.output";
const TYPE_KEY: &str = "langfuse.observation.type";

/// Calls made and spans received per row, for the delivery table.
#[derive(Default)]
struct Delivery(Vec<(String, u64, u64)>);

impl Delivery {
    fn record(&mut self, row: &str, calls: u64, received: u64) {
        let dropped = calls.saturating_sub(received);
        eprintln!(
            "{row}: {calls} calls, exporter received {received} ({dropped} dropped, {:.1} %)",
            100.0 * dropped as f64 / calls.max(1) as f64
        );
        self.0.push((row.to_owned(), calls, received));
    }
}

/// Runs `f` `iters` times in a tight loop and returns the elapsed time (criterion `iter_custom`).
#[inline(always)]
fn timed(iters: u64, calls: &AtomicU64, mut f: impl FnMut()) -> Duration {
    calls.fetch_add(iters, Ordering::Relaxed);
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    start.elapsed()
}

// ---------------------------------------------------------------------------------------------
// A, E, G: Langfuse (sync)

fn row_a(g: &mut BenchmarkGroup<'_, WallTime>, delivery: &mut Delivery) {
    let exporter = CountingExporter::default();
    let langfuse = clients::counting(&exporter);
    let root = langfuse_runtime::span("root").start();
    let calls = AtomicU64::new(0);
    root.run(|| {
        g.bench_function("A_langfuse_observe", |b| {
            b.iter_custom(|iters| {
                timed(iters, &calls, || {
                    black_box(observed_add(black_box(1), black_box(2)));
                })
            })
        });
    });
    root.end();
    assert!(langfuse.flush().is_success(), "flush timed out");
    let stats = langfuse.stats();
    // +1: the root observation.
    delivery.record("A", calls.load(Ordering::Relaxed) + 1, exporter.count());
    eprintln!("A: pipeline stats {stats:?}");
    drop(langfuse);
}

fn rows_e(g: &mut BenchmarkGroup<'_, WallTime>) {
    g.bench_function("E0_bare_fn", |b| {
        b.iter(|| black_box(bare_add(black_box(1), black_box(2))));
    });

    let langfuse = clients::no_keys();
    assert!(!langfuse.is_recording());
    g.bench_function("E1_disabled_no_keys", |b| {
        b.iter(|| black_box(observed_add(black_box(1), black_box(2))));
    });
    drop(langfuse);

    let langfuse = clients::tracing_disabled();
    assert!(!langfuse.is_recording());
    g.bench_function("E2_disabled_tracing_off", |b| {
        b.iter(|| black_box(observed_add(black_box(1), black_box(2))));
    });
    drop(langfuse);

    let exporter = CountingExporter::default();
    let langfuse = clients::unsampled(&exporter);
    let root = langfuse_runtime::span("root").start();
    assert!(!root.is_recording() && root.trace_id().is_some(), "root must be unsampled");
    root.run(|| {
        g.bench_function("E3_disabled_unsampled", |b| {
            b.iter(|| black_box(observed_add(black_box(1), black_box(2))));
        });
    });
    drop(root);
    assert!(langfuse.flush().is_success());
    assert_eq!(exporter.count(), 0, "an unsampled trace must export nothing");
    drop(langfuse);
}

fn rows_g(g: &mut BenchmarkGroup<'_, WallTime>, delivery: &mut Delivery) {
    let exporter = CountingExporter::default();
    let langfuse = clients::counting_large_values(&exporter);
    let root = langfuse_runtime::span("root").start();
    let calls = AtomicU64::new(0);
    for (label, size) in [("1KB", 1024usize), ("100KB", 100 * 1024)] {
        // Prompt-like text with a few characters JSON must escape.
        let text: String = "The quick brown fox said \"hi\"\n".chars().cycle().take(size).collect();
        g.bench_function(format!("G_bare_len_{label}"), |b| {
            b.iter(|| black_box(bare_len(black_box(&text))));
        });
        g.bench_function(format!("G_serde_json_only_{label}"), |b| {
            b.iter(|| black_box(serde_json::to_string(black_box(&text)).unwrap()));
        });
        root.run(|| {
            g.bench_function(format!("G_langfuse_capture_{label}"), |b| {
                b.iter_custom(|iters| {
                    timed(iters, &calls, || {
                        black_box(observed_len(black_box(&text)));
                    })
                })
            });
        });
    }
    root.end();
    assert!(langfuse.flush().is_success());
    delivery.record("G", calls.load(Ordering::Relaxed) + 1, exporter.count());
    eprintln!("G: pipeline stats {:?}", langfuse.stats());
    drop(langfuse);
}

// ---------------------------------------------------------------------------------------------
// A8, F64: scaling (issue 13 must-have 4)

/// Producer threads of row A8 (on however many cores the machine has: 2 on the project's).
const SCALING_THREADS: u64 = 8;
/// Tokio tasks of row F64, on a multi-thread runtime with one worker per core.
const SCALING_TASKS: u64 = 64;

/// Checks, outside the timing, that a scaling row lost nothing: every call (plus the root)
/// reached the exporter and the pipeline dropped, failed and left nothing.
fn assert_nothing_lost(
    row: &str,
    langfuse: &langfuse_runtime::Langfuse,
    exporter: &CountingExporter,
    sent: u64,
) {
    let report = langfuse.flush();
    assert!(report.is_success(), "{row}: flush did not deliver everything: {report}");
    let (stats, got) = (langfuse.stats(), exporter.count());
    eprintln!("{row}: pipeline stats {stats:?}");
    assert_eq!(got, sent, "{row}: the exporter must receive every observation");
    assert_eq!(stats.created, sent, "{row}: created");
    assert_eq!(stats.exported, sent, "{row}: exported");
    assert_eq!((stats.dropped, stats.failed, stats.queued), (0, 0, 0), "{row}: nothing lost");
}

/// A8: row A's call from 8 threads at once, all children of one root. Each sample's `iters`
/// calls are split over the threads; the time returned is the wall time until the last one
/// finishes, so criterion's per-iteration figure is wall time per call with 8 producers
/// (ideal on 2 cores: A / 2). The threads are spawned per sample (~10 µs each, against
/// samples of tens of milliseconds).
fn row_a8(g: &mut BenchmarkGroup<'_, WallTime>, delivery: &mut Delivery) {
    let exporter = CountingExporter::default();
    let langfuse = clients::counting_unbounded(&exporter);
    let root = langfuse_runtime::span("root").start();
    let calls = AtomicU64::new(0);
    g.bench_function("A8_langfuse_observe_8_threads", |b| {
        b.iter_custom(|iters| {
            calls.fetch_add(iters, Ordering::Relaxed);
            let start_line = std::sync::Barrier::new(SCALING_THREADS as usize + 1);
            let share = |t: u64| iters / SCALING_THREADS + u64::from(t < iters % SCALING_THREADS);
            std::thread::scope(|scope| {
                for t in 0..SCALING_THREADS {
                    let (context, start_line) = (root.context(), &start_line);
                    scope.spawn(move || {
                        context.run(|| {
                            start_line.wait();
                            for _ in 0..share(t) {
                                black_box(observed_add(black_box(1), black_box(2)));
                            }
                        })
                    });
                }
                start_line.wait();
                let start = Instant::now();
                // Scoped threads are joined when the scope ends.
                start
            })
            .elapsed()
        })
    });
    root.end();
    let sent = calls.load(Ordering::Relaxed) + 1;
    assert_nothing_lost("A8", &langfuse, &exporter, sent);
    delivery.record("A8", sent, exporter.count());
    drop(langfuse);
}

/// F64: row F's call from 64 tokio tasks on a multi-thread runtime (one worker per core), all
/// children of one root; wall time per call, as A8.
fn row_f64(g: &mut BenchmarkGroup<'_, WallTime>, delivery: &mut Delivery) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let exporter = CountingExporter::default();
    let langfuse = clients::counting_unbounded(&exporter);
    let root = langfuse_runtime::span("root").start();
    let calls = AtomicU64::new(0);
    g.bench_function("F64_langfuse_observe_async_64_tasks", |b| {
        b.iter_custom(|iters| {
            calls.fetch_add(iters, Ordering::Relaxed);
            rt.block_on(async {
                let start = Instant::now();
                let tasks: Vec<_> = (0..SCALING_TASKS)
                    .map(|t| {
                        let n = iters / SCALING_TASKS + u64::from(t < iters % SCALING_TASKS);
                        tokio::spawn(root.context().wrap(async move {
                            for _ in 0..n {
                                black_box(observed_add_async(black_box(1), black_box(2)).await);
                            }
                        }))
                    })
                    .collect();
                for task in tasks {
                    task.await.expect("task panicked");
                }
                start.elapsed()
            })
        })
    });
    root.end();
    let sent = calls.load(Ordering::Relaxed) + 1;
    assert_nothing_lost("F64", &langfuse, &exporter, sent);
    delivery.record("F64", sent, exporter.count());
    drop(langfuse);
}

// ---------------------------------------------------------------------------------------------
// F: Langfuse async on tokio

fn row_f(g: &mut BenchmarkGroup<'_, WallTime>, delivery: &mut Delivery) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();

    g.bench_function("F0_bare_async_fn", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(async { bare_add(black_box(1), black_box(2)) }.await);
                }
                start.elapsed()
            })
        })
    });

    let exporter = CountingExporter::default();
    let langfuse = clients::counting(&exporter);
    let root = langfuse_runtime::span("root").start();
    let calls = AtomicU64::new(0);
    g.bench_function("F_langfuse_observe_async", |b| {
        b.iter_custom(|iters| {
            calls.fetch_add(iters, Ordering::Relaxed);
            rt.block_on(root.context().wrap(async {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(observed_add_async(black_box(1), black_box(2)).await);
                }
                start.elapsed()
            }))
        })
    });
    root.end();
    assert!(langfuse.flush().is_success());
    delivery.record("F", calls.load(Ordering::Relaxed) + 1, exporter.count());
    eprintln!("F: pipeline stats {:?}", langfuse.stats());
    drop(langfuse);
}

// ---------------------------------------------------------------------------------------------
// B: hand-written opentelemetry_sdk spans, default BatchSpanProcessor

mod otel {
    use super::*;
    use opentelemetry::trace::{Span as _, TraceContextExt as _, Tracer as _, TracerProvider as _};
    use opentelemetry::{Context, KeyValue};
    use opentelemetry_sdk::error::OTelSdkResult;
    use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, SpanData, SpanExporter};

    /// Counts what the batch processor delivers.
    #[derive(Debug, Clone, Default)]
    pub struct Counting(pub Arc<AtomicU64>);

    impl SpanExporter for Counting {
        fn export(
            &self,
            batch: Vec<SpanData>,
        ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
            self.0.fetch_add(batch.len() as u64, Ordering::Relaxed);
            std::future::ready(Ok(()))
        }
    }

    /// The SDK's default setup: `with_batch_exporter` (thread-based BSP, queue 2,048, batch 512,
    /// 5 s delay), default sampler (ParentBased(AlwaysOn)).
    pub fn provider(exporter: Counting) -> SdkTracerProvider {
        SdkTracerProvider::builder().with_batch_exporter(exporter).build()
    }

    pub fn tracer(provider: &SdkTracerProvider) -> SdkTracer {
        provider.tracer("bench")
    }

    /// B: what `#[observe]` does, by hand, with the OTel API.
    #[inline(never)]
    pub fn add(tracer: &SdkTracer, a: i64, b: i64) -> i64 {
        let parent = Context::current();
        let mut span = tracer.start_with_context("add", &parent);
        if span.is_recording() {
            span.set_attribute(KeyValue::new(TYPE_KEY, "span"));
            let input = serde_json::to_string(&AddInput { a, b }).unwrap_or_default();
            span.set_attribute(KeyValue::new(INPUT_KEY, input));
        }
        let _guard = parent.with_span(span).attach();
        let result = bare_add(a, b);
        opentelemetry::trace::get_active_span(|span| {
            if span.is_recording() {
                let output = serde_json::to_string(&result).unwrap_or_default();
                span.set_attribute(KeyValue::new(OUTPUT_KEY, output));
            }
            span.end();
        });
        result
    }

    pub fn row_b(g: &mut BenchmarkGroup<'_, WallTime>, delivery: &mut Delivery) {
        let exporter = Counting::default();
        let provider = provider(exporter.clone());
        let tracer = tracer(&provider);
        let root = tracer.start("root");
        let calls = AtomicU64::new(0);
        {
            let _root = Context::current_with_span(root).attach();
            g.bench_function("B_otel_sdk_manual", |b| {
                b.iter_custom(|iters| {
                    timed(iters, &calls, || {
                        black_box(add(&tracer, black_box(1), black_box(2)));
                    })
                })
            });
            opentelemetry::trace::get_active_span(|span| span.end());
        }
        let _ = provider.force_flush();
        let _ = provider.shutdown();
        delivery.record("B", calls.load(Ordering::Relaxed) + 1, exporter.0.load(Ordering::Relaxed));
    }

    // -----------------------------------------------------------------------------------------
    // C: tracing #[instrument(ret)] + tracing-opentelemetry on the same provider setup

    #[tracing::instrument(ret)]
    #[inline(never)]
    fn tracing_add(a: i64, b: i64) -> i64 {
        bare_add(a, b)
    }

    pub fn row_c(g: &mut BenchmarkGroup<'_, WallTime>, delivery: &mut Delivery) {
        use tracing_subscriber::layer::SubscriberExt as _;

        let exporter = Counting::default();
        let provider = provider(exporter.clone());
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(tracer(&provider)));
        let calls = AtomicU64::new(0);
        tracing::subscriber::with_default(subscriber, || {
            let root = tracing::info_span!("root");
            let _entered = root.enter();
            g.bench_function("C_tracing_instrument_otel", |b| {
                b.iter_custom(|iters| {
                    timed(iters, &calls, || {
                        black_box(tracing_add(black_box(1), black_box(2)));
                    })
                })
            });
        });
        let _ = provider.force_flush();
        let _ = provider.shutdown();
        delivery.record("C", calls.load(Ordering::Relaxed) + 1, exporter.0.load(Ordering::Relaxed));
    }
}

// ---------------------------------------------------------------------------------------------
// D: fastrace #[trace] with the same data as properties

mod fast {
    use super::*;
    use fastrace::collector::{Config, Reporter, SpanContext};
    use fastrace::local::LocalSpan;
    use fastrace::prelude::{Span, SpanRecord};

    /// A local parent collects at most 10,240 entries (fastrace's `LocalSpanStack` queue; more
    /// are silently not recorded), and each call makes two: its span and the output property
    /// added inside it. So the timed loop hands the collected spans to the collector every
    /// `LOCAL_BATCH` calls by renewing the local-parent guard. The root stays the same, as A's
    /// does: every call is a child of one long-lived root.
    const LOCAL_BATCH: u64 = 5_000;

    struct Counting(Arc<AtomicU64>);

    impl Reporter for Counting {
        fn report(&mut self, spans: Vec<SpanRecord>) {
            self.0.fetch_add(spans.len() as u64, Ordering::Relaxed);
        }
    }

    #[fastrace::trace(short_name = true, properties = {
        "langfuse.observation.type": "span",
        "langfuse.observation.input": "{{\"a\":{a},\"b\":{b}}}",
    })]
    #[inline(never)]
    fn fastrace_add(a: i64, b: i64) -> i64 {
        let result = bare_add(a, b);
        LocalSpan::add_property(|| (OUTPUT_KEY, result.to_string()));
        result
    }

    /// Waits until the reporter has received `expected` spans (at most ~2 s). `flush` drains
    /// only the collector's ring buffers: commands that did not fit stay queued in the sending
    /// thread until it sends again, so an empty root (one more span, counted in `created`) nudges
    /// them through.
    fn drain(received: &AtomicU64, created: &AtomicU64) {
        for _ in 0..200 {
            fastrace::flush();
            if received.load(Ordering::Relaxed) >= created.load(Ordering::Relaxed) {
                return;
            }
            drop(Span::root("nudge", SpanContext::random()));
            created.fetch_add(1, Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn row_d(g: &mut BenchmarkGroup<'_, WallTime>, delivery: &mut Delivery) {
        let received = Arc::new(AtomicU64::new(0));
        fastrace::set_reporter(Counting(received.clone()), Config::default());
        // Spans created: calls, roots and the nudges of `drain`.
        let created = AtomicU64::new(0);
        g.bench_function("D_fastrace_trace", |b| {
            b.iter_custom(|iters| {
                created.fetch_add(iters + 1, Ordering::Relaxed);
                let start = Instant::now();
                // One root per criterion sample (A's root is per row; fastrace holds a trace's
                // spans until its root ends, so a per-row root would hold every span of the
                // row in memory): either way its cost is spread over 10^4–10^6 calls.
                let root = Span::root("root", SpanContext::random());
                let mut left = iters;
                while left > 0 {
                    let n = left.min(LOCAL_BATCH);
                    let guard = root.set_local_parent();
                    for _ in 0..n {
                        black_box(fastrace_add(black_box(1), black_box(2)));
                    }
                    drop(guard);
                    left -= n;
                }
                drop(root);
                let elapsed = start.elapsed();
                // Reporting happens outside the timing; doing it per sample bounds what the
                // collector holds.
                drain(&received, &created);
                elapsed
            })
        });
        drain(&received, &created);
        let (created, received) =
            (created.load(Ordering::Relaxed), received.load(Ordering::Relaxed));
        delivery.record("D", created, received);
        assert_eq!(received, created, "D: fastrace's reporter must receive every span created");
    }
}

// ---------------------------------------------------------------------------------------------

fn main() {
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
        .configure_from_args();
    let mut delivery = Delivery::default();
    eprintln!("observed functions: {IMPLEMENTATION}");
    {
        let mut g = criterion.benchmark_group("hot_path");
        row_a(&mut g, &mut delivery);
        otel::row_b(&mut g, &mut delivery);
        otel::row_c(&mut g, &mut delivery);
        fast::row_d(&mut g, &mut delivery);
        rows_e(&mut g);
        row_f(&mut g, &mut delivery);
        row_a8(&mut g, &mut delivery);
        row_f64(&mut g, &mut delivery);
        rows_g(&mut g, &mut delivery);
        g.finish();
    }
    criterion.final_summary();

    let rows: Vec<_> = delivery
        .0
        .iter()
        .map(|(row, calls, received)| json!({"row": row, "calls": calls, "received": received}))
        .collect();
    langfuse_benches::write_result(
        "hot_path_delivery.json",
        &json!({"implementation": IMPLEMENTATION, "delivery": rows}),
    );
}
