//! The `#[observe]` attribute macro of [`langfuse-runtime`](https://docs.rs/langfuse-runtime).
//!
//! Depend on `langfuse-runtime` and write `#[langfuse_runtime::observe]`: the macro's
//! documentation, with an example per argument, is on [`macro@observe`] (and re-exported as
//! `langfuse_runtime::observe`). Generated code reaches the runtime only through
//! `langfuse_runtime::__private` (or the path given with `crate = …`).
//!
//! # Layout
//!
//! `args/` parses the attribute, one parser per argument (every error collected with its span
//! in `errors.rs`, which also suggests the closest name); `item.rs` parses the function;
//! `signature.rs` reads its shape (sync, async, future, stream or iterator; `Result`, `Option`,
//! `()`, `!`; parameter bindings); `check.rs` applies the rules across arguments and signature
//! and resolves the plain model of `model.rs`, from which `expand.rs` generates code. Uses go
//! one way: `check` uses `args`, `signature`, `model`; `expand` uses `model`, `signature`,
//! `item`; everything may use `errors` and `ident`, which use nothing of the crate.
//!
//! The signature is parsed, the body is kept as tokens: a body that does not parse
//! still expands, so IDEs keep working and the compiler reports the syntax error where it is.
//! On any `#[observe]` error the function is emitted unchanged next to the `compile_error!`s.
//!
//! # What a small function expands to
//!
//! ```ignore
//! #[observe]
//! fn add(a: i64, b: i64) -> i64 {
//!     a + b
//! }
//! ```
//!
//! becomes (`__private` abbreviates `::langfuse_runtime::__private`):
//!
//! ```ignore
//! fn add(a: i64, b: i64) -> i64 {
//!     static __LF_SITE: __private::CallSite =
//!         __private::CallSite::new("add", __private::ObservationType::Span);
//!     // One atomic load when nothing records; the closure runs only for a recorded call.
//!     let __lf_span = __private::enter(&__LF_SITE, |__lf_s| {
//!         use __private::traits::*; // Serialize, else Debug, else the type name
//!         if let Some(__lf_w) = __lf_s.input() {
//!             (&&&&__private::Wrap(&a)).__lf_capture(__lf_w.member_key("\"a\":"));
//!             (&&&&__private::Wrap(&b)).__lf_capture(__lf_w.member_key(",\"b\":"));
//!         }
//!     });
//!     // The body as a closure, so that `return` and `?` come back here.
//!     __lf_span.run(
//!         move || -> i64 { a + b },
//!         |__lf_o, __lf_r| {
//!             use __private::traits::*;
//!             if let Some(__lf_w) = __lf_o.value() {
//!                 (&&&&__private::Wrap(__lf_r)).__lf_capture(__lf_w);
//!             }
//!         },
//!     )
//! }
//! ```
//!
//! An `async fn` runs its body as `__lf_span.instrument(async move { body }, finish).await`;
//! a function returning `impl Future` or `Pin<Box<dyn Future>>` runs its body with the
//! observation current (calls made before the future is returned nest under it) and
//! instruments the future it returns; one returning `impl Iterator`/`impl Stream` (or
//! `DoubleEndedIterator`, `ExactSizeIterator`, `FusedIterator`) does the same and wraps the
//! sequence in an observed one. The
//! generated locals have mixed-site hygiene, so they can neither shadow nor be shadowed by the
//! function's own names.
mod args;
mod check;
mod errors;
mod expand;
mod ident;
mod item;
mod model;
mod signature;

use proc_macro::TokenStream;

