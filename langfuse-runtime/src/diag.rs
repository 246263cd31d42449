//! The SDK's own diagnostics, on stderr with a `[langfuse]` prefix, like the Python SDK's
//! logger falls back to stderr for warnings. Debug lines only with `LANGFUSE_DEBUG=true`.

use std::sync::atomic::{AtomicBool, Ordering};

static DEBUG: AtomicBool = AtomicBool::new(false);

pub(crate) fn set_debug(on: bool) {
    DEBUG.store(on, Ordering::Relaxed);
}

pub(crate) fn debug_enabled() -> bool {
    DEBUG.load(Ordering::Relaxed)
}

pub(crate) fn warn(message: std::fmt::Arguments<'_>) {
    eprintln!("[langfuse] warning: {message}");
}

pub(crate) fn error(message: std::fmt::Arguments<'_>) {
    eprintln!("[langfuse] error: {message}");
}

pub(crate) fn debug(message: std::fmt::Arguments<'_>) {
    if debug_enabled() {
        eprintln!("[langfuse] debug: {message}");
    }
}
