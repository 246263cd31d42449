//! Dual export: the same observations reach Langfuse (a loopback OTLP receiver) and an
//! `opentelemetry_sdk` span exporter (one that POSTs to a second loopback receiver, as
//! `opentelemetry-otlp` would) with identical ids, attributes, resource and scope; each
//! destination has its own filter; a destination that fails, panics, hangs or blocks is
//! counted on its own and never changes what Langfuse receives or what its counts say.

#[allow(dead_code)]
#[path = "support/otel_forward.rs"]
mod otel_forward;
mod support;

use std::time::Duration;

use langfuse_runtime::export::{DestinationCounts, OtelExporter};
use langfuse_runtime::{ObservationType, generation, propagate_attributes, span};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use otel_forward::{Broken, Failure, OtlpForwarder};
use support::{Loopback, OtlpReceiver, ReceivedSpan};

/// A trace of three observations: an agent span with a user, session and tags, a generation
/// with model and usage, and a tool span that fails.
fn record_a_trace() {
    propagate_attributes().user_id("user-7").session_id("session-3").tags(["dual"]).run(|| {
        span("agent").input(&"What is 2 + 2?").run(|agent| {
            generation("chat")
                .model("gpt-4o-mini")
                .usage_details(&serde_json::json!({"input": 12, "output": 3}))
                .output(&"4")
                .start()
                .end();
            span("calculator").start().set_error("division by zero");
            agent.set_output(&"4");
        });
    });
}

/// [`DestinationCounts`] as a comparable value (it is `non_exhaustive`).
#[derive(Debug, PartialEq)]
struct Counts {
    offered: u64,
    filtered_out: u64,
    exported: u64,
    failed: u64,
    dropped: u64,
    lost_at_shutdown: u64,
    queued: u64,
}

impl From<DestinationCounts> for Counts {
    fn from(d: DestinationCounts) -> Self {
        Self {
            offered: d.offered,
            filtered_out: d.filtered_out,
            exported: d.exported,
            failed: d.failed,
            dropped: d.dropped,
            lost_at_shutdown: d.lost_at_shutdown,
            queued: d.queued,
        }
    }
}

fn sorted(attributes: &[KeyValue]) -> Vec<KeyValue> {
    let mut attributes = attributes.to_vec();
    attributes.sort_by(|a, b| a.key.cmp(&b.key));
    attributes
}

/// Everything our encoder wrote for `ours` is in `theirs`, the same way.
fn assert_same_span(ours: &ReceivedSpan, theirs: &ReceivedSpan) {
    let (a, b) = (&ours.span, &theirs.span);
    assert_eq!(a.trace_id, b.trace_id);
    assert_eq!(a.span_id, b.span_id);
    assert_eq!(a.parent_span_id, b.parent_span_id, "{}", a.name);
    assert_eq!(a.name, b.name);
    assert_eq!(a.kind, b.kind);
    assert_eq!(
        (a.start_time_unix_nano, a.end_time_unix_nano),
        (b.start_time_unix_nano, b.end_time_unix_nano)
    );
    // Same keys, values, kinds and order.
    assert_eq!(a.attributes, b.attributes, "{}", a.name);
    assert_eq!(a.dropped_attributes_count, b.dropped_attributes_count);
    assert_eq!(a.events, b.events);
    // Our encoder leaves an UNSET status out; the SDK transform writes it.
    assert_eq!(a.status.clone().unwrap_or_default(), b.status.clone().unwrap_or_default());
    // Has-is-remote bits alike; the SDK adds the sampled trace flag.
    assert_eq!(a.flags, 0x100);
    assert_eq!(b.flags, 0x101);
    let (ra, rb) = (ours.resource.as_ref().unwrap(), theirs.resource.as_ref().unwrap());
    assert_eq!(sorted(&ra.attributes), sorted(&rb.attributes));
    assert_eq!(ours.scope, theirs.scope);
}

