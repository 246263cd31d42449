//! Collates the results of `cargo bench -p langfuse-benches` into the markdown tables of
//! BENCHMARKS.md: criterion medians from `target/criterion/hot_path/*`, and the JSON files the
//! other bench targets leave in `target/langfuse-bench/`.
//!
//! ```sh
//! cargo run --release -p langfuse-benches --bin bench-report
//! ```

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

fn main() {
    let target = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let results = target.join("langfuse-bench");
    let criterion = target.join("criterion/hot_path");
    let mut out = String::new();

    let median = |id: &str| -> Option<(f64, f64, f64)> {
        let v = read(&criterion.join(id).join("new/estimates.json"))?;
        let m = &v["median"];
        Some((
            m["point_estimate"].as_f64()?,
            m["confidence_interval"]["lower_bound"].as_f64()?,
            m["confidence_interval"]["upper_bound"].as_f64()?,
        ))
    };
    let ns = |id: &str| median(id).map(|m| m.0);
    let delivery = read(&results.join("hot_path_delivery.json"));
    let dropped = |row: &str| -> String {
        let Some(rows) = delivery.as_ref().and_then(|d| d["delivery"].as_array().cloned()) else {
            return "?".into();
        };
        rows.iter()
            .find(|r| r["row"] == row)
            .map(|r| {
                let calls = r["calls"].as_f64().unwrap_or(0.0);
                let received = r["received"].as_f64().unwrap_or(0.0);
                format!("{:.1} %", 100.0 * (calls - received).max(0.0) / calls.max(1.0))
            })
            .unwrap_or_else(|| "?".into())
    };
    let allocs = read(&results.join("allocs.json"));
    let alloc = |row: &str| -> String {
        allocs
            .as_ref()
            .and_then(|a| a["rows"].as_array().cloned())
            .and_then(|rows| rows.into_iter().find(|r| r["row"] == row))
            .map(|r| {
                format!(
                    "{:.2} ({:.2} all threads)",
                    r["caller_allocs_per_call"].as_f64().unwrap_or(f64::NAN),
                    r["all_threads_allocs_per_call"].as_f64().unwrap_or(f64::NAN)
                )
            })
            .unwrap_or_else(|| "–".into())
    };

    if let Some(d) = &delivery {
        let _ =
            writeln!(out, "Observed functions: {}\n", d["implementation"].as_str().unwrap_or("?"));
    }
    let _ = writeln!(out, "| Row | What | Median (95 % CI) | Spans lost | Allocs/call (caller) |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    let rows: [(&str, &str, &str, &str); 16] = [
        (
            "A",
            "A_langfuse_observe",
            "Langfuse `add`, nested, input+output, pipeline → counting exporter",
            "A",
        ),
        (
            "B",
            "B_otel_sdk_manual",
            "opentelemetry_sdk by hand, same attributes, default BSP → counting exporter",
            "B",
        ),
        (
            "C",
            "C_tracing_instrument_otel",
            "tracing `#[instrument(ret)]` + tracing-opentelemetry, default BSP",
            "C",
        ),
        (
            "D",
            "D_fastrace_trace",
            "fastrace `#[trace]` + same data as properties, one root per sample, every span flushed",
            "D",
        ),
        ("E0", "E0_bare_fn", "bare `add` (no attribute)", ""),
        ("E1", "E1_disabled_no_keys", "disabled: no keys", ""),
        ("E2", "E2_disabled_tracing_off", "disabled: `tracing_enabled(false)`", ""),
        (
            "E3",
            "E3_disabled_unsampled",
            "disabled: inside an unsampled trace (`sample_rate 0`)",
            "",
        ),
        ("F0", "F0_bare_async_fn", "bare `async` add, awaited on tokio current-thread", ""),
        ("F", "F_langfuse_observe_async", "Langfuse async `add`, nested, on tokio", "F"),
        ("G0", "G_bare_len_1KB", "bare `len(s)`, 1 KB string", ""),
        ("G1", "G_serde_json_only_1KB", "`serde_json::to_string` of the 1 KB string alone", ""),
        ("G", "G_langfuse_capture_1KB", "Langfuse `len(s)` capturing a 1 KB string", "G"),
        ("G0", "G_bare_len_100KB", "bare `len(s)`, 100 KB string", ""),
        ("G1", "G_serde_json_only_100KB", "`serde_json::to_string` of the 100 KB string alone", ""),
        ("G", "G_langfuse_capture_100KB", "Langfuse `len(s)` capturing a 100 KB string", "G"),
    ];
    for (row, id, what, delivery_row) in rows {
        let Some((m, lo, hi)) = median(id) else { continue };
        let alloc_key = if ["A", "E0", "E1", "E2", "E3", "F"].contains(&row) { id } else { "" };
        let _ = writeln!(
            out,
            "| {row} | {what} | **{}** ({} – {}) | {} | {} |",
            fmt_ns(m),
            fmt_ns(lo),
            fmt_ns(hi),
            if delivery_row.is_empty() { "–".to_owned() } else { dropped(delivery_row) },
            if alloc_key.is_empty() { "–".to_owned() } else { alloc(alloc_key) },
        );
    }

    let ratio = |a: &str, b: &str| -> String {
        match (ns(a), ns(b)) {
            (Some(a), Some(b)) => format!("{:.3}", a / b),
            _ => "?".into(),
        }
    };
    let diff = |a: &str, b: &str| -> String {
        match (ns(a), ns(b)) {
            (Some(a), Some(b)) if (a - b).abs() >= 1000.0 => {
                format!("{}{}", if a >= b { "+" } else { "−" }, fmt_ns((a - b).abs()))
            }
            (Some(a), Some(b)) => format!("{:+.1} ns", a - b),
            _ => "?".into(),
        }
    };
    let _ = writeln!(out, "\n| Ratio / difference | Value | Target |");
    let _ = writeln!(out, "|---|---|---|");
    let _ = writeln!(
        out,
        "| A median | {} | ≤ 300 ns |",
        ns("A_langfuse_observe").map_or("?".into(), fmt_ns)
    );
    let _ = writeln!(
        out,
        "| A / B (OTel SDK by hand) | {} | ≤ 0.3 |",
        ratio("A_langfuse_observe", "B_otel_sdk_manual")
    );
    let _ = writeln!(
        out,
        "| A / C (tracing + tracing-opentelemetry) | {} | ≤ 0.15 |",
        ratio("A_langfuse_observe", "C_tracing_instrument_otel")
    );
    let _ = writeln!(
        out,
        "| A / D (fastrace) | {} | < 1 |",
        ratio("A_langfuse_observe", "D_fastrace_trace")
    );
    for e in ["E1_disabled_no_keys", "E2_disabled_tracing_off", "E3_disabled_unsampled"] {
        let _ = writeln!(out, "| {e} − E0 bare | {} | ≤ 5 ns, 0 allocs |", diff(e, "E0_bare_fn"));
    }
    let _ = writeln!(
        out,
        "| F − F0 (async overhead) | {} | |",
        diff("F_langfuse_observe_async", "F0_bare_async_fn")
    );
    let _ =
        writeln!(out, "| F / A | {} | |", ratio("F_langfuse_observe_async", "A_langfuse_observe"));
    for size in ["1KB", "100KB"] {
        let _ = writeln!(
            out,
            "| G {size}: capture − A (serde alone: {}) | {} | |",
            ns(&format!("G_serde_json_only_{size}")).map_or("?".into(), fmt_ns),
            diff(&format!("G_langfuse_capture_{size}"), "A_langfuse_observe"),
        );
    }

    if let Some(h) = read(&results.join("end_to_end.json")) {
        let _ = writeln!(
            out,
            "\nH: {} observations ({}); receiver in a child process on 127.0.0.1.\n",
            h["observations"],
            h["shape"].as_str().unwrap_or("")
        );
        let _ = writeln!(
            out,
            "| H | run | delivered obs/s | exported/s | producer obs/s | received | dropped | failed | requests | wire B/span | peak RSS (growth) |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|");
        let mut rows: Vec<(String, &Value)> = Vec::new();
        for (label, key) in [
            ("Langfuse (defaults)", "langfuse"),
            ("Langfuse, 300 B in + out (H_300B)", "langfuse_300b"),
        ] {
            rows.extend(h[key].as_array().into_iter().flatten().map(|r| (label.to_owned(), r)));
        }
        for paced in h["langfuse_300b_paced"].as_array().into_iter().flatten() {
            let label = format!(
                "H_300B, producer paced at {:.2} M/s",
                paced["rate"].as_f64().unwrap_or(0.0) / 1e6
            );
            rows.push((label, &paced["result"]));
        }
        for r in h["otel_bsp_reference"].as_array().into_iter().flatten() {
            rows.push(("OTel default BSP (ref)".to_owned(), r));
        }
        let mut run_of_label: Vec<(String, usize)> = Vec::new();
        let mut cpu_rows = String::new();
        for (label, r) in rows {
            let run = match run_of_label.iter_mut().find(|(l, _)| *l == label) {
                Some((_, n)) => {
                    *n += 1;
                    *n
                }
                None => {
                    run_of_label.push((label.clone(), 1));
                    1
                }
            };
            let _ = writeln!(
                out,
                "| {label} | {run} | {:.0} | {} | {:.0} | {} | {} | {} | {} | {} | {:.1} MiB (+{:.1} MiB) |",
                r["obs_per_sec"].as_f64().unwrap_or(0.0),
                r["exported_per_sec"].as_f64().map_or("–".to_owned(), |v| format!("{v:.0}")),
                r["producer_obs_per_sec"].as_f64().unwrap_or(0.0),
                r["received_spans"],
                r["dropped"],
                r["failed"],
                r["requests"],
                r["wire_bytes_per_span"],
                r["peak_rss_kib"].as_f64().unwrap_or(0.0) / 1024.0,
                r["peak_rss_growth_kib"].as_f64().unwrap_or(0.0) / 1024.0,
            );
            let cpu = &r["cpu"];
            let ms = |key: &str| cpu[key].as_f64().map_or("–".to_owned(), |v| format!("{v:.0}"));
            let exported = r["exported"].as_f64().unwrap_or(0.0).max(1.0);
            let _ = writeln!(
                cpu_rows,
                "| {label} | {run} | {} | {} | {} | {} | {} | {} | {} | {} | {:.2} | {} |",
                ms("wall_ms"),
                ms("producer_ms"),
                ms("producer_waited_for_a_core_ms"),
                ms("export_ms"),
                ms("export_waited_for_a_core_ms"),
                cpu["export_ms"]
                    .as_f64()
                    .map_or("–".to_owned(), |v| format!("{:.2}", v * 1e3 / exported)),
                ms("gzip_helpers_ms"),
                ms("receiver_ms"),
                cpu["cores_busy"].as_f64().unwrap_or(f64::NAN),
                ms("stolen_ms"),
            );
        }
        let _ = writeln!(
            out,
            "\nWhere the two cores went during each H run (ms of CPU from the scheduler's \
             per-thread counters, from the first observation to the end of the flush):\n"
        );
        let _ = writeln!(
            out,
            "| H | run | wall | producer | producer runnable, no core | export thread | export runnable, no core | export µs/span | gzip helpers | receiver | cores busy | stolen |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|---|");
        out.push_str(&cpu_rows);
    }

    if let Some(a) = &allocs {
        let _ =
            writeln!(out, "\nAllocations per call ({} calls, counting allocator):\n", a["calls"]);
        let _ =
            writeln!(out, "| Row | caller thread allocs | bytes | all threads allocs | bytes |");
        let _ = writeln!(out, "|---|---|---|---|---|");
        for r in a["rows"].as_array().into_iter().flatten() {
            let _ = writeln!(
                out,
                "| {} | {:.3} | {:.0} | {:.3} | {:.0} |",
                r["row"].as_str().unwrap_or("?"),
                r["caller_allocs_per_call"].as_f64().unwrap_or(f64::NAN),
                r["caller_bytes_per_call"].as_f64().unwrap_or(f64::NAN),
                r["all_threads_allocs_per_call"].as_f64().unwrap_or(f64::NAN),
                r["all_threads_bytes_per_call"].as_f64().unwrap_or(f64::NAN),
            );
        }
    }

    if let Some(c) = read(&results.join("compile_time.json")) {
        let _ = writeln!(
            out,
            "\nI: {} functions, {} profile, crate alone (dependencies prebuilt), median of 3; \
             `observe` = {}.\n",
            c["functions"],
            c["profile"].as_str().unwrap_or("?"),
            c["observe_implementation"].as_str().unwrap_or("?")
        );
        let _ = writeln!(out, "| I | cargo build | cargo check | cargo no-op |");
        let _ = writeln!(out, "|---|---|---|---|");
        for r in c["rows"].as_array().into_iter().flatten() {
            let _ = writeln!(
                out,
                "| {} | {:.2} s | {:.2} s | {:.2} s |",
                r["variant"].as_str().unwrap_or("?"),
                r["build_secs"].as_f64().unwrap_or(f64::NAN),
                r["check_secs"].as_f64().unwrap_or(f64::NAN),
                r["noop_secs"].as_f64().unwrap_or(f64::NAN),
            );
        }
    }

    print!("{out}");
}

fn read(path: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

fn fmt_ns(ns: f64) -> String {
    if ns >= 10_000.0 {
        format!("{:.1} µs", ns / 1000.0)
    } else if ns >= 1000.0 {
        format!("{:.2} µs", ns / 1000.0)
    } else if ns >= 10.0 {
        format!("{ns:.0} ns")
    } else {
        format!("{ns:.2} ns")
    }
}
