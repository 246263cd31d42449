//! Prints each finished trace as an indented tree: what a new user sees without Langfuse keys.
//!
//! Children finish before their parents, so records are buffered per trace until the trace's
//! root arrives; then the whole tree is printed at once and forgotten. Whatever is still
//! buffered is printed on `force_flush` and `shutdown`, and the oldest trace is printed early
//! when the buffer is full.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt::{self, Write as _};
use std::io::{self, IsTerminal, Write};
use std::sync::Arc;

use super::{ExportError, SpanExporter};
use crate::ids::{ObservationId, TraceId};
use crate::kind::{Level, ObservationType};
use crate::record::{Metadata, ObservationRecord, TraceAttributes};

/// How many printed observations are remembered, so that a late child can name its parent.
const REMEMBERED: usize = 10_000;
/// At most this many keys of a metadata or usage object are shown.
const MAX_KEYS: usize = 20;
/// Indentation stops growing at this depth (a pathological chain would print quadratic bytes).
const MAX_INDENT_DEPTH: usize = 48;

/// A [`SpanExporter`] that prints each finished trace as an indented tree.
///
/// Records are buffered per trace until the trace's root (an observation without a parent, or
/// one continuing a remote or explicit trace context) arrives, then printed in one piece:
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
/// Children are sorted by start time. Long values are shortened for display only
/// ([`with_max_value_chars`](Self::with_max_value_chars)). [`force_flush`] and [`shutdown`]
/// print traces whose root has not finished yet, marking their top observations
/// `(parent not finished)`. At most [`with_max_buffered`](Self::with_max_buffered) records are
/// held; beyond that the oldest trace is printed early.
///
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
/// root.input = Some("hello".to_owned());
///
/// exporter.export(&[child])?; // buffered: its parent has not finished
/// exporter.export(&[root])?; // prints the whole tree
/// exporter.shutdown()?;
/// # Ok::<(), langfuse_runtime::export::ExportError>(())
/// ```
pub struct ConsoleExporter {
    out: Box<dyn Write + Send>,
    color: bool,
    max_buffered: usize,
    max_value_chars: usize,
    pending: HashMap<TraceId, Pending>,
    buffered: usize,
    next_seq: u64,
    printed: Printed,
}

impl ConsoleExporter {
    /// Records held while waiting for trace roots, unless changed with
    /// [`with_max_buffered`](Self::with_max_buffered).
    pub const DEFAULT_MAX_BUFFERED: usize = 10_000;
    /// Characters of a value shown before it is cut, unless changed with
    /// [`with_max_value_chars`](Self::with_max_value_chars).
    pub const DEFAULT_MAX_VALUE_CHARS: usize = 200;

    /// Prints to standard output, in color when it is a terminal (and `NO_COLOR` is unset).
    #[must_use]
    pub fn stdout() -> Self {
        let color = auto_color(io::stdout().is_terminal());
        Self::new(io::stdout()).with_color(color)
    }

    /// Prints to standard error, in color when it is a terminal (and `NO_COLOR` is unset).
    #[must_use]
    pub fn stderr() -> Self {
        let color = auto_color(io::stderr().is_terminal());
        Self::new(io::stderr()).with_color(color)
    }

    /// Prints to `writer`, without color. Each batch is written with one `write_all`.
    #[must_use]
    pub fn new(writer: impl Write + Send + 'static) -> Self {
        Self {
            out: Box::new(writer),
            color: false,
            max_buffered: Self::DEFAULT_MAX_BUFFERED,
            max_value_chars: Self::DEFAULT_MAX_VALUE_CHARS,
            pending: HashMap::new(),
            buffered: 0,
            next_seq: 0,
            printed: Printed::default(),
        }
    }

    /// Turns ANSI colors on or off.
    #[must_use]
    pub fn with_color(mut self, color: bool) -> Self {
        self.color = color;
        self
    }

    /// Caps the records buffered while waiting for trace roots; when exceeded, the oldest trace
    /// is printed as it is (incomplete) and forgotten.
    #[must_use]
    pub fn with_max_buffered(mut self, records: usize) -> Self {
        self.max_buffered = records;
        self
    }

    /// Shows at most `chars` characters of each value (input, output, metadata values, …),
    /// followed by `…` and the full length. Display only: nothing else is affected.
    #[must_use]
    pub fn with_max_value_chars(mut self, chars: usize) -> Self {
        self.max_value_chars = chars;
        self
    }

    /// Buffers `record`, and prints its sub-tree when it is a root.
    fn accept(&mut self, record: &ObservationRecord, out: &mut String) {
        let trace_id = record.trace_id;
        let next_seq = &mut self.next_seq;
        let pending = self.pending.entry(trace_id).or_insert_with(|| {
            *next_seq += 1;
            Pending { seq: *next_seq, records: Vec::new() }
        });
        let is_root = match record.parent_id {
            None => true,
            Some(parent) => {
                (record.parent_is_remote
                    || record.as_root
                    || self.printed.contains(trace_id, parent))
                    && !pending.records.iter().any(|r| r.id == parent)
            }
        };
        pending.records.push(record.clone());
        self.buffered += 1;
        if is_root {
            let root = pending.records.len() - 1;
            let taken = take_subtree(&mut pending.records, root);
            if pending.records.is_empty() {
                self.pending.remove(&trace_id);
            }
            self.buffered = self.buffered.saturating_sub(taken.len());
            self.render(trace_id, &taken, out);
        }
        while self.buffered > self.max_buffered {
            let Some(oldest) = self.pending.iter().min_by_key(|(_, p)| p.seq).map(|(t, _)| *t)
            else {
                self.buffered = 0;
                break;
            };
            self.print_trace(oldest, out);
        }
    }

    /// Prints whatever is buffered for `trace_id` and forgets it.
    fn print_trace(&mut self, trace_id: TraceId, out: &mut String) {
        if let Some(pending) = self.pending.remove(&trace_id) {
            self.buffered = self.buffered.saturating_sub(pending.records.len());
            self.render(trace_id, &pending.records, out);
        }
    }

