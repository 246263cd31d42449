//! Rows J1 and J2 for `valgrind --tool=callgrind`: instructions per bridged span, on the
//! calling thread and on all threads (the export thread of J1, the batch processor's thread of
//! J2), numbers that do not drift with the machine's load the way timings do. Run it with
//! `benches/bridge_instructions.sh`, which runs each row for two span counts and divides the
//! difference, so that start-up, warm-up and shutdown cancel out.
//!
//! ```sh
//! target/release/deps/bridge_instructions-<hash> J1 20000
//! ```
//!
//! Without a row argument (as under `cargo bench`) it does nothing. The span is the one of
//! `bridge.rs` (rig's completion span, usage recorded after creation, root of its trace). Spans
//! go in rounds of 1,000 with a flush between them: under valgrind the threads take turns, so
//! without the flushes the export thread would fall behind and the count would include queue
//! growth a real run does not have.

use std::hint::black_box;

use langfuse_benches::{CountingExporter, clients};
use opentelemetry::trace::TracerProvider as _;
use tracing_subscriber::layer::SubscriberExt as _;

#[path = "support/bridge_rows.rs"]
mod shared;

const ROUND: u64 = 1000;
const WARM_UP: u64 = 20_000;

/// `spans` spans in rounds, `flush` after each round.
fn rounds(spans: u64, flush: impl Fn()) {
    for _ in 0..spans.div_ceil(ROUND) {
        for _ in 0..ROUND {
            shared::rig_like_chat_span(black_box(12), black_box(34));
        }
        flush();
    }
}

fn j1(spans: u64) -> u64 {
    let exporter = CountingExporter::default();
    let langfuse = clients::counting(&exporter);
    let subscriber = tracing_subscriber::registry().with(langfuse_runtime::tracing::layer());
    tracing::subscriber::with_default(subscriber, || {
        let flush = || assert!(langfuse.flush().is_success(), "J1: flush timed out");
        rounds(WARM_UP, flush);
        rounds(spans, flush);
    });
    exporter.count()
}

fn j2(spans: u64) -> u64 {
    let exporter = shared::Counting::default();
    let provider = shared::j2_provider(&exporter);
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench")));
    tracing::subscriber::with_default(subscriber, || {
        let flush = || assert!(provider.force_flush().is_ok(), "J2: flush failed");
        rounds(WARM_UP, flush);
        rounds(spans, flush);
    });
    let _ = provider.shutdown();
    exporter.count()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(row) = args.iter().find(|a| *a == "J1" || *a == "J2") else {
        eprintln!(
            "bridge_instructions: pass J1 or J2 and a span count (see benches/bridge_instructions.sh)"
        );
        return;
    };
    let spans = args.iter().find_map(|a| a.parse::<u64>().ok()).unwrap_or(20_000);
    let spans = spans.div_ceil(ROUND) * ROUND;
    let exported = if row == "J1" { j1(spans) } else { j2(spans) };
    assert_eq!(exported, WARM_UP + spans, "{row}: every span must reach the exporter");
    println!("{row} spans: {spans}, exported: {exported}");
}
