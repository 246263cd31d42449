//! Every observation is accounted for: `created = exported + dropped + failed +
//! lost_at_shutdown + pending` at all times, with many threads against a slow, a dead and a
//! refusing loopback endpoint; flush and shutdown report what happened and are no success
//! when anything was lost.

mod support;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use langfuse_runtime::export::ExportStats;
use langfuse_runtime::{Config, ConfigBuilder, Langfuse, observe};
use support::{OtlpReceiver, PUBLIC_KEY, Reply, SECRET_KEY, exclusive};

const THREADS: usize = 8;

#[observe]
fn work(i: usize) -> usize {
    i + 1
}

fn client(base_url: String, configure: impl FnOnce(ConfigBuilder) -> ConfigBuilder) -> Langfuse {
    let builder = Config::builder()
        .env_source(|_| None)
        .public_key(PUBLIC_KEY)
        .secret_key(SECRET_KEY)
        .base_url(base_url)
        .flush_interval(Duration::from_millis(50))
        .timeout(Duration::from_millis(300));
    configure(builder).init().expect("valid test configuration")
}

fn accounted(s: &ExportStats) -> u64 {
    s.exported + s.dropped + s.failed + s.lost_at_shutdown + s.queued
}

/// Runs `per_thread` observed calls on each of `THREADS` threads while the main thread keeps
/// checking that no snapshot counts more observations than were created.
fn produce(langfuse: &Langfuse, per_thread: usize) {
    let producers: Vec<_> = (0..THREADS)
        .map(|_| {
            std::thread::spawn(move || {
                for i in 0..per_thread {
                    assert_eq!(work(i), i + 1);
                }
            })
        })
        .collect();
    let until = Instant::now() + Duration::from_secs(10);
    while producers.iter().any(|p| !p.is_finished()) && Instant::now() < until {
        let s = langfuse.stats();
        assert!(accounted(&s) <= s.created, "a snapshot counted a record twice: {s:?}");
        // `created` itself may run ahead by the records in motion (read from a thread buffer
        // and from the counter it just moved to), so it is only checked once producers stop.
        std::thread::sleep(Duration::from_millis(1));
    }
    for p in producers {
        p.join().expect("producer");
    }
}

fn assert_identity(s: &ExportStats, created: usize) {
    assert_eq!(s.created, created as u64, "{s:?}");
    assert_eq!(accounted(s), s.created, "{s:?}");
    assert_eq!(s.dropped, s.dropped_by.total(), "{s:?}");
}

#[test]
fn slow_endpoint_with_a_small_queue_accounts_for_every_observation() {
    let _serial = exclusive();
    let receiver = OtlpReceiver::start();
    // 100 observations per 150 ms: the 3,000 queued take ~4.5 s, longer than the flush and
    // shutdown deadlines (0.3 s × 2 + 1 s each), so some are dropped, some exported, some lost.
    receiver.set_default_reply(Reply::ok().delay(Duration::from_millis(150)));
    let langfuse = client(receiver.base_url(), |b| b.flush_at(100).max_queue_size(3_000));
    let created = THREADS * 2_500;
    produce(&langfuse, 2_500);

    let s = langfuse.stats();
    assert_identity(&s, created);
    assert!(s.dropped_by.queue_full_count > 0, "{s:?}");

    let flush = langfuse.flush();
    assert!(flush.deadline_hit, "{flush}");
    assert!(!flush.is_success(), "{flush}");
    assert!(flush.pending > 0, "{flush}");
    assert_eq!(flush.dropped, s.dropped, "the first report covers everything so far");

    let started = Instant::now();
    let shutdown = langfuse.shutdown();
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
    assert!(shutdown.deadline_hit && !shutdown.is_success(), "{shutdown}");
    assert!(shutdown.lost_at_shutdown > 0, "{shutdown}");
    // What shutdown could not send is counted lost; only a request already on the wire when
    // the deadline passed may still be pending.
    assert!(shutdown.pending <= 100, "{shutdown}");
    assert_eq!(shutdown.dropped, 0, "drops were reported by the flush: {shutdown}");

    let total_exported = flush.exported + shutdown.exported;
    // Exported means the server has it; nothing else arrived but that last request.
    let arrived = receiver.spans().len() as u64;
    assert!((total_exported..=total_exported + shutdown.pending).contains(&arrived), "{arrived}");
    assert_eq!(
        total_exported
            + shutdown.pending
            + s.dropped
            + flush.failed
            + shutdown.failed
            + flush.lost_at_shutdown
            + shutdown.lost_at_shutdown,
        created as u64,
        "flush {flush}, shutdown {shutdown}"
    );
}