    /// Prints every buffered trace, oldest first.
    fn print_all(&mut self) -> Result<(), ExportError> {
        let mut traces: Vec<(u64, TraceId)> =
            self.pending.iter().map(|(t, p)| (p.seq, *t)).collect();
        traces.sort_unstable();
        let mut out = String::new();
        for (_, trace_id) in traces {
            self.print_trace(trace_id, &mut out);
        }
        self.buffered = 0;
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
        for record in records {
            self.printed.entry(trace_id, record.id).name = Some(record.name.clone());
        }
        for parent in orphans_of {
            self.printed.entry(trace_id, parent).early_children += 1;
        }
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
            .field("max_buffered", &self.max_buffered)
            .field("max_value_chars", &self.max_value_chars)
            .field("buffered", &self.buffered)
            .field("pending_traces", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl SpanExporter for ConsoleExporter {
    fn export(&mut self, batch: &[ObservationRecord]) -> Result<(), ExportError> {
        let mut out = String::new();
        for record in batch {
            self.accept(record, &mut out);
        }
        self.write(&out)
    }

    fn force_flush(&mut self) -> Result<(), ExportError> {
        self.print_all()
    }

    fn shutdown(&mut self) -> Result<(), ExportError> {
        self.print_all()
    }
}

fn auto_color(is_terminal: bool) -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
    // Classic Windows consoles only understand ANSI once asked to; Windows Terminal always does.
    let ansi = !cfg!(windows) || std::env::var_os("WT_SESSION").is_some();
    is_terminal && !no_color && !dumb && ansi
}

/// Records of one trace waiting for their root.
struct Pending {
    /// Arrival order of the trace's first record (eviction and flush order).
    seq: u64,
    records: Vec<ObservationRecord>,
}

/// Removes the sub-tree rooted at `records[root]` from `records` and returns it.
fn take_subtree(records: &mut Vec<ObservationRecord>, root: usize) -> Vec<ObservationRecord> {
    let mut children: HashMap<ObservationId, Vec<usize>> = HashMap::new();
    for (i, r) in records.iter().enumerate() {
        if let Some(parent) = r.parent_id {
            children.entry(parent).or_default().push(i);
        }
    }
    let mut take = vec![false; records.len()];
    let mut stack = vec![root];
    while let Some(i) = stack.pop() {
        let Some(slot) = take.get_mut(i) else { continue };
        if std::mem::replace(slot, true) {
            continue;
        }
        if let Some(kids) = children.get(&records[i].id) {
            stack.extend(kids);
        }
    }
    let mut taken = Vec::new();
    let mut kept = Vec::with_capacity(records.len());
    for (record, take) in records.drain(..).zip(take) {
        if take { taken.push(record) } else { kept.push(record) }
    }
    *records = kept;
    taken
}

/// Observations already printed (bounded, oldest forgotten first).
#[derive(Default)]
struct Printed {
    entries: HashMap<(TraceId, ObservationId), PrintedEntry>,
    order: VecDeque<(TraceId, ObservationId)>,
}

#[derive(Default)]
struct PrintedEntry {
    /// Name of the printed observation.
    name: Option<Cow<'static, str>>,
    /// Children printed before this observation finished (flush or eviction).
    early_children: usize,
}

impl Printed {
    fn contains(&self, trace_id: TraceId, id: ObservationId) -> bool {
        self.entries.get(&(trace_id, id)).is_some_and(|e| e.name.is_some())
    }

    fn name(&self, trace_id: TraceId, id: ObservationId) -> Option<&str> {
        self.entries.get(&(trace_id, id)).and_then(|e| e.name.as_deref())
    }

    fn early_children(&self, trace_id: TraceId, id: ObservationId) -> usize {
        self.entries.get(&(trace_id, id)).map_or(0, |e| e.early_children)
    }

    fn entry(&mut self, trace_id: TraceId, id: ObservationId) -> &mut PrintedEntry {
        let key = (trace_id, id);
        if !self.entries.contains_key(&key) {
            while self.order.len() >= REMEMBERED {
                match self.order.pop_front() {
                    Some(old) => {
                        self.entries.remove(&old);
                    }
                    None => break,
                }
            }
            self.order.push_back(key);
        }
        self.entries.entry(key).or_default()
    }
}

/// ANSI styling, or none.
#[derive(Clone, Copy)]
struct Paint(bool);

const BOLD: &str = "1";
const DIM: &str = "2";
const RED: &str = "1;31";
const YELLOW: &str = "33";
const CYAN: &str = "36";
const MAGENTA: &str = "35";

impl Paint {
    fn put(self, out: &mut String, style: &str, text: &str) {
        if self.0 && !style.is_empty() && !text.is_empty() {
            let _ = write!(out, "\x1b[{style}m{text}\x1b[0m");
        } else {
            out.push_str(text);
        }
    }
}

/// One node waiting to be drawn.
struct Frame<'a> {
    idx: usize,
    /// Glyphs of the ancestors' columns.
    prefix: String,
    /// `None` for a top-level line; otherwise whether it is the last of its siblings.
    last: Option<bool>,
    depth: usize,
    /// Trace attributes already shown for the parent.
    parent_trace: Option<&'a Arc<TraceAttributes>>,
}

struct Renderer<'a> {
    paint: Paint,
    max_chars: usize,
    printed: &'a Printed,
    records: &'a [ObservationRecord],
}