#[test]
fn the_same_observations_reach_langfuse_and_an_sdk_exporter() {
    let tempo = OtlpReceiver::start();
    let addr = tempo.addr();
    let mut loopback = Loopback::start(|b| {
        b.environment("production")
            .release("v1.2.3")
            .service_name("checkout")
            .resource_attribute("team", "search")
            .otel_exporter(move || {
                OtelExporter::new(OtlpForwarder::new(addr, "/v1/traces")).name("tempo")
            })
    });
    record_a_trace();
    let report = loopback.langfuse.as_ref().unwrap().flush();
    assert!(report.is_success(), "{report}");
    assert_eq!(report.exported, 3);
    assert_eq!(
        Counts::from(report.destinations),
        Counts {
            offered: 3,
            filtered_out: 0,
            exported: 3,
            failed: 0,
            dropped: 0,
            lost_at_shutdown: 0,
            queued: 0
        }
    );
    let stats = loopback.langfuse.as_ref().unwrap().destination_stats();
    assert_eq!(stats.len(), 1);
    assert_eq!((stats[0].name.as_str(), stats[0].counts.exported), ("tempo", 3));

    let theirs = tempo.wait_for_spans(3, Duration::from_secs(5));
    assert!(tempo.requests().iter().all(|r| r.path == "/v1/traces"));
    let ours = loopback.finish();
    assert_eq!((ours.len(), theirs.len()), (3, 3));
    for span in &ours {
        let twin = theirs.iter().find(|t| t.span.span_id == span.span.span_id).unwrap();
        assert_same_span(span, twin);
    }

    // And the values are the Langfuse ones, on both sides.
    let find = |spans: &[ReceivedSpan], name: &str| {
        spans.iter().find(|s| s.name() == name).cloned().unwrap()
    };
    for spans in [&ours, &theirs] {
        let (agent, chat, tool) =
            (find(spans, "agent"), find(spans, "chat"), find(spans, "calculator"));
        assert_eq!(agent.str_attr("langfuse.observation.type"), Some("span"));
        assert_eq!(agent.str_attr("langfuse.observation.input"), Some("What is 2 + 2?"));
        assert_eq!(agent.str_attr("langfuse.observation.output"), Some("4"));
        assert_eq!(agent.str_attr("user.id"), Some("user-7"));
        assert_eq!(agent.str_attr("session.id"), Some("session-3"));
        assert_eq!(agent.str_array_attr("langfuse.trace.tags"), Some(vec!["dual"]));
        assert_eq!(agent.str_attr("langfuse.environment"), Some("production"));
        assert_eq!(agent.str_attr("langfuse.release"), Some("v1.2.3"));
        assert_eq!(chat.str_attr("langfuse.observation.type"), Some("generation"));
        assert_eq!(chat.str_attr("langfuse.observation.model.name"), Some("gpt-4o-mini"));
        assert_eq!(
            chat.str_attr("langfuse.observation.usage_details"),
            Some(r#"{"input":12,"output":3}"#)
        );
        assert_eq!(chat.parent_id_hex(), Some(agent.span_id_hex()));
        assert_eq!(tool.parent_id_hex(), Some(agent.span_id_hex()));
        assert_eq!(tool.str_attr("langfuse.observation.level"), Some("ERROR"));
        assert_eq!(
            tool.span.status.as_ref().map(|s| (s.code, s.message.as_str())),
            Some((2, "division by zero"))
        );
        assert_eq!(agent.resource_attr("service.name"), Some("checkout"));
        assert_eq!(agent.resource_attr("telemetry.sdk.language"), Some("rust"));
        assert_eq!(agent.resource_attr("langfuse.environment"), Some("production"));
        assert_eq!(agent.resource_attr("team"), Some("search"));
        assert_eq!(agent.scope_name(), Some("langfuse-sdk"));
        assert_eq!(agent.scope_version(), Some(langfuse_runtime::SDK_VERSION));
        assert_eq!(agent.scope_attr("public_key"), Some(support::PUBLIC_KEY));
        assert_eq!(chat.trace_id_hex(), agent.trace_id_hex());
    }
}

#[test]
fn each_destination_has_its_own_filter() {
    let (llm, all) = (OtlpReceiver::start(), OtlpReceiver::start());
    let (llm_addr, all_addr) = (llm.addr(), all.addr());
    let mut loopback = Loopback::start(|b| {
        b.otel_exporter(move || {
            OtelExporter::new(OtlpForwarder::new(llm_addr, "/v1/traces"))
                .name("llm-only")
                .filter(|r| r.observation_type == ObservationType::Generation)
        })
        .otel_exporter(move || {
            OtelExporter::new(OtlpForwarder::new(all_addr, "/v1/traces"))
                .name("tempo")
                .filter(|r| r.name != "agent")
        })
    });
    record_a_trace();
    let report = loopback.langfuse.as_ref().unwrap().flush();
    assert!(report.is_success(), "{report}");
    let stats = loopback.langfuse.as_ref().unwrap().destination_stats();
    assert_eq!(stats[0].name, "llm-only");
    assert_eq!(
        Counts::from(stats[0].counts),
        Counts {
            offered: 3,
            filtered_out: 2,
            exported: 1,
            failed: 0,
            dropped: 0,
            lost_at_shutdown: 0,
            queued: 0
        }
    );
    assert_eq!(stats[1].name, "tempo");
    assert_eq!(
        Counts::from(stats[1].counts),
        Counts {
            offered: 3,
            filtered_out: 1,
            exported: 2,
            failed: 0,
            dropped: 0,
            lost_at_shutdown: 0,
            queued: 0
        }
    );
    assert_eq!(report.destinations.exported, 3);
    assert_eq!(report.destinations.filtered_out, 3);

    let names = |spans: Vec<ReceivedSpan>| {
        let mut names: Vec<String> = spans.iter().map(|s| s.name().to_owned()).collect();
        names.sort();
        names
    };
    assert_eq!(names(llm.wait_for_spans(1, Duration::from_secs(5))), ["chat"]);
    assert_eq!(names(all.wait_for_spans(2, Duration::from_secs(5))), ["calculator", "chat"]);
    // Langfuse gets everything.
    assert_eq!(names(loopback.finish()), ["agent", "calculator", "chat"]);
}

#[test]
fn failing_destinations_are_counted_and_langfuse_is_not_affected() {
    let mut loopback = Loopback::start(|b| {
        b.otel_exporter(|| OtelExporter::new(Broken(Failure::Error)).name("error"))
            .otel_exporter(|| OtelExporter::new(Broken(Failure::Panic)).name("panic"))
            .otel_exporter(|| {
                OtelExporter::new(Broken(Failure::Pending))
                    .name("pending")
                    .timeout(Duration::from_millis(100))
            })
    });
    record_a_trace();
    let langfuse = loopback.langfuse.as_ref().unwrap();
    let report = langfuse.flush();
    assert_eq!((report.exported, report.failed, report.dropped), (3, 0, 0));
    assert!(!report.deadline_hit);
    assert!(!report.is_success(), "a destination's failure makes the flush no success: {report}");
    assert!(report.to_string().contains("; extra destinations: 0 exported, "), "{report}");
    // The pending export fails at its own deadline, which a loaded machine may put after the
    // flush's wait for it: wait for its count rather than assume.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while langfuse.stats().destinations.failed < 9 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let failed = Counts {
        offered: 3,
        filtered_out: 0,
        exported: 0,
        failed: 3,
        dropped: 0,
        lost_at_shutdown: 0,
        queued: 0,
    };
    let destinations = langfuse.destination_stats();
    let names: Vec<&str> = destinations.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["error", "panic", "pending"]);
    for stats in destinations {
        assert_eq!(Counts::from(stats.counts), failed, "{}", stats.name);
    }
    let stats = langfuse.stats();
    assert_eq!((stats.created, stats.exported, stats.failed, stats.dropped), (3, 3, 0, 0));
    assert_eq!((stats.destinations.offered, stats.destinations.failed), (9, 9));
    // `finish` checks Langfuse's own counts: nothing dropped or failed there.
    let spans = loopback.finish();
    assert_eq!(spans.len(), 3);
}

