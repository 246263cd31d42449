//! I: compile time of a crate with 200 observed functions, against the same crate with
//! `#[tracing::instrument]` and with no attribute. Reported, never asserted.
//!
//! ```sh
//! cargo bench -p langfuse-benches --bench compile_time
//! ```
//!
//! Generates a small workspace under `target/langfuse-bench/compile/` (three crates, one per
//! variant, all with the same dependencies: `langfuse-runtime` by path and `tracing`), reuses
//! this repository's `Cargo.lock` and builds offline. Each variant is built once to warm the
//! dependencies (the first run of this bench also compiles them, about a minute), then its
//! `lib.rs` is touched and the crate alone is rebuilt `REPEATS` times; the median is reported
//! for the dev profile (`cargo build`) and for `cargo check`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use serde_json::json;

const FUNCTIONS: usize = 200;
const REPEATS: usize = 3;

/// How the `observe` variant is written.
const OBSERVE_IMPLEMENTATION: &str = "#[langfuse_runtime::observe]";

struct Variant {
    name: &'static str,
    /// The function `i`.
    function: fn(usize) -> String,
}

fn plain(i: usize) -> String {
    format!("pub fn f{i}(a: i64, name: &str) -> i64 {{\n    a + name.len() as i64 + {i}\n}}\n\n")
}

fn instrumented(i: usize) -> String {
    format!("#[tracing::instrument]\n{}", plain(i))
}

fn observed(i: usize) -> String {
    format!("#[langfuse_runtime::observe]\n{}", plain(i))
}

const VARIANTS: [Variant; 3] = [
    Variant { name: "none", function: plain },
    Variant { name: "instrument", function: instrumented },
    Variant { name: "observe", function: observed },
];

fn main() {
    if std::env::args().any(|a| a == "--test" || a == "--list") {
        return;
    }
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("repository root");
    let root = langfuse_benches::results_dir().join("compile");
    generate(&root, &repo);
    let target = root.join("target");

    let mut rows = Vec::new();
    for variant in &VARIANTS {
        let package = format!("gen-{}", variant.name);
        // Warm: dependencies and this crate once.
        let warm = cargo(&root, &target, &["build", "-p", &package]);
        let lib = root.join(variant.name).join("src/lib.rs");
        let mut build = Vec::new();
        let mut check = Vec::new();
        for _ in 0..REPEATS {
            touch(&lib);
            build.push(cargo(&root, &target, &["build", "-p", &package]));
        }
        let _ = cargo(&root, &target, &["check", "-p", &package]);
        for _ in 0..REPEATS {
            touch(&lib);
            check.push(cargo(&root, &target, &["check", "-p", &package]));
        }
        // Cargo's own cost when nothing changed (fingerprints, lock file): part of every number.
        let noop = median(
            (0..REPEATS).map(|_| cargo(&root, &target, &["build", "-p", &package])).collect(),
        );
        let (build, check) = (median(build), median(check));
        eprintln!(
            "I {:<10} cargo build {:>6.2} s   cargo check {:>6.2} s   no-op {:>5.2} s   (first build {:.1} s)",
            variant.name,
            build.as_secs_f64(),
            check.as_secs_f64(),
            noop.as_secs_f64(),
            warm.as_secs_f64()
        );
        rows.push(json!({
            "variant": variant.name,
            "build_secs": build.as_secs_f64(),
            "check_secs": check.as_secs_f64(),
            "noop_secs": noop.as_secs_f64(),
        }));
    }
    langfuse_benches::write_result(
        "compile_time.json",
        &json!({
            "functions": FUNCTIONS,
            "observe_implementation": OBSERVE_IMPLEMENTATION,
            "profile": "dev",
            "rows": rows,
        }),
    );
}

fn generate(root: &Path, repo: &Path) {
    let members: Vec<String> = VARIANTS.iter().map(|v| format!("\"{}\"", v.name)).collect();
    write(
        &root.join("Cargo.toml"),
        &format!(
            "[workspace]\nmembers = [{}]\nresolver = \"3\"\n\n[workspace.dependencies]\n\
             langfuse-runtime = {{ path = {:?} }}\ntracing = \"0.1.44\"\n\
             serde = {{ version = \"1\", features = [\"derive\"] }}\n",
            members.join(", "),
            repo.join("langfuse-runtime").display().to_string(),
        ),
    );
    // Same versions as the workspace, resolvable offline.
    let lock = std::fs::read_to_string(repo.join("Cargo.lock")).expect("Cargo.lock");
    write(&root.join("Cargo.lock"), &lock);
    for variant in &VARIANTS {
        let dir = root.join(variant.name);
        write(
            &dir.join("Cargo.toml"),
            &format!(
                "[package]\nname = \"gen-{}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
                 [dependencies]\nlangfuse-runtime = {{ workspace = true }}\n\
                 tracing = {{ workspace = true }}\nserde = {{ workspace = true }}\n",
                variant.name
            ),
        );
        let mut source = format!(
            "//! Generated by langfuse-benches/benches/compile_time.rs: {FUNCTIONS} functions.\n\
             #![allow(unused)]\nuse langfuse_runtime as _;\nuse serde as _;\nuse tracing as _;\n\n"
        );
        for i in 0..FUNCTIONS {
            source.push_str(&(variant.function)(i));
        }
        write(&dir.join("src/lib.rs"), &source);
    }
}

/// Writes only when the content changed, so cargo's fingerprints survive between runs.
fn write(path: &Path, content: &str) {
    if std::fs::read_to_string(path).is_ok_and(|old| old == content) {
        return;
    }
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, content).expect("write");
}

fn touch(path: &Path) {
    let file = std::fs::File::options().append(true).open(path).expect("open");
    file.set_modified(SystemTime::now()).expect("touch");
}

fn cargo(root: &Path, target: &Path, args: &[&str]) -> Duration {
    let run = |offline: bool| {
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.args(args).arg("--quiet").current_dir(root).env("CARGO_TARGET_DIR", target);
        // Keep the parent `cargo bench`'s settings out: a plain dev build of the generated crate.
        for var in ["RUSTFLAGS", "CARGO_BUILD_RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS"] {
            cmd.env_remove(var);
        }
        if offline {
            cmd.arg("--offline");
        }
        let start = Instant::now();
        let output = cmd.output().expect("run cargo");
        let elapsed = start.elapsed();
        if !output.status.success() {
            eprintln!("{}", String::from_utf8_lossy(&output.stderr));
        }
        (output.status.success(), elapsed)
    };
    match run(true) {
        (true, elapsed) => elapsed,
        // A dependency missing from the local registry cache: let cargo fetch it from crates.io.
        _ => match run(false) {
            (true, elapsed) => elapsed,
            _ => panic!("cargo {args:?} failed in {}", root.display()),
        },
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}
