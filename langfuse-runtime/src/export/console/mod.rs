//! Prints each finished trace as an indented tree: what a new user sees without Langfuse keys.
//!
//! When a tree is printed, so that a trace recorded on several threads prints as one tree:
//!
//! 1. `export` only holds records. The pipeline hands each thread's records over in turn, in
//!    several `export` calls per round, so a root often comes before the children a worker
//!    thread recorded (and that finished earlier).
//! 2. At [`end_of_round`](SpanExporter::end_of_round), when everything recorded so far has been
//!    exported, a trace is printed if its root has arrived and every record held for it
//!    descends from a root. A record whose parent is missing is a child of a child still on
//!    its way from another thread, so it holds the whole trace, finished root included, until
//!    that parent arrives.
//! 3. `force_flush` and `shutdown` print everything still held (nothing is lost at shutdown),
//!    and when more than the buffer bound is held the oldest trace is printed as it is.
//!    Observations whose parent was not printed with them are marked `(parent not finished)`.
//!
//! A child that finishes after its root was printed (work left running in a detached task)
//! is printed as its own tree, marked `(parent NAME printed earlier)`.
//!
//! One job per file: `buffer` holds records until a tree can be printed, `tree` links parents
//! and children, `render` writes the lines, `style` colors them, `format` shows durations and
//! values, and `printed` remembers what was printed. JSON values are read through
//! [`JsonText::object_members`](crate::JsonText::object_members); times are integer nanoseconds.

mod buffer;
mod format;
mod printed;
mod render;
// Scores shown in the tree or as lines; the score sender holds and releases them.
pub(crate) mod scores;
mod style;
mod tree;

#[cfg(test)]
mod tests;

use std::fmt;
use std::io::{self, IsTerminal, Write};

use self::buffer::{Buffer, Ready};
use self::printed::Printed;
use self::render::Renderer;
use self::style::{Paint, auto_color};
use super::{ExportError, SpanExporter};
use crate::ids::TraceId;
use crate::record::ObservationRecord;

/// A [`SpanExporter`] that prints each finished trace as an indented tree.
///
/// Records are buffered per trace until the trace's root (an observation without a parent, or
/// one continuing a remote or explicit trace context) has arrived and nothing held for the
/// trace waits for a missing parent, then printed in one
/// piece:
///
/// ```text
/// trace 4bf92f3577b34da6a3ce929d0e0e4736 (3 observations)
/// pipeline [span] 12.500 ms
/// │ input: {"question":"What is Rust?"}
/// │ output: A systems programming language.
/// │ trace: user=user-1, session=session-42, tags=[demo]
/// ├─ db_query [span] 2.100 ms
/// │    metadata: {rows: 3, table: "docs"}
/// └─ chat_step [generation] 8.000 ms
///      model: gpt-4o-mini  usage: {input: 12, output: 3, total: 15}  cost: {total: 0.00018}
/// ```
///
/// Trees are printed at the end of each export round ([`end_of_round`], which the SDK's
/// pipeline calls after every tick and flush), so one trace prints as one tree however many
/// threads recorded it. Children are sorted by start time. Long values are shortened for
/// display only ([`with_max_value_chars`](Self::with_max_value_chars)). [`force_flush`] and
/// [`shutdown`] also print traces whose root has not finished yet, marking their top observations
/// `(parent not finished)`. At most [`with_max_buffered`](Self::with_max_buffered) records are
/// held; beyond that the oldest trace is printed early.
///
/// [`end_of_round`]: SpanExporter::end_of_round
/// [`force_flush`]: SpanExporter::force_flush
/// [`shutdown`]: SpanExporter::shutdown
///
/// ```
/// use langfuse_runtime::export::{ConsoleExporter, SpanExporter};
/// use langfuse_runtime::{ObservationId, ObservationRecord, ObservationType, TraceId};
///
/// let mut exporter = ConsoleExporter::stdout().with_max_value_chars(80);
///
/// let trace = TraceId::random();
/// let root_id = ObservationId::random();
/// let start = 1_700_000_000_000_000_000;
///
/// let child_id = ObservationId::random();
/// let tool = ObservationType::Tool;
/// let mut child = ObservationRecord::new(trace, child_id, Some(root_id), "lookup", tool, start);
/// child.end_unix_nanos = start + 1_500_000;
/// let mut root =
///     ObservationRecord::new(trace, root_id, None, "pipeline", ObservationType::Span, start);
/// root.end_unix_nanos = start + 4_000_000;
/// root.input = Some("hello".into());
///
/// exporter.export(&[child])?; // held: its parent has not finished
/// exporter.export(&[root])?;
/// exporter.end_of_round()?; // prints the whole tree
/// exporter.shutdown()?;
/// # Ok::<(), langfuse_runtime::export::ExportError>(())
/// ```
pub struct ConsoleExporter {
    out: Box<dyn Write + Send>,
    color: bool,
    max_value_chars: usize,
    buffer: Buffer,
    printed: Printed,
}