#[test]
fn a_blocked_destination_drops_at_its_bound_and_is_abandoned_at_shutdown() {
    let mut loopback = Loopback::start(|b| {
        b.max_queue_size(4).otel_exporter(|| {
            OtelExporter::new(Broken(Failure::Block(Duration::from_secs(2))))
                .name("stuck")
                .timeout(Duration::from_millis(100))
        })
    });
    let langfuse = loopback.langfuse.take().unwrap();
    record_a_trace();
    // The destination's thread is now blocked in its first export of 3.
    let first = langfuse.flush();
    assert_eq!((first.exported, first.failed), (3, 0));
    assert!(!first.deadline_hit);
    assert_eq!(first.destinations.queued, 3);
    record_a_trace();
    // 3 more do not fit its bound of 4: dropped there, delivered to Langfuse.
    let second = langfuse.flush();
    assert_eq!((second.exported, second.failed, second.dropped), (3, 0, 0));
    assert_eq!(second.destinations.dropped, 3);
    let before_shutdown = langfuse.destination_stats()[0].counts;
    let last = langfuse.shutdown();
    assert!(!last.deadline_hit, "{last}");
    assert_eq!(last.destinations.lost_at_shutdown, 3);
    assert_eq!(last.destinations.queued, 0);
    assert_eq!(loopback.receiver.spans().len(), 6);
    // Every observation offered to the destination is in exactly one bucket.
    assert_eq!(
        Counts::from(before_shutdown),
        Counts {
            offered: 6,
            filtered_out: 0,
            exported: 0,
            failed: 0,
            dropped: 3,
            lost_at_shutdown: 0,
            queued: 3
        }
    );
}