#[test]
fn dead_endpoint_accounts_for_every_observation_and_shutdown_counts_what_it_abandons() {
    let _serial = exclusive();
    let dead = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    };
    let langfuse = client(format!("http://{dead}"), |b| b.flush_at(50));
    let created = THREADS * 1_000;
    produce(&langfuse, 1_000);
    assert_identity(&langfuse.stats(), created);

    let flush = langfuse.flush();
    assert!(!flush.is_success(), "nothing can be delivered: {flush}");
    assert_eq!(flush.exported, 0, "{flush}");

    let started = Instant::now();
    let shutdown = langfuse.shutdown();
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
    assert!(!shutdown.is_success(), "{shutdown}");
    assert_eq!(shutdown.exported, 0);
    assert_eq!(shutdown.pending, 0, "{shutdown}");
    assert_eq!(
        flush.failed + shutdown.failed + flush.lost_at_shutdown + shutdown.lost_at_shutdown,
        created as u64,
        "flush {flush}, shutdown {shutdown}"
    );
}

#[test]
fn refused_with_401_flush_is_not_a_success() {
    let _serial = exclusive();
    let receiver = OtlpReceiver::start();
    receiver.set_default_reply(Reply::status(401).body("invalid credentials"));
    let langfuse = client(receiver.base_url(), |b| b.flush_at(100));
    produce(&langfuse, 100);
    let flush = langfuse.flush();
    assert!(!flush.deadline_hit, "401 is not retried: {flush}");
    assert!(!flush.is_success(), "{flush}");
    assert_eq!((flush.exported, flush.failed), (0, (THREADS * 100) as u64), "{flush}");
    let s = langfuse.stats();
    assert_identity(&s, THREADS * 100);
    assert_eq!(s.queued, 0);
    let shutdown = langfuse.shutdown();
    assert!(shutdown.is_success(), "nothing was left for shutdown: {shutdown}");
    assert_eq!(shutdown.exported + shutdown.failed, 0);
}

#[test]
fn stats_count_records_still_in_thread_buffers() {
    let _serial = exclusive();
    let receiver = OtlpReceiver::start();
    let langfuse = client(receiver.base_url(), |b| b.flush_interval(Duration::from_secs(3600)));
    let (done, wait) = std::sync::mpsc::channel::<()>();
    let (started, ready) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        for i in 0..10 {
            work(i);
        }
        started.send(()).expect("main waits");
        // Stay alive, so the ten stay in this thread's buffer until a sweep.
        let _ = wait.recv_timeout(Duration::from_secs(10));
    });
    ready.recv_timeout(Duration::from_secs(5)).expect("the thread ran");
    let s = langfuse.stats();
    assert_eq!((s.created, s.queued, s.exported), (10, 10, 0), "{s:?}");

    let flush = langfuse.flush();
    assert!(flush.is_success(), "{flush}");
    assert_eq!((flush.exported, flush.pending), (10, 0), "{flush}");
    drop(done);
    holder.join().expect("holder");
    assert_eq!(receiver.spans().len(), 10);
    assert_identity(&langfuse.stats(), 10);
}

