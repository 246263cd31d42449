//! tokio helpers that carry the current observation into spawned tasks.
//!
//! `tokio::spawn` starts the future on whatever worker is free, where the caller's context is
//! not current; these wrappers capture it at the call site and restore it on every poll.

use std::future::Future;

use crate::context::{FutureContextExt as _, TraceContext};

/// `tokio::spawn`, with the caller's observation as the parent of everything the task observes.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let handle = langfuse_runtime::spawn(async { 1 + 1 });
/// assert_eq!(handle.await.unwrap(), 2);
/// # }
/// ```
pub fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(future.in_current_context())
}

/// `tokio::task::spawn_blocking`, with the caller's observation current in the closure.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let sum = langfuse_runtime::spawn_blocking(|| (1..=10).sum::<u32>()).await.unwrap();
/// assert_eq!(sum, 55);
/// # }
/// ```
pub fn spawn_blocking<F, R>(f: F) -> tokio::task::JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let cx = TraceContext::current();
    tokio::task::spawn_blocking(move || cx.run(f))
}