impl<'a> Renderer<'a> {
    /// Writes the trace; returns the parents of top-level records marked "parent not finished".
    fn render(&self, trace_id: TraceId, out: &mut String) -> Vec<ObservationId> {
        let records = self.records;
        let n = records.len();
        let plural = if n == 1 { "" } else { "s" };
        self.paint.put(out, BOLD, &format!("trace {trace_id}"));
        out.push(' ');
        self.paint.put(out, DIM, &format!("({n} observation{plural})"));
        out.push('\n');

        let ids: HashSet<ObservationId> = records.iter().map(|r| r.id).collect();
        let mut children: HashMap<ObservationId, Vec<usize>> = HashMap::new();
        let mut tops = Vec::new();
        for (i, r) in records.iter().enumerate() {
            match r.parent_id {
                Some(parent) if ids.contains(&parent) => {
                    children.entry(parent).or_default().push(i);
                }
                _ => tops.push(i),
            }
        }
        let by_start = |&i: &usize| (records[i].start_unix_nanos, i);
        tops.sort_by_key(by_start);
        for kids in children.values_mut() {
            kids.sort_by_key(by_start);
        }
        // Records in a parent cycle are no one's descendants of a top: draw them last.
        let mut next_tops = tops.into_iter().chain(0..n);

        let mut orphans_of = Vec::new();
        let mut visited = vec![false; n];
        let mut stack: Vec<Frame<'a>> = Vec::new();
        loop {
            let frame = match stack.pop() {
                Some(frame) => frame,
                None => match next_tops.find(|&i| !visited[i]) {
                    Some(idx) => Frame {
                        idx,
                        prefix: String::new(),
                        last: None,
                        depth: 0,
                        parent_trace: None,
                    },
                    None => break,
                },
            };
            if std::mem::replace(&mut visited[frame.idx], true) {
                continue;
            }
            let record = &records[frame.idx];
            let kids: Vec<usize> = children
                .get(&record.id)
                .map(|kids| kids.iter().copied().filter(|&k| !visited[k]).collect())
                .unwrap_or_default();

            let (connector, child_prefix) = match frame.last {
                None => ("", frame.prefix.clone()),
                Some(true) => ("└─ ", format!("{}   ", frame.prefix)),
                Some(false) => ("├─ ", format!("{}│  ", frame.prefix)),
            };
            self.paint.put(out, DIM, &format!("{}{connector}", frame.prefix));
            // Tops drawn to break a parent cycle have their parent right here: no note.
            let parent_elsewhere = frame.last.is_none()
                && record.parent_id.is_some_and(|parent| !ids.contains(&parent));
            let orphan = self.label(trace_id, record, parent_elsewhere, out);
            if let Some(parent) = orphan {
                orphans_of.push(parent);
            }
            out.push('\n');

            let bar = if kids.is_empty() { "  " } else { "│ " };
            let detail_prefix = format!("{child_prefix}{bar}");
            self.details(record, frame.parent_trace, &detail_prefix, out);

            let (kid_prefix, kid_depth) = if frame.depth >= MAX_INDENT_DEPTH {
                (frame.prefix, frame.depth)
            } else {
                (child_prefix, frame.depth + 1)
            };
            let last_kid = kids.len().saturating_sub(1);
            for (pos, &kid) in kids.iter().enumerate().rev() {
                stack.push(Frame {
                    idx: kid,
                    prefix: kid_prefix.clone(),
                    last: Some(pos == last_kid),
                    depth: kid_depth,
                    parent_trace: record.trace.as_ref(),
                });
            }
        }
        out.push('\n');
        orphans_of
    }

    /// `name [type] duration  LEVEL: message  (notes)`. Returns the parent id of a top-level
    /// record whose parent has simply not finished.
    fn label(
        &self,
        trace_id: TraceId,
        r: &ObservationRecord,
        parent_elsewhere: bool,
        out: &mut String,
    ) -> Option<ObservationId> {
        let p = self.paint;
        p.put(out, BOLD, &self.value(&r.name));
        out.push(' ');
        let type_color = if r.observation_type.is_generation_like() { MAGENTA } else { CYAN };
        p.put(out, type_color, &format!("[{}]", r.observation_type));
        if r.observation_type != ObservationType::Event {
            out.push(' ');
            out.push_str(&format_duration(r.end_unix_nanos.saturating_sub(r.start_unix_nanos)));
        }

        let message = r.status_message().map(|m| self.value(m));
        let (style, level) = match r.level {
            Some(Level::Error) => (RED, Some(Level::Error)),
            Some(Level::Warning) => (YELLOW, Some(Level::Warning)),
            Some(Level::Debug) => (DIM, Some(Level::Debug)),
            Some(Level::Default) if message.is_some() => ("", Some(Level::Default)),
            Some(Level::Default) | None => ("", None),
        };
        match (level, message) {
            (Some(level), Some(message)) => {
                out.push_str("  ");
                p.put(out, style, &format!("{level}: {message}"));
            }
            (Some(level), None) => {
                out.push_str("  ");
                p.put(out, style, level.as_str());
            }
            (None, Some(message)) => {
                out.push_str("  ");
                p.put(out, DIM, "status: ");
                out.push_str(&message);
            }
            (None, None) => {}
        }

        let mut notes: Vec<String> = Vec::new();
        let mut orphan_of = None;
        if let (true, Some(parent)) = (parent_elsewhere, r.parent_id) {
            if let Some(name) = self.printed.name(trace_id, parent) {
                notes.push(format!("parent {} printed earlier", self.value(name)));
            } else if r.parent_is_remote {
                notes.push(format!("remote parent {parent}"));
            } else if r.as_root {
                notes.push(format!("parent {parent} from trace context"));
            } else {
                notes.push("parent not finished".to_owned());
                orphan_of = Some(parent);
            }
        }
        match self.printed.early_children(trace_id, r.id) {
            0 => {}
            1 => notes.push("+1 child printed earlier".to_owned()),
            n => notes.push(format!("+{n} children printed earlier")),
        }
        for note in notes {
            out.push_str("  ");
            p.put(out, DIM, &format!("({note})"));
        }
        orphan_of
    }