#[test]
fn a_retry_after_pending_at_shutdown_is_counted_lost_not_silently_dropped() {
    let _serial = exclusive();
    let receiver = OtlpReceiver::start();
    receiver.set_default_reply(Reply::status(429).retry_after("30"));
    let langfuse = client(receiver.base_url(), |b| b.flush_interval(Duration::from_secs(3600)));
    for i in 0..20 {
        work(i);
    }
    let started = Instant::now();
    let shutdown = langfuse.shutdown();
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
    assert!(shutdown.deadline_hit && !shutdown.is_success(), "{shutdown}");
    assert_eq!(shutdown.lost_at_shutdown, 20, "{shutdown}");
    assert_eq!((shutdown.exported, shutdown.failed, shutdown.pending), (0, 0, 0), "{shutdown}");
    assert!(receiver.request_count() >= 1, "the first attempt was made");
}

#[observe]
fn big(input: &str) -> usize {
    input.len()
}

#[test]
fn an_outage_with_large_inputs_is_bounded_in_bytes_and_drops_are_counted_by_reason() {
    let _serial = exclusive();
    let dead = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    };
    let max_queue_bytes = 1 << 20;
    let langfuse = client(format!("http://{dead}"), |b| {
        b.max_queue_bytes(max_queue_bytes).flush_interval(Duration::from_secs(3600))
    });
    let input = "x".repeat(16 * 1024);
    let producers: Vec<_> = (0..4)
        .map(|_| {
            let input = input.clone();
            std::thread::spawn(move || {
                for _ in 0..500 {
                    assert_eq!(big(&input), input.len());
                }
            })
        })
        .collect();
    for p in producers {
        p.join().expect("producer");
    }
    let s = langfuse.stats();
    assert_identity(&s, 2_000);
    assert!(s.dropped_by.queue_full_bytes > 1_000, "{s:?}");
    assert_eq!(s.dropped_by.queue_full_count, 0, "the count bound is far: {s:?}");
    // What waits (in the queue and the request being retried) stays near the byte bound, each
    // observation being a bit over 16 KiB.
    let held = (s.queued + s.exported + s.failed) as usize;
    assert!(held * input.len() <= max_queue_bytes + 8 * input.len(), "{s:?}");

    let shutdown = langfuse.shutdown();
    assert!(!shutdown.is_success(), "{shutdown}");
    assert_eq!(shutdown.dropped, s.dropped, "{shutdown}");
    assert_eq!(shutdown.pending, 0, "{shutdown}");
}

#[test]
fn a_burst_of_200000_small_observations_is_delivered_at_default_settings() {
    let _serial = exclusive();
    let receiver = OtlpReceiver::start();
    // Default queue bounds, batch size and timeouts; uncompressed only so that the unoptimized
    // test build encodes fast enough for the flush deadline.
    let langfuse = Config::builder()
        .env_source(|_| None)
        .public_key(PUBLIC_KEY)
        .secret_key(SECRET_KEY)
        .base_url(receiver.base_url())
        .compression(langfuse_runtime::Compression::None)
        .init()
        .expect("valid configuration");
    let created = 200_000;
    let producers: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                for i in 0..created / 4 {
                    work(i);
                }
            })
        })
        .collect();
    for p in producers {
        p.join().expect("producer");
    }
    // Zero drops is the point; a loaded machine may need a second flush to send it all.
    let (mut exported, mut flushes) = (0, 0);
    loop {
        let flush = langfuse.flush();
        flushes += 1;
        assert_eq!((flush.dropped, flush.failed), (0, 0), "{flush}");
        exported += flush.exported;
        if flush.pending == 0 || flushes == 3 {
            assert!(flush.is_success(), "{flush}");
            break;
        }
    }
    assert_eq!(exported, created as u64);
    assert_identity(&langfuse.stats(), created);
    let arrived: usize = receiver.requests().iter().map(|r| r.spans().len()).sum();
    assert_eq!(arrived, created);
}

