//! Shared pieces of the benchmarks in `benches/benches/` (see `BENCHMARKS.md`).
//!
//! The observed functions of A, E, F and G live here, in one place, so that the timing run
//! (`hot_path`), the allocation count (`allocs`) and the end-to-end burst (`end_to_end`) measure
//! exactly the same code. `bare_add` is the same function without instrumentation.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use langfuse_runtime::export::{ExportError, SpanExporter};
use langfuse_runtime::{Config, Langfuse, ObservationRecord};
use serde::Serialize;

pub mod observed;

pub use observed::{
    IMPLEMENTATION, observed_add, observed_add_async, observed_answer, observed_len,
};

/// The function every row instruments. Not inlined, so the bare row keeps a real call.
#[inline(never)]
pub fn bare_add(a: i64, b: i64) -> i64 {
    a.wrapping_add(b)
}

/// The G workload without instrumentation.
#[inline(never)]
pub fn bare_len(s: &str) -> usize {
    s.len()
}

/// Input of `add` as `#[observe]` captures it: `{"a":1,"b":2}`.
#[derive(Serialize)]
pub struct AddInput {
    /// First argument.
    pub a: i64,
    /// Second argument.
    pub b: i64,
}

/// An exporter that counts what it receives: every span reaches it, nothing leaves the process.
#[derive(Clone, Default)]
pub struct CountingExporter {
    /// Observations received so far.
    pub received: Arc<AtomicU64>,
}

impl CountingExporter {
    /// Observations received so far.
    pub fn count(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }
}

