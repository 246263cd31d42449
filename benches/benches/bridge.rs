//! Bridge rows (issue 11): one `tracing` span shaped like rig's completion span, through
//! `langfuse_runtime::tracing::layer()` (J1) and through `tracing-opentelemetry` into the
//! `opentelemetry_sdk` batch processor (J2), in one criterion group so the ratio comes from one
//! run.
//!
//! ```sh
//! cargo bench -p langfuse-benches --bench bridge
//! ```
//!
//! Both rows create the same span (name `chat`, target `rig::completions`, the same `gen_ai.*`
//! fields, usage recorded after creation, as rig does when the response arrives) as the root of
//! its own trace, and end it by dropping it. Each exporter counts what it receives and discards
//! it; after the timing, each row asserts that every span reached its exporter.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkGroup, Criterion, measurement::WallTime};
use langfuse_benches::{CountingExporter, clients};
use opentelemetry::trace::TracerProvider as _;
use tracing_subscriber::layer::SubscriberExt as _;

#[path = "support/bridge_rows.rs"]
mod shared;

fn timed(b: &mut criterion::Bencher<'_>, calls: &AtomicU64) {
    b.iter_custom(|iters| {
        calls.fetch_add(iters, Ordering::Relaxed);
        let start = Instant::now();
        for _ in 0..iters {
            shared::rig_like_chat_span(black_box(12), black_box(34));
        }
        start.elapsed()
    });
}

/// J1: the Langfuse `tracing` layer on a registry, into the counting exporter.
fn row_j1(g: &mut BenchmarkGroup<'_, WallTime>) {
    let exporter = CountingExporter::default();
    let langfuse = clients::counting(&exporter);
    let calls = AtomicU64::new(0);
    let subscriber = tracing_subscriber::registry().with(langfuse_runtime::tracing::layer());
    tracing::subscriber::with_default(subscriber, || {
        g.bench_function("J1_tracing_langfuse_layer", |b| timed(b, &calls));
    });
    assert!(langfuse.flush().is_success(), "J1: flush timed out");
    let (sent, stats) = (calls.load(Ordering::Relaxed), langfuse.stats());
    eprintln!("J1: {sent} spans, exporter received {}, pipeline stats {stats:?}", exporter.count());
    assert_eq!(exporter.count(), sent, "J1: every span must reach the exporter");
    assert_eq!((stats.dropped, stats.failed), (0, 0), "J1: nothing dropped or failed");
}

/// J2: `tracing-opentelemetry` into the SDK's batch processor (its defaults, but a queue large
/// enough that no span of the row is dropped: the row must lose nothing, as J1 does).
fn row_j2(g: &mut BenchmarkGroup<'_, WallTime>) {
    let exporter = shared::Counting::default();
    let provider = shared::j2_provider(&exporter);
    let calls = AtomicU64::new(0);
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench")));
    tracing::subscriber::with_default(subscriber, || {
        g.bench_function("J2_tracing_opentelemetry_bsp", |b| timed(b, &calls));
    });
    let _ = provider.force_flush();
    let _ = provider.shutdown();
    let (sent, received) = (calls.load(Ordering::Relaxed), exporter.count());
    eprintln!("J2: {sent} spans, exporter received {received}");
    assert_eq!(received, sent, "J2: every span must reach the exporter");
}

fn main() {
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
        .configure_from_args();
    {
        let mut g = criterion.benchmark_group("bridge");
        row_j1(&mut g);
        row_j2(&mut g);
        g.finish();
    }
    criterion.final_summary();
}