/// Turns every call of a function into a Langfuse observation.
///
/// The observation's **input** is the arguments, its **output** the return value, and the
/// observed calls made inside it become its **children**, across threads only where the
/// context is carried (see `langfuse_runtime::TraceContext`) and across `.await` always.
///
/// ```
/// use langfuse_runtime::observe;
///
/// #[observe]
/// fn add(a: i64, b: i64) -> i64 {
///     a + b
/// }
///
/// #[observe(as_type = "agent")]
/// async fn answer(question: &str) -> Result<String, std::io::Error> {
///     let sum = add(2, 3); // a child of `answer`, input {"a":2,"b":3}, output 5
///     Ok(format!("{question}: {sum}"))
/// }
/// # futures::executor::block_on(answer("q")).unwrap();
/// ```
///
/// With no client installed (`langfuse_runtime::init()` never called, no keys, or
/// `LANGFUSE_TRACING_ENABLED=false`), or inside a trace the sampler dropped, the function just
/// runs: one atomic load (plus a thread-local read when a client exists), nothing serialized,
/// nothing allocated, no context attached.
///
/// # What is recorded
///
/// **Name and type.** The function's name (`name = …` overrides it) and type `span`
/// (`as_type = …`).
///
/// **Input**: a JSON object keyed by parameter name, in declaration order, e.g. `{"a":2,"b":3}`.
/// Arguments are captured by reference before the body runs. Each value is written with serde
/// when its type implements `Serialize`, else as its `Debug` text (a JSON string), else as a
/// `"<type name>"` placeholder: an argument that cannot be serialized never stops the function
/// from compiling. The receiver (`self`, `&self`, `&mut self`, `self: Box<Self>`,
/// `self: Arc<Self>`, …) is never captured. A destructuring parameter such as
/// `(a, b): (i32, i32)` or `Point { x, y }: Point` is captured per binding, under each
/// binding's name (`{"a":1,"b":2}`); `_` parameters are left out. A function without captured
/// parameters sends `{}`.
///
/// **Output**: the return value under the same rules, except that a string (`String`,
/// `&str`, `Cow<str>`, …) is sent raw, unquoted; `()` and `None` are omitted; `Some(v)` is
/// written as `v`.
///
/// **`Result`**: `Ok(v)` is the output `v`; `Err(e)` sets level `ERROR` and the status
/// message to `e`'s `Display` text (its `Debug` text or type name when it has no `Display`),
/// which also makes the OpenTelemetry status ERROR, and writes no output. This holds however
/// the function returns: tail expression, early `return`, or `?`.
///
/// **Panics** end the observation with level `ERROR` and the panic message; the panic then
/// continues unchanged. (With `panic = "abort"` nothing can be recorded.) An async function
/// whose future is dropped before completing ends with level `WARNING` and a "cancelled" status.
///
/// **How the return type is read.** The macro sees spelling, not types: a return type whose
/// last path segment is `Result` (`Result<T, E>`, `io::Result<T>`, `anyhow::Result<T>`,
/// `fmt::Result`) is handled as `std::result::Result`, and `…Option<T>` as
/// `std::option::Option`. A type alias under another name is recorded as a plain value (serde
/// then writes `{"Ok":…}`). A type of your own that is *named* `Result` or `Option` is a compile
/// error that says so; import it under another name (`use my::Result as MyResult;`) to record
/// it as a plain value.
///
/// **Generic parameters.** Which of serde, `Debug` or the placeholder is used is decided where
/// the macro expands, from what is known about the type *there*. Inside
/// `fn f<T>(x: T)`, `T` has no bounds, so `x` is recorded as `"<type name>"` even when the
/// caller passes a serializable value. Add the bound you want recorded:
/// `T: Serialize` gives JSON, `T: Debug` gives the `Debug` text. (Or leave the argument out with
/// `skip(x)`.) The same holds for generic return types.
///
/// ```
/// use langfuse_runtime::observe;
/// use serde::Serialize;
///
/// #[observe]
/// fn placeholder<T>(x: T) -> T { x }             // input {"x":"<my::Type>"}
///
/// #[observe]
/// fn as_json<T: Serialize>(x: T) -> T { x }      // input {"x":{…}}
/// # placeholder(1); as_json(1);
/// ```
///
/// # Function shapes
///
/// - `fn` and `async fn`, free, associated or methods (any receiver), in `impl` blocks and
///   trait default methods, `unsafe fn` and `extern "C" fn`;
/// - generics with bounds and `where` clauses, lifetimes and references in arguments and return
///   types, `impl Trait` arguments and returns;
/// - async functions in traits, natively or with `#[async_trait]` (put `#[observe]` on the
///   method inside the `#[async_trait]` impl);
/// - `fn … -> impl Future<Output = T>` and `-> Pin<Box<dyn Future<Output = T> …>>`: the
///   observation covers the future's run, not its creation: it ends when the future completes;
/// - `fn … -> impl Iterator<Item = T>` and `-> impl Stream<Item = T>` (`futures` streams): see
///   `transform_to_string` below;
/// - diverging functions (`-> !`): only a panic can end them, and it is recorded.
///
/// `const fn` is rejected: recording reads the clock and hands the record to the exporter,
/// which a const context cannot do.
///
/// ```compile_fail
/// #[langfuse_runtime::observe]
/// const fn answer() -> u32 { 42 } // error: `#[observe]` cannot be used on a `const fn`
/// ```
///
/// Argument errors (unknown, duplicated, conflicting, bad values) are reported together, each
/// at its token, with the valid values and the closest one when it looks like a typo.
///
/// # Arguments
///
/// ## `name = "…"`
///
/// The observation's name; default: the function's name.
///
/// ```
/// #[langfuse_runtime::observe(name = "retrieve-documents")]
/// fn retrieve(query: &str) -> Vec<String> { vec![query.to_owned()] }
/// # retrieve("q");
/// ```
///
/// ## `as_type = "…"`
///
/// One of `span` (the default), `generation`, `agent`, `tool`, `chain`, `retriever`,
/// `evaluator`, `embedding`, `guardrail`. `event` is rejected: an event has no duration, so it
/// cannot wrap a call (emit one inside with `langfuse_runtime::event`). Inside a `generation`,
/// set model and usage with `langfuse_runtime::current_generation()`.
///
/// ```
/// use langfuse_runtime::{current_generation, observe, Usage};
///
/// #[observe(as_type = "generation")]
/// fn complete(prompt: &str) -> String {
///     current_generation().set_model("gpt-4o").set_usage_details(&Usage::new(12, 3));
///     format!("echo: {prompt}")
/// }
/// # complete("hi");
/// ```
///
/// ```compile_fail
/// #[langfuse_runtime::observe(as_type = "tol")] // error: unknown observation type `tol` … did you mean `tool`?
/// fn lookup() {}
/// ```
///
/// ## `capture_input = bool`, `capture_output = bool`
///
/// Whether the input / output is recorded. When absent, the client's IO-capture setting decides
/// (`LANGFUSE_OBSERVE_DECORATOR_IO_CAPTURE_ENABLED`, default `true`), read at run time. When
/// capture is off nothing is serialized. Errors and panics are recorded either way.
///
/// ```
/// #[langfuse_runtime::observe(capture_input = false, capture_output = true)]
/// fn embed(document: &[u8]) -> usize { document.len() }
/// # embed(b"x");
/// ```
///
/// ## `skip(arg, …)`, `skip_all`
///
/// Leave arguments out of the input (secrets, large buffers, values you do not want
/// formatted). Names are parameter names or, for destructured parameters, binding names;
/// `skip(self)` is accepted and changes nothing. `skip_all` records `{}`; the two cannot be
/// combined.
///
/// ```
/// #[langfuse_runtime::observe(skip(api_key))]
/// fn call(api_key: &str, prompt: &str) -> usize { api_key.len() + prompt.len() } // input {"prompt":…}
///
/// #[langfuse_runtime::observe(skip_all)]
/// fn upload(bytes: Vec<u8>) -> usize { bytes.len() } // input {}
/// # call("k", "p"); upload(vec![]);
/// ```
///
/// ## `metadata(key = expr, …)`
///
/// Metadata entries, evaluated before the body runs (they may use the arguments), and only for
/// recorded calls. Keys are identifiers or string literals; values are recorded like arguments.
///
/// ```
/// #[langfuse_runtime::observe(metadata(provider = "openai", "max tokens" = limit * 2))]
/// fn ask(question: &str, limit: u32) -> String { format!("{question}{limit}") }
/// # ask("q", 1);
/// ```
///
/// ## `level = "…"`
///
/// The observation's level: `debug`, `default`, `warning` or `error` (any case). An `Err` or a
/// panic still sets `ERROR`.
///
/// ```
/// #[langfuse_runtime::observe(level = "debug")]
/// fn cache_lookup(key: &str) -> Option<u32> { key.parse().ok() }
/// # cache_lookup("1");
/// ```
///
/// ## `version = …`
///
/// The observation's version (`langfuse.version`): a constant `&'static str` (a literal,
/// `env!("CARGO_PKG_VERSION")`, a `const`), kept in a `static`.
///
/// ```
/// const PROMPT_VERSION: &str = "2024-06";
///
/// #[langfuse_runtime::observe(version = PROMPT_VERSION)]
/// fn summarize(text: &str) -> String { text.chars().take(10).collect() }
///
/// #[langfuse_runtime::observe(version = env!("CARGO_PKG_VERSION"))]
/// fn release() {}
/// # summarize("t"); release();
/// ```
///
/// ## `crate = path`
///
/// Where the runtime is, when it is not reachable as `::langfuse_runtime` (renamed dependency,
/// re-export from a facade crate).
///
/// ```
/// mod facade {
///     pub use langfuse_runtime as tracing_lf;
/// }
///
/// #[langfuse_runtime::observe(crate = facade::tracing_lf)]
/// fn through_facade(x: u8) -> u8 { x }
/// # through_facade(1);
/// ```
///
/// ## `transform_to_string = f`
///
/// For functions returning `impl Iterator<Item = T>` or `impl Stream<Item = T>`. Such a
/// function's observation starts at the call and stays open — and current while each item is
/// produced, so observations made then are its children — until the sequence is exhausted,
/// panics, or is dropped. Its output aggregates the items: their concatenation when every item
/// is a string (`""` for none), else a JSON array of them. An `Err` item marks the observation
/// `ERROR` with that error's message (the output keeps the other items).
///
/// `transform_to_string` replaces the aggregation: `f` is any `FnOnce(&[T]) -> String` (a
/// function path or a closure); it receives clones of all items (so `T: Clone`) once the
/// sequence ends, and its result is the output.
///
/// ```
/// use futures::{stream, Stream, StreamExt};
/// use langfuse_runtime::observe;
///
/// #[derive(Clone)]
/// struct Chunk { delta: String }
///
/// fn text(chunks: &[Chunk]) -> String {
///     chunks.iter().map(|c| c.delta.as_str()).collect()
/// }
///
/// #[observe(as_type = "generation", transform_to_string = text)]
/// fn stream_answer(prompt: String) -> impl Stream<Item = Chunk> {
///     stream::iter(prompt.split(' ').map(|w| Chunk { delta: w.to_owned() }).collect::<Vec<_>>())
/// }
///
/// #[observe] // output: "abc"
/// fn letters() -> impl Iterator<Item = String> {
///     ["a", "b", "c"].into_iter().map(String::from)
/// }
/// # futures::executor::block_on(stream_answer("a b".into()).count());
/// # letters().count();
/// ```
#[proc_macro_attribute]
pub fn observe(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    let mut errors = errors::Errors::default();
    let args = args::Args::parse(args.into(), &mut errors);
    let func = match syn::parse2::<item::Func>(item.clone()) {
        Ok(func) => func,
        Err(e) => {
            let message = e.to_string();
            errors.push(if message.starts_with("`#[observe]`") {
                e
            } else {
                syn::Error::new(e.span(), format!("`#[observe]` applies to functions: {message}"))
            });
            return with_errors(item, errors);
        }
    };
    let observe = check::check(args, &func.sig, &mut errors);
    if errors.is_empty() { expand::expand(observe, func).into() } else { with_errors(item, errors) }
}