impl SpanExporter for CountingExporter {
    fn export(&mut self, batch: &[ObservationRecord]) -> Result<(), ExportError> {
        self.received.fetch_add(batch.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

/// The clients the rows run under. Each installs itself as the global client.
pub mod clients {
    use super::*;

    /// Recording, with only the counting exporter (no keys, nothing leaves the process).
    pub fn counting(exporter: &CountingExporter) -> Langfuse {
        let exporter = exporter.clone();
        Config::builder()
            .env_source(|_| None)
            .exporter(move || exporter.clone())
            .init()
            .expect("valid configuration")
    }

    /// [`counting`] with a queue bound of 4 GiB: row G's 100 KB values outrun the default 64 MiB
    /// byte bound (and would be dropped, counted), while the row must lose nothing.
    pub fn counting_large_values(exporter: &CountingExporter) -> Langfuse {
        let exporter = exporter.clone();
        Config::builder()
            .env_source(|_| None)
            .max_queue_bytes(4 << 30)
            .exporter(move || exporter.clone())
            .init()
            .expect("valid configuration")
    }

    /// [`counting`] with count and byte bounds far above a run's calls: with 8 producer
    /// threads (or 64 tasks) on 2 cores the export thread gets a ninth of the CPU, falls behind
    /// and, at the default 262,144 observations, drops (counted) — the rows A8 and F64 measure
    /// the producers and must lose nothing, so the backlog waits in memory instead.
    pub fn counting_unbounded(exporter: &CountingExporter) -> Langfuse {
        let exporter = exporter.clone();
        Config::builder()
            .env_source(|_| None)
            .max_queue_size(1 << 28)
            .max_queue_bytes(16 << 30)
            .exporter(move || exporter.clone())
            .init()
            .expect("valid configuration")
    }

    /// E1: no keys and no exporter: the client records nothing.
    pub fn no_keys() -> Langfuse {
        Config::builder().env_source(|_| None).init().expect("valid configuration")
    }

    /// E2: keys present, `tracing_enabled(false)`.
    pub fn tracing_disabled() -> Langfuse {
        Config::builder()
            .env_source(|_| None)
            .public_key("pk-lf-bench")
            .secret_key("sk-lf-bench")
            .base_url("http://127.0.0.1:9")
            .tracing_enabled(false)
            .init()
            .expect("valid configuration")
    }

    /// E3: recording client (counting exporter) with `sample_rate(0.0)`: every trace is unsampled.
    pub fn unsampled(exporter: &CountingExporter) -> Langfuse {
        let exporter = exporter.clone();
        Config::builder()
            .env_source(|_| None)
            .exporter(move || exporter.clone())
            .sample_rate(0.0)
            .init()
            .expect("valid configuration")
    }
}

/// `target/langfuse-bench/`: where the bench targets leave their JSON results for the report.
pub fn results_dir() -> PathBuf {
    let dir = target_dir().join("langfuse-bench");
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// The cargo target directory the running bench binary was built into.
pub fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    // target/<profile>/deps/<bench>-<hash>
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(PathBuf::from))
        .filter(|p| p.join("CACHEDIR.TAG").exists() || p.ends_with("target"))
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// Writes `value` as pretty JSON to `results_dir()/name`.
pub fn write_result(name: &str, value: &serde_json::Value) {
    let path = results_dir().join(name);
    let text = serde_json::to_string_pretty(value).expect("JSON");
    if let Err(e) = std::fs::write(&path, text) {
        eprintln!("could not write {}: {e}", path.display());
    }
}

/// Peak resident set size of this process (`VmHWM`), in KiB.
pub fn peak_rss_kib() -> Option<u64> {
    proc_status_kib("VmHWM:")
}

/// Current resident set size of this process (`VmRSS`), in KiB.
pub fn rss_kib() -> Option<u64> {
    proc_status_kib("VmRSS:")
}

/// Resets `VmHWM` to the current RSS (Linux `clear_refs` = 5).
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..].trim().trim_end_matches("kB").trim().parse().ok()
}

/// CPU time each live thread of process `pid` has run so far, from
/// `/proc/<pid>/task/<tid>/schedstat` (nanoseconds, scheduler-exact): `(tid, name, ns)`.
/// Empty where `/proc` is missing.
pub fn thread_cpu_ns(pid: u32) -> Vec<(u32, String, u64)> {
    thread_schedstat_ns(pid, 0)
}

/// Time each live thread of process `pid` has spent runnable but waiting for a core, so far:
/// like [`thread_cpu_ns`], from the second field of `schedstat`.
pub fn thread_runqueue_ns(pid: u32) -> Vec<(u32, String, u64)> {
    thread_schedstat_ns(pid, 1)
}

fn thread_schedstat_ns(pid: u32, field: usize) -> Vec<(u32, String, u64)> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .filter_map(|task| {
            let task = task.ok()?.path();
            let tid = task.file_name()?.to_str()?.parse().ok()?;
            let name = std::fs::read_to_string(task.join("comm")).ok()?.trim_end().to_owned();
            let schedstat = std::fs::read_to_string(task.join("schedstat")).ok()?;
            let ns = schedstat.split_whitespace().nth(field)?.parse().ok()?;
            Some((tid, name, ns))
        })
        .collect()
}

/// Nanoseconds added between two snapshots of [`thread_cpu_ns`] or [`thread_runqueue_ns`] by
/// the threads `which` picks (by tid and name); threads born in between count from zero.
pub fn ns_between(
    before: &[(u32, String, u64)],
    after: &[(u32, String, u64)],
    which: impl Fn(u32, &str) -> bool,
) -> u64 {
    after
        .iter()
        .filter(|(tid, name, _)| which(*tid, name))
        .map(|(tid, _, ns)| {
            let earlier = before.iter().find(|(t, _, _)| t == tid).map_or(0, |(_, _, ns)| *ns);
            ns.saturating_sub(earlier)
        })
        .sum()
}

/// Time the hypervisor ran something else while this VM's cores wanted to run (`steal` in
/// `/proc/stat`, all cores), in milliseconds at the kernel's 10 ms tick; `None` without `/proc`.
pub fn stolen_ms() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu = stat.lines().next()?;
    // cpu user nice system idle iowait irq softirq steal
    let ticks: u64 = cpu.split_whitespace().nth(8)?.parse().ok()?;
    Some(ticks * 10)
}