#[test]
fn global_shutdown_flushes_the_installed_client_and_counts_later_observations() {
    let _serial = exclusive();
    let receiver = OtlpReceiver::start();
    // As if kept in a `static`: the handle is never dropped before the end.
    let kept = client(receiver.base_url(), |b| b.flush_interval(Duration::from_secs(3600)));
    for i in 0..10 {
        work(i);
    }
    let open = langfuse_runtime::span("outlives the client").start();
    let report = langfuse_runtime::shutdown();
    assert!(report.is_success(), "{report}");
    assert_eq!((report.exported, report.pending), (10, 0), "{report}");
    assert_eq!(receiver.spans().len(), 10);
    assert!(!kept.is_recording());
    assert!(!langfuse_runtime::span("after").start().is_recording(), "nothing is installed");

    open.end();
    let s = kept.stats();
    assert_eq!(s.dropped_by.after_shutdown, 1, "{s:?}");
    assert_identity(&s, 11);
    assert!(langfuse_runtime::shutdown().is_success(), "a second call finds nothing to do");
    let late = kept.flush();
    assert!(!late.deadline_hit && late.pending == 0, "a flush after shutdown waits for nothing");
    assert_eq!(late.dropped, 1, "and reports the drop since the last report: {late}");
    drop(kept);
    assert_eq!(receiver.spans().len(), 10);
}

#[test]
fn init_twice_flushes_and_replaces_the_first_client_and_recording_goes_on() {
    let _serial = exclusive();
    let (first_receiver, second_receiver) = (OtlpReceiver::start(), OtlpReceiver::start());
    let no_tick = |b: ConfigBuilder| b.flush_interval(Duration::from_secs(3600));
    let first = client(first_receiver.base_url(), no_tick);
    for i in 0..5 {
        work(i);
    }
    let second = client(second_receiver.base_url(), no_tick);
    // The first client was flushed and shut down by the second init.
    assert_eq!(first_receiver.spans().len(), 5);
    assert!(!first.is_recording() && second.is_recording());
    let s = first.stats();
    assert_eq!((s.exported, s.queued), (5, 0), "{s:?}");

    // Dropping the old handle changes nothing for the new client.
    drop(first);
    for i in 0..3 {
        work(i);
    }
    let report = second.shutdown();
    assert_eq!(report.exported, 3, "{report}");
    assert_eq!(second_receiver.spans().len(), 3);
    assert_eq!(first_receiver.spans().len(), 5);
}

/// The child half of `process_exit_loses_what_only_a_global_shutdown_saves`: records ten
/// observations, optionally calls the global `shutdown()`, then `process::exit`s.
#[test]
#[ignore = "runs as a child process of process_exit_loses_what_only_a_global_shutdown_saves"]
fn child_records_then_exits() {
    let url = std::env::var("ACCOUNTING_CHILD_URL").expect("run by the parent test");
    let _kept = Box::leak(Box::new(client(url, |b| b.flush_interval(Duration::from_secs(3600)))));
    for i in 0..10 {
        work(i);
    }
    if std::env::var_os("ACCOUNTING_CHILD_SHUTDOWN").is_some() {
        assert!(langfuse_runtime::shutdown().is_success());
    }
    std::process::exit(0);
}

#[test]
fn process_exit_loses_what_only_a_global_shutdown_saves() {
    let _serial = exclusive();
    for (shutdown, expected) in [(false, 0), (true, 10)] {
        let receiver = OtlpReceiver::start();
        let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"));
        child
            .args(["--exact", "child_records_then_exits", "--ignored", "--nocapture"])
            .env("ACCOUNTING_CHILD_URL", receiver.base_url());
        if shutdown {
            child.env("ACCOUNTING_CHILD_SHUTDOWN", "1");
        }
        let status = child.status().expect("child runs");
        assert!(status.success(), "{status}");
        assert_eq!(receiver.spans().len(), expected, "shutdown() called: {shutdown}");
    }
}