    /// Continuation lines under an observation.
    fn details(
        &self,
        r: &ObservationRecord,
        parent_trace: Option<&Arc<TraceAttributes>>,
        prefix: &str,
        out: &mut String,
    ) {
        if let Some(input) = &r.input {
            self.line(out, prefix, &[("input", self.value(input))]);
        }
        if let Some(output) = &r.output {
            self.line(out, prefix, &[("output", self.value(output))]);
        }
        if let Some(g) = r.generation() {
            let mut parts = Vec::new();
            if let Some(model) = &g.model {
                parts.push(("model", self.value(model)));
            }
            if let Some(usage) = &g.usage_details {
                parts.push(("usage", self.object(usage)));
            }
            if let Some(cost) = &g.cost_details {
                parts.push(("cost", self.object(cost)));
            }
            self.line(out, prefix, &parts);

            let mut parts = Vec::new();
            if let Some(params) = &g.model_parameters {
                parts.push(("params", self.object(params)));
            }
            if let Some(name) = &g.prompt_name {
                let prompt = match g.prompt_version {
                    Some(v) => format!("{} v{v}", self.value(name)),
                    None => self.value(name),
                };
                parts.push(("prompt", prompt));
            }
            if let Some(first) = &g.completion_start_time {
                match parse_rfc3339_nanos(first)
                    .and_then(|t| u64::try_from(t - i128::from(r.start_unix_nanos)).ok())
                {
                    Some(after) => {
                        parts.push(("first token", format!("+{}", format_duration(after))));
                    }
                    None => parts.push(("completion start", self.value(first))),
                }
            }
            self.line(out, prefix, &parts);
        }
        if !r.metadata().is_empty() {
            self.line(out, prefix, &[("metadata", self.metadata(r.metadata()))]);
        }
        if let Some(value) = r.metadata_value() {
            self.line(out, prefix, &[("metadata", self.value(value))]);
        }
        if let Some(version) = r.version() {
            self.line(out, prefix, &[("version", self.value(version))]);
        }
        let trace = r
            .trace
            .as_ref()
            .filter(|t| parent_trace.is_none_or(|p| !Arc::ptr_eq(p, t) && ***t != **p));
        let mut attrs = trace.map(|t| self.trace_attributes(t)).unwrap_or_default();
        if r.trace_public {
            attrs.push("public".to_owned());
        }
        if !attrs.is_empty() {
            self.line(out, prefix, &[("trace", attrs.join(", "))]);
        }
    }

    fn trace_attributes(&self, t: &TraceAttributes) -> Vec<String> {
        let mut attrs = Vec::new();
        let mut push = |key: &str, value: &Option<String>| {
            if let Some(value) = value {
                attrs.push(format!("{key}={}", self.value(value)));
            }
        };
        push("name", &t.name);
        push("user", &t.user_id);
        push("session", &t.session_id);
        if !t.tags.is_empty() {
            let tags: Vec<String> = t.tags.iter().map(|tag| self.value(tag)).collect();
            attrs.push(format!("tags=[{}]", tags.join(", ")));
        }
        let mut push = |key: &str, value: &Option<String>| {
            if let Some(value) = value {
                attrs.push(format!("{key}={}", self.value(value)));
            }
        };
        push("env", &t.environment);
        push("version", &t.version);
        if let Some(name) = &t.prompt_name {
            match t.prompt_version {
                Some(v) => attrs.push(format!("prompt={} v{v}", self.value(name))),
                None => attrs.push(format!("prompt={}", self.value(name))),
            }
        }
        if !t.metadata.is_empty() {
            attrs.push(format!("metadata={}", self.metadata(&t.metadata)));
        }
        attrs
    }

    /// One continuation line of `key: value` parts; nothing when `parts` is empty.
    fn line(&self, out: &mut String, prefix: &str, parts: &[(&str, String)]) {
        if parts.is_empty() {
            return;
        }
        self.paint.put(out, DIM, prefix);
        for (i, (key, value)) in parts.iter().enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            self.paint.put(out, DIM, &format!("{key}:"));
            out.push(' ');
            out.push_str(value);
        }
        out.push('\n');
    }

    fn value(&self, text: &str) -> String {
        display_value(text, self.max_chars)
    }

    /// A JSON object as `{key: value, …}`; anything else as the shortened text.
    fn object(&self, json: &str) -> String {
        match split_object(json) {
            Some(members) => self.members(members.into_iter()),
            None => self.value(json),
        }
    }

    fn metadata(&self, metadata: &Metadata) -> String {
        self.members(metadata.iter().map(|(k, v)| (display_key(k), v)))
    }

    fn members<'m>(&self, members: impl ExactSizeIterator<Item = (String, &'m str)>) -> String {
        let total = members.len();
        let mut shown: Vec<String> =
            members.take(MAX_KEYS).map(|(k, v)| format!("{k}: {}", self.value(v))).collect();
        if total > MAX_KEYS {
            shown.push(format!("… +{} more", total - MAX_KEYS));
        }
        format!("{{{}}}", shown.join(", "))
    }
}

/// `850 ns`, `12.3 µs`, `1.234 ms`, `2.500 s`.
fn format_duration(nanos: u64) -> String {
    if nanos < 1_000 {
        return format!("{nanos} ns");
    }
    if nanos < 1_000_000 {
        let tenths = (nanos + 50) / 100;
        if tenths < 10_000 {
            return format!("{}.{} µs", tenths / 10, tenths % 10);
        }
    }
    if nanos < 1_000_000_000 {
        let micros = (nanos + 500) / 1_000;
        if micros < 1_000_000 {
            return format!("{}.{:03} ms", micros / 1_000, micros % 1_000);
        }
    }
    let millis = nanos / 1_000_000 + u64::from(nanos % 1_000_000 >= 500_000);
    format!("{}.{:03} s", millis / 1_000, millis % 1_000)
}

/// Control characters escaped, cut after `max` characters with `… (N chars)`.
fn display_value(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max.saturating_mul(4)) + 16);
    let mut chars = text.chars();
    for c in chars.by_ref().take(max) {
        push_escaped(&mut out, c);
    }
    if chars.next().is_some() {
        let total = text.chars().count();
        let _ = write!(out, "… ({total} chars)");
    }
    out
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if c.is_control() => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
        c => out.push(c),
    }
}

/// A key unquoted when it is a plain word, else JSON-quoted.
fn display_key(key: &str) -> String {
    let plain = !key.is_empty()
        && key.chars().count() <= 64
        && key.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if plain { key.to_owned() } else { serde_json::to_string(key).unwrap_or_default() }
}