impl ConsoleExporter {
    /// Records held while waiting for trace roots, unless changed with
    /// [`with_max_buffered`](Self::with_max_buffered).
    ///
    /// ```
    /// use langfuse_runtime::export::ConsoleExporter;
    /// assert_eq!(ConsoleExporter::DEFAULT_MAX_BUFFERED, 10_000);
    /// let exporter = ConsoleExporter::stdout().with_max_buffered(ConsoleExporter::DEFAULT_MAX_BUFFERED / 10);
    /// # drop(exporter);
    /// ```
    pub const DEFAULT_MAX_BUFFERED: usize = 10_000;
    /// Characters of a value shown before it is cut, unless changed with
    /// [`with_max_value_chars`](Self::with_max_value_chars).
    ///
    /// ```
    /// use langfuse_runtime::export::ConsoleExporter;
    /// assert_eq!(ConsoleExporter::DEFAULT_MAX_VALUE_CHARS, 200);
    /// ```
    pub const DEFAULT_MAX_VALUE_CHARS: usize = 200;

    /// Prints to standard output, in color when it is a terminal (and `NO_COLOR` is unset).
    ///
    /// ```
    /// let config = langfuse_runtime::Config::builder()
    ///     .exporter(langfuse_runtime::export::ConsoleExporter::stdout)
    ///     .build()?;
    /// # let _ = config;
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    #[must_use]
    pub fn stdout() -> Self {
        let color = auto_color(io::stdout().is_terminal());
        Self::new(io::stdout()).with_color(color)
    }

    /// Prints to standard error, in color when it is a terminal (and `NO_COLOR` is unset).
    ///
    /// ```
    /// let config = langfuse_runtime::Config::builder()
    ///     .exporter(langfuse_runtime::export::ConsoleExporter::stderr)
    ///     .build()?;
    /// # let _ = config;
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    #[must_use]
    pub fn stderr() -> Self {
        let color = auto_color(io::stderr().is_terminal());
        Self::new(io::stderr()).with_color(color)
    }

    /// Prints to `writer`, without color. Each batch is written with one `write_all`.
    ///
    /// ```
    /// # use std::io::Write;
    /// # use std::sync::{Arc, Mutex};
    /// use langfuse_runtime::export::{ConsoleExporter, SpanExporter};
    /// use langfuse_runtime::{ObservationId, ObservationRecord, ObservationType, TraceId};
    /// # #[derive(Clone, Default)]
    /// # struct Shared(Arc<Mutex<Vec<u8>>>);
    /// # impl Write for Shared {
    /// #     fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
    /// #         self.0.lock().unwrap().write(buf)
    /// #     }
    /// #     fn flush(&mut self) -> std::io::Result<()> {
    /// #         Ok(())
    /// #     }
    /// # }
    /// # let out = Shared::default();
    /// # let printed = || String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    /// let mut exporter = ConsoleExporter::new(out.clone()); // any `Write + Send`
    /// let (trace, id) = (TraceId::random(), ObservationId::random());
    /// let root = ObservationRecord::new(trace, id, None, "pipeline", ObservationType::Span, 0);
    /// exporter.export(&[root])?;
    /// exporter.end_of_round()?; // a finished root: its tree is printed
    /// assert!(printed().contains("pipeline"));
    /// # Ok::<(), langfuse_runtime::export::ExportError>(())
    /// ```
    #[must_use]
    pub fn new(writer: impl Write + Send + 'static) -> Self {
        Self {
            out: Box::new(writer),
            color: false,
            max_value_chars: Self::DEFAULT_MAX_VALUE_CHARS,
            buffer: Buffer::new(Self::DEFAULT_MAX_BUFFERED),
            printed: Printed::default(),
        }
    }

    /// Turns ANSI colors on or off.
    ///
    /// ```
    /// # use std::io::Write;
    /// # use std::sync::{Arc, Mutex};
    /// use langfuse_runtime::export::{ConsoleExporter, SpanExporter};
    /// use langfuse_runtime::{ObservationId, ObservationRecord, ObservationType, TraceId};
    /// # #[derive(Clone, Default)]
    /// # struct Shared(Arc<Mutex<Vec<u8>>>);
    /// # impl Write for Shared {
    /// #     fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
    /// #         self.0.lock().unwrap().write(buf)
    /// #     }
    /// #     fn flush(&mut self) -> std::io::Result<()> {
    /// #         Ok(())
    /// #     }
    /// # }
    /// # let out = Shared::default();
    /// # let printed = || String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    /// let mut exporter = ConsoleExporter::new(out.clone()).with_color(true);
    /// let (trace, id) = (TraceId::random(), ObservationId::random());
    /// let root = ObservationRecord::new(trace, id, None, "pipeline", ObservationType::Span, 0);
    /// exporter.export(&[root])?;
    /// exporter.end_of_round()?; // a finished root: its tree is printed
    /// assert!(printed().contains("\x1b["), "ANSI escapes");
    /// # Ok::<(), langfuse_runtime::export::ExportError>(())
    /// ```
    #[must_use]
    pub fn with_color(mut self, color: bool) -> Self {
        self.color = color;
        self
    }

