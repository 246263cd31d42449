use std::sync::{Mutex, PoisonError};

use std::io;
use std::sync::Arc;

use super::render::MAX_INDENT_DEPTH;
use super::*;
use crate::ids::ObservationId;
use crate::kind::{Level, ObservationType};
use crate::record::GenerationFields;
use crate::record::{Metadata, TraceAttributes};

/// A writer the test can read back after handing a clone to the exporter.
#[derive(Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl SharedBuf {
    /// Everything written so far, cleared.
    fn take(&self) -> String {
        let bytes = std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner));
        String::from_utf8(bytes).unwrap()
    }
}

fn exporter() -> (ConsoleExporter, SharedBuf) {
    let buf = SharedBuf::default();
    (ConsoleExporter::new(buf.clone()), buf)
}

impl ConsoleExporter {
    /// One pipeline round holding one batch: `export`, then `end_of_round`.
    fn export_round(&mut self, batch: &[ObservationRecord]) -> Result<(), ExportError> {
        self.export(batch)?;
        self.end_of_round()
    }
}

/// 2025-01-02T03:04:05Z
const T0: u64 = 1_735_787_045_000_000_000;

fn trace_id() -> TraceId {
    TraceId::from_u128(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736).unwrap()
}

fn id(n: u64) -> ObservationId {
    ObservationId::from_u64(n).unwrap()
}

/// An observation of `trace_id()` starting `start_us` after `T0` and lasting `nanos`.
fn rec(
    n: u64,
    parent: Option<u64>,
    name: &'static str,
    ty: ObservationType,
    start_us: u64,
    nanos: u64,
) -> ObservationRecord {
    let start = T0 + start_us * 1_000;
    let mut r = ObservationRecord::new(trace_id(), id(n), parent.map(id), name, ty, start);
    r.end_unix_nanos = start + nanos;
    r
}