/// The function unchanged, next to the errors: IDEs and the rest of the crate keep seeing it.
fn with_errors(mut item: proc_macro2::TokenStream, errors: errors::Errors) -> TokenStream {
    if let Err(e) = errors.into_result() {
        item.extend(e.into_compile_error());
    }
    item.into()
}

#[cfg(test)]
mod tests {
    /// Expands `item` with `args` as the macro would (without the proc-macro bridge).
    fn expand(args: &str, item: &str) -> String {
        let mut errors = crate::errors::Errors::default();
        let args = crate::args::Args::parse(args.parse().unwrap(), &mut errors);
        let func: crate::item::Func = syn::parse_str(item).unwrap();
        let observe = crate::check::check(args, &func.sig, &mut errors);
        assert!(errors.is_empty());
        crate::expand::expand(observe, func).to_string()
    }

    /// The expansion stays small (compile time): a guard against accidental growth. Print it
    /// with `cargo test -p langfuse-observe-macros expansion -- --nocapture`.
    #[test]
    fn expansion_of_a_small_function_stays_small() {
        let sync = expand("", "fn add(a: i64, b: i64) -> i64 { a + b }");
        println!("{sync}");
        let tokens = |s: &str| s.parse::<proc_macro2::TokenStream>().unwrap().into_iter().count();
        assert!(sync.contains("enter (& __LF_SITE"), "{sync}");
        assert!(sync.len() < 1100, "{} bytes: {sync}", sync.len());
        let unit = expand("skip_all", "fn tick(n: u8) { let _ = n; }");
        assert!(!unit.contains("traits"), "no capture code when nothing is captured: {unit}");
        assert!(tokens(&unit) > 0);
        let async_fn = expand("", "async fn get(id: u32) -> Result<String, Error> { todo!() }");
        assert!(async_fn.contains("instrument (async move"), "{async_fn}");
        assert!(async_fn.len() < 1900, "{} bytes: {async_fn}", async_fn.len());
    }
}