/// The top-level members of a JSON object, in order, keys made displayable; `None` when the
/// text is not an object.
fn split_object<'j>(json: &'j str) -> Option<Vec<(String, &'j str)>> {
    let inner = json.trim().strip_prefix('{')?.strip_suffix('}')?;
    let mut members = Vec::new();
    if inner.trim().is_empty() {
        return Some(members);
    }
    let member = |text: &'j str, colon: Option<usize>| -> Option<(String, &'j str)> {
        let colon = colon?;
        let key = text.get(..colon)?.trim();
        let value = text.get(colon + 1..)?.trim();
        let raw = key.strip_prefix('"')?.strip_suffix('"')?;
        if value.is_empty() {
            return None;
        }
        let key = if raw.contains('\\') {
            serde_json::from_str::<String>(key)
                .ok()
                .map_or_else(|| key.to_owned(), |k| display_key(&k))
        } else {
            display_key(raw)
        };
        Some((key, value))
    };
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    let (mut start, mut colon) = (0, None);
    for (i, b) in inner.bytes().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.checked_sub(1)?,
            b':' if depth == 0 && colon.is_none() => colon = Some(i - start),
            b',' if depth == 0 => {
                members.push(member(inner.get(start..i)?, colon)?);
                start = i + 1;
                colon = None;
            }
            _ => {}
        }
    }
    if in_string || depth != 0 {
        return None;
    }
    members.push(member(inner.get(start..)?, colon)?);
    Some(members)
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`, quoted or not, to Unix nanoseconds.
fn parse_rfc3339_nanos(text: &str) -> Option<i128> {
    let s = text.trim();
    let s = s.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(s);
    let digits = |from: usize, to: usize| -> Option<i128> {
        let part = s.get(from..to)?;
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (digits(0, 4)?, digits(5, 7)?, digits(8, 10)?);
    let (hour, minute, second) = (digits(11, 13)?, digits(14, 16)?, digits(17, 19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    let mut rest = s.get(19..)?;
    let mut nanos: i128 = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let len = frac.bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 {
            return None;
        }
        for (i, b) in frac.bytes().take(len).enumerate() {
            if i < 9 {
                nanos = nanos * 10 + i128::from(b - b'0');
            }
        }
        for _ in len..9 {
            nanos *= 10;
        }
        rest = frac.get(len..)?;
    }
    let offset_secs: i128 = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let off = rest.get(1..)?;
            if off.len() != 5 || off.as_bytes()[2] != b':' {
                return None;
            }
            let h: i128 = off.get(..2)?.parse().ok()?;
            let m: i128 = off.get(3..)?.parse().ok()?;
            sign * (h * 3600 + m * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    Some(secs * 1_000_000_000 + nanos)
}

/// Howard Hinnant's days-from-civil (proleptic Gregorian), the inverse of `clock`'s.
fn days_from_civil(year: i128, month: i128, day: i128) -> i128 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use std::sync::{Mutex, PoisonError};

    use super::*;
    use crate::record::GenerationFields;

    /// A writer the test can read back after handing a clone to the exporter.
    #[derive(Clone, Default)]
    struct SharedBuf(Arc<Mutex<Vec<u8>>>);

    impl Write for SharedBuf {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl SharedBuf {
        /// Everything written so far, cleared.
        fn take(&self) -> String {
            let bytes = std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner));
            String::from_utf8(bytes).unwrap()
        }
    }

    fn exporter() -> (ConsoleExporter, SharedBuf) {
        let buf = SharedBuf::default();
        (ConsoleExporter::new(buf.clone()), buf)
    }

    /// 2025-01-02T03:04:05Z
    const T0: u64 = 1_735_787_045_000_000_000;

    fn trace_id() -> TraceId {
        TraceId::from_u_int(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736).unwrap()
    }

    fn id(n: u64) -> ObservationId {
        ObservationId::from_u_int(n).unwrap()
    }

    /// An observation of `trace_id()` starting `start_us` after `T0` and lasting `nanos`.
    fn rec(
        n: u64,
        parent: Option<u64>,
        name: &'static str,
        ty: ObservationType,
        start_us: u64,
        nanos: u64,
    ) -> ObservationRecord {
        let start = T0 + start_us * 1_000;
        let mut r = ObservationRecord::new(trace_id(), id(n), parent.map(id), name, ty, start);
        r.end_unix_nanos = start + nanos;
        r
    }

    /// `pipeline` → (`db_query` → `connect`), (`chat_step` → `cache_hit` event), in end order.
    fn pipeline_records() -> Vec<ObservationRecord> {
        let attrs = Arc::new(TraceAttributes {
            name: Some("quickstart".into()),
            user_id: Some("user-1".into()),
            session_id: Some("session-42".into()),
            tags: vec!["demo".into(), "docs".into()],
            ..TraceAttributes::default()
        });
        let mut connect = rec(3, Some(2), "connect", ObservationType::Span, 150, 42_300);
        connect.trace = Some(attrs.clone());
        let mut db = rec(2, Some(1), "db_query", ObservationType::Span, 100, 2_100_000);
        db.input = Some("SELECT * FROM docs WHERE topic = 'rust'".into());
        db.metadata_mut().insert("rows", "3".into());
        db.metadata_mut().insert("table", "\"docs\"".into());
        db.trace = Some(attrs.clone());
        let mut hit = rec(5, Some(4), "cache_hit", ObservationType::Event, 2_500, 0);
        hit.trace = Some(attrs.clone());
        let mut chat = rec(4, Some(1), "chat_step", ObservationType::Generation, 2_300, 8_000_000);
        chat.input = Some(r#"[{"role":"user","content":"What is Rust?"}]"#.into());
        chat.output = Some("A systems programming language.".into());
        *chat.generation_mut() = GenerationFields {
            model: Some("gpt-4o-mini".into()),
            model_parameters: Some(r#"{"temperature":0.2,"max_tokens":128}"#.into()),
            usage_details: Some(r#"{"input":12,"output":3,"total":15}"#.into()),
            cost_details: Some(r#"{"input":0.00012,"output":0.00006,"total":0.00018}"#.into()),
            completion_start_time: Some("\"2025-01-02T03:04:05.005300Z\"".into()),
            prompt_name: Some("qa".into()),
            prompt_version: Some(3),
        };
        chat.trace = Some(attrs.clone());
        let mut root = rec(1, None, "pipeline", ObservationType::Span, 0, 12_500_000);
        root.input = Some(r#"{"question":"What is Rust?"}"#.into());
        root.output = Some("A systems programming language.".into());
        root.trace = Some(attrs);
        vec![connect, db, hit, chat, root]
    }

    const PIPELINE_TREE: &str = "\
trace 4bf92f3577b34da6a3ce929d0e0e4736 (5 observations)
pipeline [span] 12.500 ms
│ input: {\"question\":\"What is Rust?\"}
│ output: A systems programming language.
│ trace: name=quickstart, user=user-1, session=session-42, tags=[demo, docs]
├─ db_query [span] 2.100 ms
│  │ input: SELECT * FROM docs WHERE topic = 'rust'
│  │ metadata: {rows: 3, table: \"docs\"}
│  └─ connect [span] 42.3 µs
└─ chat_step [generation] 8.000 ms
   │ input: [{\"role\":\"user\",\"content\":\"What is Rust?\"}]
   │ output: A systems programming language.
   │ model: gpt-4o-mini  usage: {input: 12, output: 3, total: 15}  \
cost: {input: 0.00012, output: 0.00006, total: 0.00018}
   │ params: {temperature: 0.2, max_tokens: 128}  prompt: qa v3  first token: +3.000 ms
   └─ cache_hit [event]

";

    #[test]
    fn three_level_trace_prints_once_its_root_arrives() {
        let (mut exporter, buf) = exporter();
        exporter.export(&pipeline_records()).unwrap();
        assert_eq!(buf.take(), PIPELINE_TREE);
        assert_eq!(exporter.buffered, 0);
        assert!(exporter.pending.is_empty());
        exporter.force_flush().unwrap();
        exporter.shutdown().unwrap();
        assert_eq!(buf.take(), "");
    }

    #[test]
    fn children_first_across_two_exports() {
        let (mut exporter, buf) = exporter();
        let mut records = pipeline_records();
        let root = records.pop().unwrap();
        // Children sorted by start time, not by arrival.
        records.reverse();
        exporter.export(&records).unwrap();
        assert_eq!(buf.take(), "");
        assert_eq!(exporter.buffered, 4);
        exporter.export(&[root]).unwrap();
        assert_eq!(buf.take(), PIPELINE_TREE);
        assert_eq!(exporter.buffered, 0);
    }

    #[test]
    fn error_warning_and_status() {
        let (mut exporter, buf) = exporter();
        let mut charge = rec(2, Some(1), "charge_card", ObservationType::Tool, 10, 950);
        charge.level = Some(Level::Error);
        charge.set_status_message(Some("card declined:\ninsufficient funds".into()));
        charge.output = Some(r#"{"code":402}"#.into());
        let mut retry = rec(3, Some(1), "retry", ObservationType::Span, 20, 1_234_567);
        retry.level = Some(Level::Warning);
        let mut audit = rec(4, Some(1), "audit", ObservationType::Span, 30, 999_960);
        audit.level = Some(Level::Default);
        let mut root = rec(1, None, "checkout", ObservationType::Agent, 0, 2_345_678_901);
        root.set_status_message(Some("gave up".into()));
        root.level = Some(Level::Error);
        let mut note = rec(5, None, "note", ObservationType::Span, 0, 0);
        note.set_status_message(Some("just saying".into()));
        exporter.export(&[charge, retry, audit, root, note]).unwrap();
        assert_eq!(
            buf.take(),
            "\
trace 4bf92f3577b34da6a3ce929d0e0e4736 (4 observations)
checkout [agent] 2.346 s  ERROR: gave up
├─ charge_card [tool] 950 ns  ERROR: card declined:\\ninsufficient funds
│    output: {\"code\":402}
├─ retry [span] 1.235 ms  WARNING
└─ audit [span] 1.000 ms

trace 4bf92f3577b34da6a3ce929d0e0e4736 (1 observation)
note [span] 0 ns  status: just saying

"
        );
    }

    #[test]
    fn incomplete_trace_is_printed_on_force_flush() {
        let (mut exporter, buf) = exporter();
        let mut records = pipeline_records();
        let root = records.pop().unwrap();
        exporter.export(&records).unwrap();
        assert_eq!(buf.take(), "");
        exporter.force_flush().unwrap();
        assert_eq!(
            buf.take(),
            "\
trace 4bf92f3577b34da6a3ce929d0e0e4736 (4 observations)
db_query [span] 2.100 ms  (parent not finished)
│ input: SELECT * FROM docs WHERE topic = 'rust'
│ metadata: {rows: 3, table: \"docs\"}
│ trace: name=quickstart, user=user-1, session=session-42, tags=[demo, docs]
└─ connect [span] 42.3 µs
chat_step [generation] 8.000 ms  (parent not finished)
│ input: [{\"role\":\"user\",\"content\":\"What is Rust?\"}]
│ output: A systems programming language.
│ model: gpt-4o-mini  usage: {input: 12, output: 3, total: 15}  \
cost: {input: 0.00012, output: 0.00006, total: 0.00018}
│ params: {temperature: 0.2, max_tokens: 128}  prompt: qa v3  first token: +3.000 ms
│ trace: name=quickstart, user=user-1, session=session-42, tags=[demo, docs]
└─ cache_hit [event]

"
        );
        assert_eq!(exporter.buffered, 0);
        // The root arrives later and says where its children went.
        exporter.export(&[root]).unwrap();
        assert_eq!(
            buf.take(),
            "\
trace 4bf92f3577b34da6a3ce929d0e0e4736 (1 observation)
pipeline [span] 12.500 ms  (+2 children printed earlier)
  input: {\"question\":\"What is Rust?\"}
  output: A systems programming language.
  trace: name=quickstart, user=user-1, session=session-42, tags=[demo, docs]

"
        );
    }

    #[test]
    fn shutdown_prints_what_is_left() {
        let (mut exporter, buf) = exporter();
        exporter.export(&[rec(2, Some(1), "orphan", ObservationType::Span, 0, 5_000)]).unwrap();
        exporter.shutdown().unwrap();
        assert_eq!(
            buf.take(),
            "trace 4bf92f3577b34da6a3ce929d0e0e4736 (1 observation)\n\
             orphan [span] 5.0 µs  (parent not finished)\n\n"
        );
    }

    #[test]
    fn long_values_are_truncated_for_display_only() {
        let (mut exporter, buf) = exporter();
        let long = "x".repeat(500);
        let mut root = rec(1, None, "big", ObservationType::Span, 0, 1_000_000);
        root.input = Some(long.clone());
        root.output = Some("é".repeat(201));
        root.metadata_mut().insert("blob", format!("\"{}\"", "y".repeat(300)));
        exporter.export(std::slice::from_ref(&root)).unwrap();
        let expected = format!(
            "trace 4bf92f3577b34da6a3ce929d0e0e4736 (1 observation)\n\
             big [span] 1.000 ms\n  \
             input: {}… (500 chars)\n  \
             output: {}… (201 chars)\n  \
             metadata: {{blob: \"{}… (302 chars)}}\n\n",
            "x".repeat(200),
            "é".repeat(200),
            "y".repeat(199),
        );
        assert_eq!(buf.take(), expected);
        assert_eq!(root.input.as_deref(), Some(long.as_str()));

        let mut exporter = ConsoleExporter::new(buf.clone()).with_max_value_chars(5);
        let mut root = rec(1, None, "a\tname\u{1b}", ObservationType::Span, 0, 1_000_000);
        root.input = Some("line one\nline two".into());
        root.output = Some("\u{1b}[2J".into());
        exporter.export(&[root]).unwrap();
        assert_eq!(
            buf.take(),
            "trace 4bf92f3577b34da6a3ce929d0e0e4736 (1 observation)\n\
             a\\tnam… (7 chars) [span] 1.000 ms\n  \
             input: line … (17 chars)\n  \
             output: \\u{1b}[2J\n\n"
        );
    }

    #[test]
    fn oldest_trace_is_printed_when_the_buffer_is_full() {
        let (exporter, buf) = exporter();
        let mut exporter = exporter.with_max_buffered(2);
        let other = TraceId::from_u_int(7).unwrap();
        let mut b = rec(20, Some(10), "b_child", ObservationType::Span, 0, 1_000);
        b.trace_id = other;
        exporter
            .export(&[
                rec(2, Some(1), "a_child_1", ObservationType::Span, 0, 1_000),
                rec(3, Some(1), "a_child_2", ObservationType::Span, 5, 1_000),
            ])
            .unwrap();
        assert_eq!(buf.take(), "");
        exporter.export(&[b]).unwrap();
        assert_eq!(
            buf.take(),
            "\
trace 4bf92f3577b34da6a3ce929d0e0e4736 (2 observations)
a_child_1 [span] 1.0 µs  (parent not finished)
a_child_2 [span] 1.0 µs  (parent not finished)

"
        );
        assert_eq!(exporter.buffered, 1);
        exporter.force_flush().unwrap();
        assert!(buf.take().starts_with("trace 00000000000000000000000000000007 (1 observation)\n"));
    }

    #[test]
    fn late_child_names_its_printed_parent() {
        let (mut exporter, buf) = exporter();
        exporter.export(&[rec(1, None, "handler", ObservationType::Span, 0, 1_000_000)]).unwrap();
        buf.take();
        // A detached task that outlived its parent, with a child of its own.
        exporter
            .export(&[
                rec(3, Some(2), "write", ObservationType::Span, 1_200, 300_000),
                rec(2, Some(1), "background", ObservationType::Span, 1_100, 5_000_000),
            ])
            .unwrap();
        assert_eq!(
            buf.take(),
            "\
trace 4bf92f3577b34da6a3ce929d0e0e4736 (2 observations)
background [span] 5.000 ms  (parent handler printed earlier)
└─ write [span] 300.0 µs

"
        );
        assert_eq!(exporter.buffered, 0);
    }

    #[test]
    fn remote_and_explicit_parents_are_roots() {
        let (mut exporter, buf) = exporter();
        let mut remote = rec(2, Some(0xabc), "server", ObservationType::Span, 0, 3_000_000);
        remote.parent_is_remote = true;
        let mut explicit = rec(4, Some(0xdef), "job", ObservationType::Chain, 0, 1_000_000);
        explicit.as_root = true;
        explicit.trace_public = true;
        exporter
            .export(&[rec(3, Some(2), "work", ObservationType::Span, 10, 1_000_000), remote])
            .unwrap();
        exporter.export(&[explicit]).unwrap();
        assert_eq!(
            buf.take(),
            "\
trace 4bf92f3577b34da6a3ce929d0e0e4736 (2 observations)
server [span] 3.000 ms  (remote parent 0000000000000abc)
└─ work [span] 1.000 ms

trace 4bf92f3577b34da6a3ce929d0e0e4736 (1 observation)
job [chain] 1.000 ms  (parent 0000000000000def from trace context)
  trace: public

"
        );
    }

    #[test]
    fn trace_attributes_are_repeated_only_when_they_change() {
        let (mut exporter, buf) = exporter();
        let first = Arc::new(TraceAttributes { user_id: Some("u1".into()), ..Default::default() });
        let mut metadata = Metadata::default();
        metadata.insert("tier", "\"gold\"".into());
        let second = Arc::new(TraceAttributes {
            user_id: Some("u1".into()),
            session_id: Some("s1".into()),
            environment: Some("staging".into()),
            version: Some("1.2".into()),
            prompt_name: Some("qa".into()),
            prompt_version: Some(2),
            metadata,
            ..Default::default()
        });
        let mut same = rec(2, Some(1), "same", ObservationType::Span, 1, 1_000);
        same.trace = Some(Arc::new((*first).clone()));
        let mut changed = rec(3, Some(1), "changed", ObservationType::Span, 2, 1_000);
        changed.trace = Some(second);
        changed.set_version(Some("v7".into()));
        changed.set_metadata_value(Some("[1,2]".into()));
        let mut root = rec(1, None, "root", ObservationType::Span, 0, 1_000_000);
        root.trace = Some(first);
        exporter.export(&[same, changed, root]).unwrap();
        assert_eq!(
            buf.take(),
            "\
trace 4bf92f3577b34da6a3ce929d0e0e4736 (3 observations)
root [span] 1.000 ms
│ trace: user=u1
├─ same [span] 1.0 µs
└─ changed [span] 1.0 µs
     metadata: [1,2]
     version: v7
     trace: user=u1, session=s1, env=staging, version=1.2, prompt=qa v2, metadata={tier: \"gold\"}

"
        );
    }

    #[test]
    fn traces_are_flushed_oldest_first_and_cycles_terminate() {
        let (mut exporter, buf) = exporter();
        let other = TraceId::from_u_int(1).unwrap();
        let mut x = rec(10, Some(11), "x", ObservationType::Span, 0, 1_000);
        x.trace_id = other;
        let mut y = rec(11, Some(10), "y", ObservationType::Span, 1, 1_000);
        y.trace_id = other;
        let mut selfish = rec(12, Some(12), "self", ObservationType::Span, 2, 1_000);
        selfish.trace_id = other;
        exporter.export(&[x, y, selfish]).unwrap();
        exporter.export(&[rec(2, Some(1), "later", ObservationType::Span, 0, 1_000)]).unwrap();
        exporter.force_flush().unwrap();
        assert_eq!(
            buf.take(),
            "\
trace 00000000000000000000000000000001 (3 observations)
x [span] 1.0 µs
└─ y [span] 1.0 µs
self [span] 1.0 µs

trace 4bf92f3577b34da6a3ce929d0e0e4736 (1 observation)
later [span] 1.0 µs  (parent not finished)

"
        );
    }

    #[test]
    fn deep_chains_do_not_overflow() {
        let (mut exporter, buf) = exporter();
        let depth: usize = 5_000;
        let records: Vec<_> = (2..=depth)
            .rev()
            .map(|n| n as u64)
            .map(|n| rec(n, Some(n - 1), "step", ObservationType::Span, n, 1_000))
            .chain([rec(1, None, "top", ObservationType::Span, 0, 1_000)])
            .collect();
        exporter.export(&records).unwrap();
        let out = buf.take();
        assert_eq!(out.lines().count(), depth + 2);
        let widest = out.lines().map(|l| l.chars().count()).max().unwrap();
        assert!(widest < 3 * MAX_INDENT_DEPTH + 40, "{widest}");
    }

    #[test]
    fn write_errors_are_returned_not_panicked() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::BrokenPipe, "pipe closed"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut exporter = ConsoleExporter::new(Broken);
        let err = exporter.export(&pipeline_records()).unwrap_err();
        assert_eq!(err, ExportError::Other("console exporter: write failed: pipe closed".into()));
        assert_eq!(exporter.buffered, 0);
        assert_eq!(exporter.export(&[]), Ok(()));
        assert_eq!(exporter.force_flush(), Ok(()));
    }

    #[test]
    fn color_output_styles_names_types_and_levels() {
        let buf = SharedBuf::default();
        let mut exporter = ConsoleExporter::new(buf.clone()).with_color(true);
        let mut root = rec(1, None, "boom", ObservationType::Generation, 0, 1_000);
        root.level = Some(Level::Error);
        root.input = Some("hi".into());
        exporter.export(&[root]).unwrap();
        assert_eq!(
            buf.take(),
            "\x1b[1mtrace 4bf92f3577b34da6a3ce929d0e0e4736\x1b[0m \x1b[2m(1 observation)\x1b[0m\n\
             \x1b[1mboom\x1b[0m \x1b[35m[generation]\x1b[0m 1.0 µs  \x1b[1;31mERROR\x1b[0m\n\
             \x1b[2m  \x1b[0m\x1b[2minput:\x1b[0m hi\n\n"
        );
    }

    #[test]
    fn durations_use_a_readable_unit() {
        let cases = [
            (0, "0 ns"),
            (999, "999 ns"),
            (1_000, "1.0 µs"),
            (12_345, "12.3 µs"),
            (999_949, "999.9 µs"),
            (999_950, "1.000 ms"),
            (1_234_567, "1.235 ms"),
            (999_999_499, "999.999 ms"),
            (999_999_500, "1.000 s"),
            (61_234_000_000, "61.234 s"),
            (u64::MAX, "18446744073.710 s"),
        ];
        for (nanos, text) in cases {
            assert_eq!(format_duration(nanos), text, "{nanos}");
        }
    }

    #[test]
    fn json_objects_are_shown_relaxed_in_order() {
        let show = |json: &str| {
            Renderer {
                paint: Paint(false),
                max_chars: 12,
                printed: &Printed::default(),
                records: &[],
            }
            .object(json)
        };
        assert_eq!(
            show(r#"{"b":1,"a":{"x":[1,2]},"c":"d,e:f"}"#),
            r#"{b: 1, a: {"x":[1,2]}, c: "d,e:f"}"#
        );
        assert_eq!(
            show(r#" { "with space" : true , "q\"k": null } "#),
            r#"{"with space": true, "q\"k": null}"#
        );
        assert_eq!(show("{}"), "{}");
        assert_eq!(show("[1,2]"), "[1,2]");
        assert_eq!(show(r#"{"a":}"#), r#"{"a":}"#);
        assert_eq!(show(r#"{"a":"unterminated}"#), r#"{"a":"unterm… (19 chars)"#);
        assert_eq!(show(r#"{"a":1]}"#), r#"{"a":1]}"#);
        let many: Vec<String> = (0..25).map(|i| format!("\"k{i}\":{i}")).collect();
        let shown = show(&format!("{{{}}}", many.join(",")));
        assert!(shown.starts_with("{k0: 0, k1: 1, "), "{shown}");
        assert!(shown.ends_with("k19: 19, … +5 more}"), "{shown}");
    }

    #[test]
    fn parses_completion_start_times() {
        assert_eq!(parse_rfc3339_nanos("\"2025-01-02T03:04:05Z\""), Some(i128::from(T0)));
        assert_eq!(
            parse_rfc3339_nanos("2025-01-02T03:04:05.678000Z"),
            Some(i128::from(T0) + 678_000_000)
        );
        assert_eq!(
            parse_rfc3339_nanos("2025-01-02T04:04:05.5+01:00"),
            Some(i128::from(T0) + 500_000_000)
        );
        assert_eq!(
            parse_rfc3339_nanos("2000-02-29T00:00:00.000001Z"),
            Some(951_782_400_000_001_000)
        );
        for bad in [
            "",
            "2025-01-02",
            "2025-13-02T03:04:05Z",
            "2025-01-02T03:04:05",
            "2025-01-02T03:04:05.Z",
            "2025-01-02T03:04:05+0100",
            "2025-01-02T03:04:0é",
        ] {
            assert_eq!(parse_rfc3339_nanos(bad), None, "{bad}");
        }
        // Unparsable or earlier than the start: shown as given.
        let (mut exporter, buf) = exporter();
        let mut g = rec(1, None, "gen", ObservationType::Generation, 0, 1_000);
        *g.generation_mut() = GenerationFields {
            completion_start_time: Some("\"yesterday\"".into()),
            ..Default::default()
        };
        exporter.export(&[g]).unwrap();
        assert!(buf.take().contains("\n  completion start: \"yesterday\"\n"));
    }
}
