//! Observed code that runs while a thread is torn down (in another thread-local's destructor)
//! runs normally with tracing on: the SDK's own thread-local may already be gone, and the SDK
//! must neither panic nor abort the process there.

mod support;

use std::sync::{Arc, Mutex};

use langfuse_runtime::observe;
use support::with_client;

#[observe]
fn in_destructor(n: u32) -> u32 {
    n + 1
}

/// Calls an observed function when the thread's locals are destroyed.
struct CallsObservedOnDrop(Arc<Mutex<Option<u32>>>);

impl Drop for CallsObservedOnDrop {
    fn drop(&mut self) {
        *self.0.lock().unwrap() = Some(in_destructor(41));
    }
}

thread_local! {
    static GUARD: std::cell::RefCell<Option<CallsObservedOnDrop>> =
        const { std::cell::RefCell::new(None) };
}

#[test]
fn an_observed_call_in_a_thread_local_destructor_runs_and_returns() {
    let result = Arc::new(Mutex::new(None));
    let seen = result.clone();
    let ((), records) = with_client(
        |b| b,
        |langfuse| {
            assert!(langfuse.is_recording());
            std::thread::spawn(move || {
                // Registered before any SDK thread-local is touched on this thread, so it is
                // destroyed after them (thread-locals are destroyed in reverse order of first use).
                GUARD.with(|g| *g.borrow_mut() = Some(CallsObservedOnDrop(seen)));
                assert_eq!(in_destructor(1), 2);
            })
            .join()
            .expect("the thread ends normally");
        },
    );
    assert_eq!(*result.lock().unwrap(), Some(42), "the body ran and returned its value");
    assert_eq!(records.all("in_destructor").len(), 2, "{:?}", records.names());
}