    /// Caps the records buffered while waiting for trace roots; when exceeded, the oldest trace
    /// is printed as it is (incomplete) and forgotten.
    ///
    /// ```
    /// use langfuse_runtime::export::ConsoleExporter;
    /// let exporter = ConsoleExporter::stderr().with_max_buffered(1_000);
    /// # drop(exporter);
    /// ```
    #[must_use]
    pub fn with_max_buffered(mut self, records: usize) -> Self {
        self.buffer.max = records;
        self
    }

    /// Shows at most `chars` characters of each value (input, output, metadata values, …),
    /// followed by `…` and the full length. Display only: nothing else is affected.
    ///
    /// ```
    /// # use std::io::Write;
    /// # use std::sync::{Arc, Mutex};
    /// use langfuse_runtime::export::{ConsoleExporter, SpanExporter};
    /// use langfuse_runtime::{ObservationId, ObservationRecord, ObservationType, TraceId};
    /// # #[derive(Clone, Default)]
    /// # struct Shared(Arc<Mutex<Vec<u8>>>);
    /// # impl Write for Shared {
    /// #     fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
    /// #         self.0.lock().unwrap().write(buf)
    /// #     }
    /// #     fn flush(&mut self) -> std::io::Result<()> {
    /// #         Ok(())
    /// #     }
    /// # }
    /// # let out = Shared::default();
    /// # let printed = || String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    /// let mut exporter = ConsoleExporter::new(out.clone()).with_max_value_chars(20);
    /// let (trace, id) = (TraceId::random(), ObservationId::random());
    /// let mut root = ObservationRecord::new(trace, id, None, "pipeline", ObservationType::Span, 0);
    /// root.input = Some("x".repeat(500).into());
    /// exporter.export(&[root])?;
    /// exporter.end_of_round()?; // a finished root: its tree is printed
    /// assert!(printed().contains('…'));
    /// assert!(!printed().contains(&"x".repeat(21)));
    /// # Ok::<(), langfuse_runtime::export::ExportError>(())
    /// ```
    #[must_use]
    pub fn with_max_value_chars(mut self, chars: usize) -> Self {
        self.max_value_chars = chars;
        self
    }

    /// Renders every ready trace into `out`.
    fn print(&mut self, ready: Vec<Ready>, out: &mut String) {
        for (trace_id, records) in ready {
            self.render(trace_id, &records, out);
        }
    }

    /// Prints every buffered trace, oldest first.
    fn print_all(&mut self) -> Result<(), ExportError> {
        let mut out = String::new();
        let ready = self.buffer.take_all();
        self.print(ready, &mut out);
        self.write(&out)
    }

    fn write(&mut self, text: &str) -> Result<(), ExportError> {
        if text.is_empty() {
            return Ok(());
        }
        self.out
            .write_all(text.as_bytes())
            .and_then(|()| self.out.flush())
            .map_err(|e| ExportError::Other(format!("console exporter: write failed: {e}")))
    }

    /// Renders `records` (one trace, or part of one) as a forest and remembers what was printed.
    fn render(&mut self, trace_id: TraceId, records: &[ObservationRecord], out: &mut String) {
        if records.is_empty() {
            return;
        }
        let renderer = Renderer {
            paint: Paint(self.color),
            max_chars: self.max_value_chars,
            printed: &self.printed,
            records,
        };
        let orphans_of = renderer.render(trace_id, out);
        self.printed.remember(trace_id, records, orphans_of);
    }
}

impl Default for ConsoleExporter {
    /// [`ConsoleExporter::stdout`].
    fn default() -> Self {
        Self::stdout()
    }
}

impl fmt::Debug for ConsoleExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsoleExporter")
            .field("color", &self.color)
            .field("max_buffered", &self.buffer.max)
            .field("max_value_chars", &self.max_value_chars)
            .field("buffered", &self.buffer.len())
            .field("pending_traces", &self.buffer.traces())
            .finish_non_exhaustive()
    }
}

impl SpanExporter for ConsoleExporter {
    /// Holds the batch; only traces evicted over the buffer bound are printed here.
    fn export(&mut self, batch: &[ObservationRecord]) -> Result<(), ExportError> {
        let mut ready = Vec::new();
        self.buffer.accept_batch(batch, &mut ready);
        let mut out = String::new();
        self.print(ready, &mut out);
        self.write(&out)
    }

    /// Prints every trace that became complete during the round.
    fn end_of_round(&mut self) -> Result<(), ExportError> {
        let mut ready = Vec::new();
        self.buffer.take_complete_touched(&self.printed, &mut ready);
        let mut out = String::new();
        self.print(ready, &mut out);
        self.write(&out)
    }

    fn force_flush(&mut self) -> Result<(), ExportError> {
        self.print_all()
    }

    fn shutdown(&mut self) -> Result<(), ExportError> {
        self.print_all()
    }
}
