//! A recording client wired to a fresh loopback receiver, one test at a time.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use langfuse_runtime::{Config, ConfigBuilder, Langfuse};

use super::{OtlpReceiver, ReceivedSpan};

/// Public key every loopback client sends.
pub const PUBLIC_KEY: &str = "pk-lf-1234";
/// Secret key every loopback client sends.
pub const SECRET_KEY: &str = "sk-lf-5678";

/// The global client is process-wide: tests of one binary take turns.
static SERIAL: Mutex<()> = Mutex::new(());

/// Takes this binary's turn at the global client without starting one.
pub fn exclusive() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A global client exporting to its own [`OtlpReceiver`] (no periodic flush: tests flush).
pub struct Loopback {
    _serial: MutexGuard<'static, ()>,
    /// The client; `None` after [`Loopback::finish`].
    pub langfuse: Option<Langfuse>,
    /// Where the spans go.
    pub receiver: OtlpReceiver,
}

impl Loopback {
    /// Starts a client with the test keys, configured further by `configure`.
    pub fn start(configure: impl FnOnce(ConfigBuilder) -> ConfigBuilder) -> Self {
        let serial = exclusive();
        let receiver = OtlpReceiver::start();
        let builder = Config::builder()
            .env_source(|_| None)
            .public_key(PUBLIC_KEY)
            .secret_key(SECRET_KEY)
            .base_url(receiver.base_url())
            .flush_interval(Duration::from_secs(3600));
        let langfuse = configure(builder).init().expect("valid test configuration");
        Self { _serial: serial, langfuse: Some(langfuse), receiver }
    }

    /// Flushes and drops the client, checks nothing was lost, returns every received span.
    pub fn finish(&mut self) -> Vec<ReceivedSpan> {
        let langfuse = self.langfuse.take().expect("finish is called once");
        assert!(langfuse.flush().is_success(), "flush timed out");
        let stats = langfuse.stats();
        drop(langfuse);
        assert_eq!((stats.dropped, stats.failed), (0, 0), "observations lost: {stats:?}");
        self.receiver.spans()
    }
}
