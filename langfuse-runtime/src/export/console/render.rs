//! Lines of text for a set of records of one trace: the indented tree, each observation's label
//! and its continuation lines.

use std::sync::Arc;

use super::format::{display_key, display_value, format_duration};
use super::printed::Printed;
use super::style::{BOLD, CYAN, DIM, MAGENTA, Paint, RED, YELLOW};
use super::tree::Forest;
use crate::ids::{ObservationId, TraceId};
use crate::kind::{Level, ObservationType};
use crate::payload::JsonText;
use crate::record::{Metadata, ObservationRecord, TraceAttributes};

/// At most this many keys of a metadata or usage object are shown.
const MAX_KEYS: usize = 20;
/// Indentation stops growing at this depth (a pathological chain would print quadratic bytes).
pub(super) const MAX_INDENT_DEPTH: usize = 48;

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

/// Draws one set of records of a trace.
pub(super) struct Renderer<'a> {
    pub(super) paint: Paint,
    pub(super) max_chars: usize,
    pub(super) printed: &'a Printed,
    pub(super) records: &'a [ObservationRecord],
}

impl<'a> Renderer<'a> {
    /// Writes the trace; returns the parents of top-level records marked "parent not finished".
    pub(super) fn render(&self, trace_id: TraceId, out: &mut String) -> Vec<ObservationId> {
        let records = self.records;
        let n = records.len();
        let plural = if n == 1 { "" } else { "s" };
        self.paint.put(out, BOLD, &format!("trace {trace_id}"));
        out.push(' ');
        self.paint.put(out, DIM, &format!("({n} observation{plural})"));
        out.push('\n');

        let Forest { ids, children, tops } = Forest::new(records);
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
                match first.checked_sub(r.start_unix_nanos) {
                    Some(after) => {
                        parts.push(("first token", format!("+{}", format_duration(after))));
                    }
                    None => parts.push(("completion start", crate::clock::rfc3339_micros(*first))),
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
        let is_root = r.parent_id.is_none() || r.as_root;
        for score in super::scores::take_for(r.trace_id, r.id, is_root) {
            self.line(out, prefix, &[("score", score)]);
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
    fn object(&self, json: &JsonText) -> String {
        match json.object_members() {
            Some(members) => {
                self.members(members.iter().map(|(k, v)| (display_key(k), v.as_str())))
            }
            None => self.value(json),
        }
    }

    fn metadata(&self, metadata: &Metadata) -> String {
        self.members(metadata.iter().map(|(k, v)| (display_key(k), v.as_str())))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_objects_are_shown_relaxed_in_order() {
        let show = |json: &str| {
            Renderer {
                paint: Paint(false),
                max_chars: 12,
                printed: &Printed::default(),
                records: &[],
            }
            .object(&JsonText::from_encoded(json.to_owned()))
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
}
