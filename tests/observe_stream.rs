//! `#[observe]` on functions returning `impl Iterator` and `impl Stream`: observed until the
//! sequence ends, fails or is dropped; items aggregated into the output.

mod support;

use futures::{Stream, StreamExt, stream};
use langfuse_runtime::{Level, observe};
use serde::Serialize;
use support::{assert_child, record, record_with};

#[observe]
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(' ').map(|w| {
        child(w.len());
        format!("{w} ")
    })
}

#[observe]
fn child(n: usize) -> usize {
    n
}

#[derive(Serialize, Clone, Debug)]
struct Chunk {
    i: u32,
}

#[observe]
fn chunks(n: u32) -> impl Iterator<Item = Chunk> {
    (0..n).map(|i| Chunk { i })
}

fn join_ids(items: &[Chunk]) -> String {
    items.iter().map(|c| c.i.to_string()).collect::<Vec<_>>().join("|")
}

#[observe(transform_to_string = join_ids)]
fn transformed(n: u32) -> impl Iterator<Item = Chunk> {
    (0..n).map(|i| Chunk { i })
}

#[test]
fn iterator_items_are_concatenated_or_an_array_and_children_nest_under_it() {
    let (collected, records) = record(|| {
        let out: String = words("a bb").collect();
        let chunks: Vec<_> = chunks(2).collect();
        let t: Vec<_> = transformed(3).collect();
        (out, chunks.len(), t.len())
    });
    assert_eq!(collected, ("a bb ".to_owned(), 2, 3));
    let words = records.one("words");
    assert_eq!(words.input.as_deref(), Some(r#"{"text":"a bb"}"#));
    assert_eq!(words.output.as_deref(), Some("a bb "));
    let children = records.all("child");
    assert_eq!(children.len(), 2);
    for c in children {
        assert_child(c, words);
    }
    assert_eq!(records.one("chunks").output.as_deref(), Some(r#"[{"i":0},{"i":1}]"#));
    assert_eq!(records.one("transformed").output.as_deref(), Some("0|1|2"));
}

#[observe]
fn countdown(n: u32) -> impl DoubleEndedIterator<Item = u32> + ExactSizeIterator {
    (1..n + 1).inspect(|i| {
        child(*i as usize);
    })
}

#[test]
fn double_ended_and_exact_size_iterators_are_observed_like_any_iterator() {
    let (taken, records) = record(|| {
        let mut it = countdown(4);
        assert_eq!(it.len(), 4);
        let taken = (it.next_back(), it.next(), it.next_back());
        assert_eq!(it.len(), 1);
        let rest: Vec<u32> = it.rev().collect();
        (taken, rest)
    });
    assert_eq!(taken, ((Some(4), Some(1), Some(3)), vec![2]));
    let countdown = records.one("countdown");
    assert_eq!(countdown.input.as_deref(), Some(r#"{"n":4}"#));
    // In the order they were taken, from either end.
    assert_eq!(countdown.output.as_deref(), Some("[4,1,3,2]"));
    let children = records.all("child");
    assert_eq!(children.len(), 4);
    for c in children {
        assert_child(c, countdown);
    }
}

#[test]
fn an_iterator_observation_lasts_until_exhausted_or_dropped() {
    let (_, records) = record(|| {
        let mut it = chunks(5);
        it.next();
        it.next();
        drop(it);
        let empty: Vec<_> = words("").collect();
        assert_eq!(empty, [" "]);
        let _unused = chunks(3);
    });
    let all = records.all("chunks");
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].output.as_deref(), Some(r#"[{"i":0},{"i":1}]"#));
    assert_eq!(all[0].level, None);
    assert_eq!(all[1].output.as_deref(), Some(""));
}

#[observe]
fn results(fail_at: u32) -> impl Iterator<Item = Result<u32, String>> {
    (0..3).map(move |i| if i == fail_at { Err(format!("bad item {i}")) } else { Ok(i) })
}

#[observe]
fn exploding() -> impl Iterator<Item = u32> {
    (0..3).map(|i| if i == 1 { panic!("iterator boom") } else { i })
}

#[test]
fn err_items_and_panics_mark_the_observation_failed() {
    let (_, records) = record(|| {
        let _: Vec<_> = results(1).collect();
        let caught = std::panic::catch_unwind(|| exploding().count());
        assert!(caught.is_err());
    });
    let r = records.one("results");
    assert_eq!(r.level, Some(Level::Error));
    assert_eq!(r.status_message(), Some("bad item 1"));
    assert_eq!(r.output.as_deref(), Some("[0,2]"));
    let e = records.one("exploding");
    assert_eq!(e.level, Some(Level::Error));
    assert_eq!(e.status_message(), Some("iterator boom"));
    assert_eq!(e.output.as_deref(), Some("[0]"));
}

#[observe(as_type = "generation")]
fn tokens(prompt: String) -> impl Stream<Item = String> {
    stream::iter(prompt.split(' ').map(str::to_owned).collect::<Vec<_>>()).then(|w| async move {
        child(w.len());
        tokio::task::yield_now().await;
        w
    })
}

#[observe(transform_to_string = |items: &[u32]| format!("{} items", items.len()))]
fn numbers() -> impl Stream<Item = u32> {
    stream::iter(vec![1, 2, 3])
}

#[test]
fn streams_are_observed_while_polled() {
    let (out, records) = record(|| {
        futures::executor::block_on(async {
            let words: Vec<_> = tokens("hello big world".into()).collect().await;
            let n: Vec<_> = numbers().collect().await;
            (words.concat(), n.len())
        })
    });
    assert_eq!(out, ("hellobigworld".to_owned(), 3));
    let t = records.one("tokens");
    assert_eq!(t.input.as_deref(), Some(r#"{"prompt":"hello big world"}"#));
    assert_eq!(t.output.as_deref(), Some("hellobigworld"));
    let children = records.all("child");
    assert_eq!(children.len(), 3);
    for c in children {
        assert_child(c, t);
    }
    assert_eq!(records.one("numbers").output.as_deref(), Some("3 items"));
}

#[test]
fn a_dropped_stream_ends_its_observation() {
    let (_, records) = record(|| {
        futures::executor::block_on(async {
            let mut s = Box::pin(tokens("a b c".into()));
            s.next().await;
        })
    });
    assert_eq!(records.one("tokens").output.as_deref(), Some("a"));
}

#[test]
fn capture_off_records_no_items_but_still_errors() {
    let (_, records) = record_with(
        |b| b.io_capture_enabled(false),
        || {
            let _: Vec<_> = results(0).collect();
        },
    );
    let r = records.one("results");
    assert_eq!(r.output, None);
    assert_eq!(r.input, None);
    assert_eq!(r.status_message(), Some("bad item 0"));
}