/// `pipeline` → (`db_query` → `connect`), (`chat_step` → `cache_hit` event), in end order.
fn pipeline_records() -> Vec<ObservationRecord> {
    let attrs = Arc::new(TraceAttributes {
        name: Some("quickstart".into()),
        user_id: Some("user-1".into()),
        session_id: Some("session-42".into()),
        tags: vec!["demo".into(), "docs".into()],
        ..TraceAttributes::default()
    });
    let mut connect = rec(3, Some(2), "connect", ObservationType::Span, 150, 42_300);
    connect.trace = Some(attrs.clone());
    let mut db = rec(2, Some(1), "db_query", ObservationType::Span, 100, 2_100_000);
    db.input = Some("SELECT * FROM docs WHERE topic = 'rust'".into());
    db.metadata_mut().insert("rows", "3".into());
    db.metadata_mut().insert("table", "\"docs\"".into());
    db.trace = Some(attrs.clone());
    let mut hit = rec(5, Some(4), "cache_hit", ObservationType::Event, 2_500, 0);
    hit.trace = Some(attrs.clone());
    let mut chat = rec(4, Some(1), "chat_step", ObservationType::Generation, 2_300, 8_000_000);
    chat.input = Some(r#"[{"role":"user","content":"What is Rust?"}]"#.into());
    chat.output = Some("A systems programming language.".into());
    *chat.generation_mut() = GenerationFields {
        model: Some("gpt-4o-mini".into()),
        model_parameters: Some(r#"{"temperature":0.2,"max_tokens":128}"#.into()),
        usage_details: Some(r#"{"input":12,"output":3,"total":15}"#.into()),
        cost_details: Some(r#"{"input":0.00012,"output":0.00006,"total":0.00018}"#.into()),
        completion_start_time: Some(T0 + 5_300_000),
        prompt_name: Some("qa".into()),
        prompt_version: Some(3),
    };
    chat.trace = Some(attrs.clone());
    let mut root = rec(1, None, "pipeline", ObservationType::Span, 0, 12_500_000);
    root.input = Some(r#"{"question":"What is Rust?"}"#.into());
    root.output = Some("A systems programming language.".into());
    root.trace = Some(attrs);
    vec![connect, db, hit, chat, root]
}

const PIPELINE_TREE: &str = "\
trace 4bf92f3577b34da6a3ce929d0e0e4736 (5 observations)
pipeline [span] 12.500 ms
│ input: {\"question\":\"What is Rust?\"}
│ output: A systems programming language.
│ trace: name=quickstart, user=user-1, session=session-42, tags=[demo, docs]
├─ db_query [span] 2.100 ms
│  │ input: SELECT * FROM docs WHERE topic = 'rust'
│  │ metadata: {rows: 3, table: \"docs\"}
│  └─ connect [span] 42.3 µs
└─ chat_step [generation] 8.000 ms
   │ input: [{\"role\":\"user\",\"content\":\"What is Rust?\"}]
   │ output: A systems programming language.
   │ model: gpt-4o-mini  usage: {input: 12, output: 3, total: 15}  \
cost: {input: 0.00012, output: 0.00006, total: 0.00018}
   │ params: {temperature: 0.2, max_tokens: 128}  prompt: qa v3  first token: +3.000 ms
   └─ cache_hit [event]

";

#[test]
fn three_level_trace_prints_once_its_root_arrives() {
    let (mut exporter, buf) = exporter();
    exporter.export_round(&pipeline_records()).unwrap();
    assert_eq!(buf.take(), PIPELINE_TREE);
    assert_eq!(exporter.buffer.len(), 0);
    assert!(exporter.buffer.traces() == 0);
    exporter.force_flush().unwrap();
    exporter.shutdown().unwrap();
    assert_eq!(buf.take(), "");
}

#[test]
fn children_first_across_two_exports() {
    let (mut exporter, buf) = exporter();
    let mut records = pipeline_records();
    let root = records.pop().unwrap();
    // Children sorted by start time, not by arrival.
    records.reverse();
    exporter.export_round(&records).unwrap();
    assert_eq!(buf.take(), "");
    assert_eq!(exporter.buffer.len(), 4);
    exporter.export_round(&[root]).unwrap();
    assert_eq!(buf.take(), PIPELINE_TREE);
    assert_eq!(exporter.buffer.len(), 0);
}

#[test]
fn error_warning_and_status() {
    let (mut exporter, buf) = exporter();
    let mut charge = rec(2, Some(1), "charge_card", ObservationType::Tool, 10, 950);
    charge.level = Some(Level::Error);
    charge.set_status_message(Some("card declined:\ninsufficient funds".into()));
    charge.output = Some(r#"{"code":402}"#.into());
    let mut retry = rec(3, Some(1), "retry", ObservationType::Span, 20, 1_234_567);
    retry.level = Some(Level::Warning);
    let mut audit = rec(4, Some(1), "audit", ObservationType::Span, 30, 999_960);
    audit.level = Some(Level::Default);
    let mut root = rec(1, None, "checkout", ObservationType::Agent, 0, 2_345_678_901);
    root.set_status_message(Some("gave up".into()));
    root.level = Some(Level::Error);
    let mut note = rec(5, None, "note", ObservationType::Span, 0, 0);
    note.set_status_message(Some("just saying".into()));
    exporter.export_round(&[charge, retry, audit, root, note]).unwrap();
    assert_eq!(
        buf.take(),
        "\
trace 4bf92f3577b34da6a3ce929d0e0e4736 (4 observations)
checkout [agent] 2.346 s  ERROR: gave up
├─ charge_card [tool] 950 ns  ERROR: card declined:\\ninsufficient funds
│    output: {\"code\":402}
├─ retry [span] 1.235 ms  WARNING
└─ audit [span] 1.000 ms

trace 4bf92f3577b34da6a3ce929d0e0e4736 (1 observation)
note [span] 0 ns  status: just saying

"
    );
}

#[test]
fn incomplete_trace_is_printed_on_force_flush() {
    let (mut exporter, buf) = exporter();
    let mut records = pipeline_records();
    let root = records.pop().unwrap();
    exporter.export_round(&records).unwrap();
    assert_eq!(buf.take(), "");
    exporter.force_flush().unwrap();
    assert_eq!(
        buf.take(),
        "\
trace 4bf92f3577b34da6a3ce929d0e0e4736 (4 observations)
db_query [span] 2.100 ms  (parent not finished)
│ input: SELECT * FROM docs WHERE topic = 'rust'
│ metadata: {rows: 3, table: \"docs\"}
│ trace: name=quickstart, user=user-1, session=session-42, tags=[demo, docs]
└─ connect [span] 42.3 µs
chat_step [generation] 8.000 ms  (parent not finished)
│ input: [{\"role\":\"user\",\"content\":\"What is Rust?\"}]
│ output: A systems programming language.
│ model: gpt-4o-mini  usage: {input: 12, output: 3, total: 15}  \
cost: {input: 0.00012, output: 0.00006, total: 0.00018}
│ params: {temperature: 0.2, max_tokens: 128}  prompt: qa v3  first token: +3.000 ms
│ trace: name=quickstart, user=user-1, session=session-42, tags=[demo, docs]
└─ cache_hit [event]

"
    );
    assert_eq!(exporter.buffer.len(), 0);
    // The root arrives later and says where its children went.
    exporter.export_round(&[root]).unwrap();
    assert_eq!(
        buf.take(),
        "\
trace 4bf92f3577b34da6a3ce929d0e0e4736 (1 observation)
pipeline [span] 12.500 ms  (+2 children printed earlier)
  input: {\"question\":\"What is Rust?\"}
  output: A systems programming language.
  trace: name=quickstart, user=user-1, session=session-42, tags=[demo, docs]

"
    );
}

#[test]
fn shutdown_prints_what_is_left() {
    let (mut exporter, buf) = exporter();
    exporter.export_round(&[rec(2, Some(1), "orphan", ObservationType::Span, 0, 5_000)]).unwrap();
    exporter.shutdown().unwrap();
    assert_eq!(
        buf.take(),
        "trace 4bf92f3577b34da6a3ce929d0e0e4736 (1 observation)\n\
             orphan [span] 5.0 µs  (parent not finished)\n\n"
    );
}

#[test]
fn long_values_are_truncated_for_display_only() {
    let (mut exporter, buf) = exporter();
    let long = "x".repeat(500);
    let mut root = rec(1, None, "big", ObservationType::Span, 0, 1_000_000);
    root.input = Some(long.clone().into());
    root.output = Some("é".repeat(201).into());
    root.metadata_mut().insert("blob", format!("\"{}\"", "y".repeat(300)).into());
    exporter.export_round(std::slice::from_ref(&root)).unwrap();
    let expected = format!(
        "trace 4bf92f3577b34da6a3ce929d0e0e4736 (1 observation)\n\
             big [span] 1.000 ms\n  \
             input: {}… (500 chars)\n  \
             output: {}… (201 chars)\n  \
             metadata: {{blob: \"{}… (302 chars)}}\n\n",
        "x".repeat(200),
        "é".repeat(200),
        "y".repeat(199),
    );
    assert_eq!(buf.take(), expected);
    assert_eq!(root.input.as_deref(), Some(long.as_str()));

    let mut exporter = ConsoleExporter::new(buf.clone()).with_max_value_chars(5);
    let mut root = rec(1, None, "a\tname\u{1b}", ObservationType::Span, 0, 1_000_000);
    root.input = Some("line one\nline two".into());
    root.output = Some("\u{1b}[2J".into());
    exporter.export_round(&[root]).unwrap();
    assert_eq!(
        buf.take(),
        "trace 4bf92f3577b34da6a3ce929d0e0e4736 (1 observation)\n\
             a\\tnam… (7 chars) [span] 1.000 ms\n  \
             input: line … (17 chars)\n  \
             output: \\u{1b}[2J\n\n"
    );
}

#[test]
fn oldest_trace_is_printed_when_the_buffer_is_full() {
    let (exporter, buf) = exporter();
    let mut exporter = exporter.with_max_buffered(2);
    let other = TraceId::from_u128(7).unwrap();
    let mut b = rec(20, Some(10), "b_child", ObservationType::Span, 0, 1_000);
    b.trace_id = other;
    exporter
        .export_round(&[
            rec(2, Some(1), "a_child_1", ObservationType::Span, 0, 1_000),
            rec(3, Some(1), "a_child_2", ObservationType::Span, 5, 1_000),
        ])
        .unwrap();
    assert_eq!(buf.take(), "");
    exporter.export_round(&[b]).unwrap();
    assert_eq!(
        buf.take(),
        "\
trace 4bf92f3577b34da6a3ce929d0e0e4736 (2 observations)
a_child_1 [span] 1.0 µs  (parent not finished)
a_child_2 [span] 1.0 µs  (parent not finished)

"
    );
    assert_eq!(exporter.buffer.len(), 1);
    exporter.force_flush().unwrap();
    assert!(buf.take().starts_with("trace 00000000000000000000000000000007 (1 observation)\n"));
}

#[test]
fn late_child_names_its_printed_parent() {
    let (mut exporter, buf) = exporter();
    exporter.export_round(&[rec(1, None, "handler", ObservationType::Span, 0, 1_000_000)]).unwrap();
    buf.take();
    // A detached task that outlived its parent, with a child of its own.
    exporter
        .export_round(&[
            rec(3, Some(2), "write", ObservationType::Span, 1_200, 300_000),
            rec(2, Some(1), "background", ObservationType::Span, 1_100, 5_000_000),
        ])
        .unwrap();
    assert_eq!(
        buf.take(),
        "\
trace 4bf92f3577b34da6a3ce929d0e0e4736 (2 observations)
background [span] 5.000 ms  (parent handler printed earlier)
└─ write [span] 300.0 µs

"
    );
    assert_eq!(exporter.buffer.len(), 0);
}

#[test]
fn remote_and_explicit_parents_are_roots() {
    let (mut exporter, buf) = exporter();
    let mut remote = rec(2, Some(0xabc), "server", ObservationType::Span, 0, 3_000_000);
    remote.parent_is_remote = true;
    let mut explicit = rec(4, Some(0xdef), "job", ObservationType::Chain, 0, 1_000_000);
    explicit.as_root = true;
    explicit.trace_public = true;
    exporter
        .export_round(&[rec(3, Some(2), "work", ObservationType::Span, 10, 1_000_000), remote])
        .unwrap();
    exporter.export_round(&[explicit]).unwrap();
    assert_eq!(
        buf.take(),
        "\
trace 4bf92f3577b34da6a3ce929d0e0e4736 (2 observations)
server [span] 3.000 ms  (remote parent 0000000000000abc)
└─ work [span] 1.000 ms

trace 4bf92f3577b34da6a3ce929d0e0e4736 (1 observation)
job [chain] 1.000 ms  (parent 0000000000000def from trace context)
  trace: public

"
    );
}

#[test]
fn trace_attributes_are_repeated_only_when_they_change() {
    let (mut exporter, buf) = exporter();
    let first = Arc::new(TraceAttributes { user_id: Some("u1".into()), ..Default::default() });
    let mut metadata = Metadata::default();
    metadata.insert("tier", "\"gold\"".into());
    let second = Arc::new(TraceAttributes {
        user_id: Some("u1".into()),
        session_id: Some("s1".into()),
        environment: Some("staging".into()),
        version: Some("1.2".into()),
        prompt_name: Some("qa".into()),
        prompt_version: Some(2),
        metadata,
        ..Default::default()
    });
    let mut same = rec(2, Some(1), "same", ObservationType::Span, 1, 1_000);
    same.trace = Some(Arc::new((*first).clone()));
    let mut changed = rec(3, Some(1), "changed", ObservationType::Span, 2, 1_000);
    changed.trace = Some(second);
    changed.set_version(Some("v7".into()));
    changed.set_metadata_value(Some("[1,2]".into()));
    let mut root = rec(1, None, "root", ObservationType::Span, 0, 1_000_000);
    root.trace = Some(first);
    exporter.export_round(&[same, changed, root]).unwrap();
    assert_eq!(
        buf.take(),
        "\
trace 4bf92f3577b34da6a3ce929d0e0e4736 (3 observations)
root [span] 1.000 ms
│ trace: user=u1
├─ same [span] 1.0 µs
└─ changed [span] 1.0 µs
     metadata: [1,2]
     version: v7
     trace: user=u1, session=s1, env=staging, version=1.2, prompt=qa v2, metadata={tier: \"gold\"}

"
    );
}

#[test]
fn traces_are_flushed_oldest_first_and_cycles_terminate() {
    let (mut exporter, buf) = exporter();
    let other = TraceId::from_u128(1).unwrap();
    let mut x = rec(10, Some(11), "x", ObservationType::Span, 0, 1_000);
    x.trace_id = other;
    let mut y = rec(11, Some(10), "y", ObservationType::Span, 1, 1_000);
    y.trace_id = other;
    let mut selfish = rec(12, Some(12), "self", ObservationType::Span, 2, 1_000);
    selfish.trace_id = other;
    exporter.export_round(&[x, y, selfish]).unwrap();
    exporter.export_round(&[rec(2, Some(1), "later", ObservationType::Span, 0, 1_000)]).unwrap();
    exporter.force_flush().unwrap();
    assert_eq!(
        buf.take(),
        "\
trace 00000000000000000000000000000001 (3 observations)
x [span] 1.0 µs
└─ y [span] 1.0 µs
self [span] 1.0 µs

trace 4bf92f3577b34da6a3ce929d0e0e4736 (1 observation)
later [span] 1.0 µs  (parent not finished)

"
    );
}

#[test]
fn deep_chains_do_not_overflow() {
    let (mut exporter, buf) = exporter();
    let depth: usize = 5_000;
    let records: Vec<_> = (2..=depth)
        .rev()
        .map(|n| n as u64)
        .map(|n| rec(n, Some(n - 1), "step", ObservationType::Span, n, 1_000))
        .chain([rec(1, None, "top", ObservationType::Span, 0, 1_000)])
        .collect();
    exporter.export_round(&records).unwrap();
    let out = buf.take();
    assert_eq!(out.lines().count(), depth + 2);
    let widest = out.lines().map(|l| l.chars().count()).max().unwrap();
    assert!(widest < 3 * MAX_INDENT_DEPTH + 40, "{widest}");
}

#[test]
fn write_errors_are_returned_not_panicked() {
    struct Broken;
    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::new(io::ErrorKind::BrokenPipe, "pipe closed"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut exporter = ConsoleExporter::new(Broken);
    let err = exporter.export_round(&pipeline_records()).unwrap_err();
    assert_eq!(err, ExportError::Other("console exporter: write failed: pipe closed".into()));
    assert_eq!(exporter.buffer.len(), 0);
    assert_eq!(exporter.export_round(&[]), Ok(()));
    assert_eq!(exporter.force_flush(), Ok(()));
}

#[test]
fn color_output_styles_names_types_and_levels() {
    let buf = SharedBuf::default();
    let mut exporter = ConsoleExporter::new(buf.clone()).with_color(true);
    let mut root = rec(1, None, "boom", ObservationType::Generation, 0, 1_000);
    root.level = Some(Level::Error);
    root.input = Some("hi".into());
    exporter.export_round(&[root]).unwrap();
    assert_eq!(
        buf.take(),
        "\x1b[1mtrace 4bf92f3577b34da6a3ce929d0e0e4736\x1b[0m \x1b[2m(1 observation)\x1b[0m\n\
             \x1b[1mboom\x1b[0m \x1b[35m[generation]\x1b[0m 1.0 µs  \x1b[1;31mERROR\x1b[0m\n\
             \x1b[2m  \x1b[0m\x1b[2minput:\x1b[0m hi\n\n"
    );
}

#[test]
fn a_completion_start_before_the_start_is_shown_as_a_date() {
    let (mut exporter, buf) = exporter();
    let mut g = rec(1, None, "gen", ObservationType::Generation, 0, 1_000);
    *g.generation_mut() =
        GenerationFields { completion_start_time: Some(T0 - 1_000_000_000), ..Default::default() };
    exporter.export_round(&[g]).unwrap();
    let out = buf.take();
    assert!(out.contains("completion start: 2025-01-02T03:04:04"), "{out}");
}

#[test]
fn a_root_ahead_of_its_children_in_one_batch_prints_one_tree() {
    let (mut exporter, buf) = exporter();
    let mut records = pipeline_records();
    // Threads' buffers are swept one after another: the root's may come first.
    records.reverse();
    exporter.export_round(&records).unwrap();
    assert_eq!(buf.take(), PIPELINE_TREE);
    assert_eq!(exporter.buffer.len(), 0);
}

#[test]
fn a_finished_root_waits_while_a_grandchild_waits_for_its_parent() {
    let (mut exporter, buf) = exporter();
    let mut records = pipeline_records();
    let root = records.pop().unwrap();
    let chat = records.pop().unwrap();
    let hit = records.pop().unwrap();
    let db = records.pop().unwrap();
    let connect = records.pop().unwrap();
    // `connect` waits for `db`, still in another thread's buffer: the root's tree is held.
    exporter.export_round(&[connect, root, hit]).unwrap();
    assert_eq!(buf.take(), "");
    assert_eq!(exporter.buffer.len(), 3);
    exporter.export_round(&[chat, db]).unwrap();
    assert_eq!(buf.take(), PIPELINE_TREE);
    assert_eq!(exporter.buffer.len(), 0);
}

#[test]
fn a_held_root_is_printed_at_shutdown_with_what_waits_beside_it() {
    let (mut exporter, buf) = exporter();
    exporter
        .export_round(&[
            rec(3, Some(2), "orphan", ObservationType::Span, 10, 1_000),
            rec(1, None, "root", ObservationType::Span, 0, 1_000_000),
        ])
        .unwrap();
    assert_eq!(buf.take(), "");
    exporter.shutdown().unwrap();
    assert_eq!(
        buf.take(),
        "\
trace 4bf92f3577b34da6a3ce929d0e0e4736 (2 observations)
root [span] 1.000 ms
orphan [span] 1.0 µs  (parent not finished)

"
    );
    assert_eq!(exporter.buffer.len(), 0);
}

#[test]
fn a_root_and_its_child_in_two_batches_of_one_round_print_one_tree() {
    let (mut exporter, buf) = exporter();
    // The root's thread buffer was handed over first, the worker's swept after it.
    exporter.export(&[rec(1, None, "request", ObservationType::Span, 0, 2_000_000)]).unwrap();
    assert_eq!(buf.take(), "", "nothing is printed before the round ends");
    exporter.export(&[rec(2, Some(1), "spawned", ObservationType::Tool, 100, 500_000)]).unwrap();
    exporter.end_of_round().unwrap();
    assert_eq!(
        buf.take(),
        "\
trace 4bf92f3577b34da6a3ce929d0e0e4736 (2 observations)
request [span] 2.000 ms
└─ spawned [tool] 500.0 µs

"
    );
    assert_eq!(exporter.buffer.len(), 0);
}
