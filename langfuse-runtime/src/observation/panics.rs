//! Panics escaping a manual observation scope — a closure runner, an instrumented future, a
//! guard dropped while unwinding — recorded as Python records an exception escaping a context
//! manager: level ERROR, status `"panic: message"` and an OTel `exception` span event.
//!
//! Only a panic hook sees where a panic happened (and its backtrace), and a guard dropped
//! during unwinding sees no payload at all. So the first recorded manual observation installs
//! a hook that remembers the thread's last panic and then calls the hook that was set before
//! it, which keeps printing the panic as usual.

use std::any::Any;
use std::backtrace::{Backtrace, BacktraceStatus};
use std::cell::RefCell;
use std::fmt::Write as _;
use std::sync::Once;

use super::panic_message;
use crate::clock;
use crate::kind::Level;
use crate::record::{ExceptionEvent, ObservationRecord};

/// `exception.type` of a Rust panic: panics carry a payload, not a type of their own.
pub(crate) const PANIC_TYPE: &str = "panic";

/// What the hook saw of the thread's last panic.
struct LastPanic {
    message: String,
    stacktrace: String,
}

thread_local! {
    static LAST: RefCell<Option<LastPanic>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

/// Installs the hook once per process (never from a panicking thread: `set_hook` would panic).
#[inline]
pub(crate) fn watch() {
    if !HOOK.is_completed() && !std::thread::panicking() {
        HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                remember(info.payload(), info.location());
                previous(info);
            }));
        });
    }
}

fn remember(payload: &(dyn Any + Send), location: Option<&std::panic::Location<'_>>) {
    let message = panic_message(payload);
    let mut stacktrace = match location {
        Some(location) => format!("panicked at {location}:\n{message}"),
        None => format!("panicked:\n{message}"),
    };
    // Captured only when RUST_BACKTRACE / RUST_LIB_BACKTRACE ask for it, as std's hook does.
    let backtrace = Backtrace::capture();
    if backtrace.status() == BacktraceStatus::Captured {
        let _ = write!(stacktrace, "\nstack backtrace:\n{backtrace}");
    }
    let _ = LAST.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            *slot = Some(LastPanic { message, stacktrace });
        }
    });
}

/// The hook's stack trace of this thread's last panic, if its message is `message` (`None`
/// for any message).
fn last_panic(message: Option<&str>) -> Option<(String, String)> {
    LAST.try_with(|slot| {
        let slot = slot.try_borrow().ok()?;
        let last = slot.as_ref().filter(|l| message.is_none_or(|m| m == l.message))?;
        Some((last.message.clone(), last.stacktrace.clone()))
    })
    .ok()
    .flatten()
}

/// Records the panic with `payload`, caught as it left the observation's scope.
pub(crate) fn record_payload(r: &mut ObservationRecord, payload: &(dyn Any + Send)) {
    let message = panic_message(payload);
    let stacktrace = last_panic(Some(&message)).map(|(_, trace)| trace);
    record(r, message, stacktrace);
}

/// Records the panic unwinding through a guard's drop, unless the observation was already
/// marked failed (by a closure runner that saw the payload, by `#[observe]`, or by the user).
pub(crate) fn record_unwinding(r: &mut ObservationRecord) {
    if r.is_error() || r.exception().is_some() {
        return;
    }
    let (message, stacktrace) =
        last_panic(None).map_or((String::new(), None), |(message, trace)| (message, Some(trace)));
    record(r, message, stacktrace);
}

fn record(r: &mut ObservationRecord, message: String, stacktrace: Option<String>) {
    // Python's status description is f"{type(exc).__name__}: {exc}".
    r.level = Some(Level::Error);
    r.set_status_message(Some(format!("{PANIC_TYPE}: {message}")));
    r.set_exception(ExceptionEvent {
        time_unix_nanos: clock::now_unix_nanos(),
        type_name: PANIC_TYPE,
        message,
        stacktrace,
    });
}
