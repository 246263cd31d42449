//! Scores on the console: under the observation they belong to when its tree is printed
//! after the score was given, else one line printed by the score sender as it sends:
//! `score helpfulness = 0.8 [NUMERIC] on observation … of trace …`.
//!
//! A score given while the console exporter is on is [`hold`]: the tree renderer [`take_for`]s
//! those of each observation it draws (trace scores go under the trace's root), and the
//! sender [`release`]s each as it sends, getting the line back only if no tree showed it.
//! Each score is thus printed once, and held no longer than until it is sent.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use super::format::display_value;
use super::style::{BOLD, CYAN, DIM, Paint, auto_color};
use crate::ids::{ObservationId, TraceId};

/// A score waiting for its tree or its sending.
struct Held {
    key: u64,
    trace_id: TraceId,
    observation_id: Option<ObservationId>,
    /// What the tree shows after `score:`.
    in_tree: String,
    /// The line the sender prints if no tree showed the score.
    line: String,
}

/// Scores given and not yet shown or sent; bounded by the score queue, usually empty.
static HELD: Mutex<Vec<Held>> = Mutex::new(Vec::new());
static NEXT_KEY: AtomicU64 = AtomicU64::new(1);

/// Keeps a score for the tree of its observation; the key is for [`release`]. A score that
/// names no trace (sessions, dataset runs, other ids) is not held: its line comes back.
pub(crate) fn hold(score: &ScoreLine<'_>) -> Result<u64, String> {
    let trace_id = score.trace_id.and_then(|t| t.parse::<TraceId>().ok());
    let Some(trace_id) = trace_id else { return Err(score.render()) };
    let key = NEXT_KEY.fetch_add(1, Ordering::Relaxed);
    let held = Held {
        key,
        trace_id,
        observation_id: score.observation_id.and_then(|o| o.parse().ok()),
        in_tree: score.in_tree(),
        line: score.render(),
    };
    HELD.lock().unwrap_or_else(PoisonError::into_inner).push(held);
    Ok(key)
}

/// The sender's side: the line to print for `key`, unless a tree already showed the score.
pub(crate) fn release(key: u64) -> Option<String> {
    let mut held = HELD.lock().unwrap_or_else(PoisonError::into_inner);
    let i = held.iter().position(|h| h.key == key)?;
    Some(held.swap_remove(i).line)
}

/// The renderer's side: the scores of observation `id` (and of the whole trace, for its
/// root), in the order they were given, no longer held.
pub(super) fn take_for(trace_id: TraceId, id: ObservationId, is_root: bool) -> Vec<String> {
    let mut held = HELD.lock().unwrap_or_else(PoisonError::into_inner);
    if held.is_empty() {
        return Vec::new();
    }
    let mut taken: Vec<Held> = held
        .extract_if(.., |h| {
            h.trace_id == trace_id
                && match h.observation_id {
                    Some(o) => o == id,
                    None => is_root,
                }
        })
        .collect();
    taken.sort_by_key(|h| h.key);
    taken.into_iter().map(|h| h.in_tree).collect()
}

/// Longest comment shown, in characters.
const MAX_COMMENT_CHARS: usize = 200;

/// What the line shows; the value is already formatted (a number, or a JSON string).
pub(crate) struct ScoreLine<'a> {
    pub(crate) name: &'a str,
    pub(crate) value: &'a str,
    pub(crate) data_type: Option<&'a str>,
    pub(crate) trace_id: Option<&'a str>,
    pub(crate) observation_id: Option<&'a str>,
    pub(crate) session_id: Option<&'a str>,
    pub(crate) dataset_run_id: Option<&'a str>,
    pub(crate) comment: Option<&'a str>,
}

impl ScoreLine<'_> {
    /// The line for stdout, colored when stdout is a terminal.
    pub(crate) fn render(&self) -> String {
        self.render_with(Paint(auto_color(std::io::stdout().is_terminal())))
    }

    /// What the tree shows under the observation: `db_latency_ok = 1 [BOOLEAN] (trace)  comment: …`.
    fn in_tree(&self) -> String {
        let mut out = String::with_capacity(64);
        out.push_str(&display_value(self.name, MAX_COMMENT_CHARS));
        out.push_str(" = ");
        out.push_str(self.value);
        if let Some(data_type) = self.data_type {
            out.push_str(&format!(" [{data_type}]"));
        }
        if self.observation_id.is_none() {
            out.push_str(" (trace)");
        }
        if let Some(comment) = self.comment {
            out.push_str("  comment: ");
            out.push_str(&display_value(comment, MAX_COMMENT_CHARS));
        }
        out
    }

    fn render_with(&self, paint: Paint) -> String {
        let mut out = String::with_capacity(96);
        out.push_str("score ");
        paint.put(&mut out, BOLD, &display_value(self.name, MAX_COMMENT_CHARS));
        out.push_str(" = ");
        out.push_str(self.value);
        if let Some(data_type) = self.data_type {
            out.push(' ');
            paint.put(&mut out, CYAN, &format!("[{data_type}]"));
        }
        let target = match (self.observation_id, self.trace_id) {
            (Some(observation), Some(trace)) => {
                Some(format!("on observation {observation} of trace {trace}"))
            }
            (None, Some(trace)) => Some(format!("on trace {trace}")),
            (Some(observation), None) => Some(format!("on observation {observation}")),
            (None, None) => None,
        };
        let targets = [
            target,
            self.session_id.map(|s| format!("on session {}", display_value(s, 80))),
            self.dataset_run_id.map(|r| format!("on dataset run {}", display_value(r, 80))),
        ];
        for target in targets.into_iter().flatten() {
            out.push(' ');
            paint.put(&mut out, DIM, &target);
        }
        if let Some(comment) = self.comment {
            out.push_str("  comment: ");
            out.push_str(&display_value(comment, MAX_COMMENT_CHARS));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_value_type_target_and_comment() {
        let line = ScoreLine {
            name: "db_latency_ok",
            value: "1",
            data_type: Some("BOOLEAN"),
            trace_id: Some("f2577665c7b1114cb1af1c8c790d27c5"),
            observation_id: Some("334708060649f12c"),
            session_id: None,
            dataset_run_id: None,
            comment: Some("fast\nenough"),
        };
        assert_eq!(
            line.render_with(Paint(false)),
            "score db_latency_ok = 1 [BOOLEAN] on observation 334708060649f12c of trace \
             f2577665c7b1114cb1af1c8c790d27c5  comment: fast\\nenough"
        );
        let session = ScoreLine {
            name: "rating",
            value: "\"good\"",
            data_type: None,
            trace_id: None,
            observation_id: None,
            session_id: Some("s-1"),
            dataset_run_id: None,
            comment: None,
        };
        assert_eq!(session.render_with(Paint(false)), "score rating = \"good\" on session s-1");
        assert!(session.render_with(Paint(true)).contains("\x1b[1mrating\x1b[0m"));
    }

    #[test]
    fn held_scores_are_shown_once_by_the_tree_or_the_sender() {
        let trace = TraceId::random();
        let (trace_hex, obs, other) =
            (trace.to_string(), ObservationId::random(), ObservationId::random());
        let obs_hex = obs.to_string();
        let line = |name, observation_id| ScoreLine {
            name,
            value: "0.8",
            data_type: Some("NUMERIC"),
            trace_id: Some(&trace_hex),
            observation_id,
            session_id: None,
            dataset_run_id: None,
            comment: None,
        };
        let first = hold(&line("first", Some(&obs_hex))).unwrap();
        let on_trace = hold(&line("overall", None)).unwrap();
        let second = hold(&line("second", Some(&obs_hex))).unwrap();
        assert!(take_for(trace, other, false).is_empty());
        assert_eq!(
            take_for(trace, obs, false),
            ["first = 0.8 [NUMERIC]", "second = 0.8 [NUMERIC]"]
        );
        // Shown by the tree: the sender prints nothing for them.
        assert_eq!((release(first), release(second)), (None, None));
        // Not shown by any tree: the sender prints the line, once.
        let line_of_trace = release(on_trace).unwrap();
        assert!(line_of_trace.contains("overall = 0.8") && line_of_trace.contains(&trace_hex));
        assert_eq!(release(on_trace), None);
        // The root takes the trace's scores.
        let again = hold(&line("overall", None)).unwrap();
        assert_eq!(take_for(trace, other, true), ["overall = 0.8 [NUMERIC] (trace)"]);
        assert_eq!(release(again), None);
        // Sessions and foreign ids are never held.
        let mut session = line("s", None);
        session.trace_id = None;
        session.session_id = Some("s-1");
        assert!(hold(&session).is_err());
    }

    #[test]
    fn the_tree_shows_scores_under_their_observation_and_the_trace_under_its_root() {
        use std::io::Write;
        use std::sync::{Arc, Mutex};

        use crate::export::{ConsoleExporter, SpanExporter};
        use crate::kind::ObservationType;
        use crate::record::ObservationRecord;

        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl Write for Buf {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }

        let trace = TraceId::random();
        let (root, child) = (ObservationId::random(), ObservationId::random());
        let (trace_hex, child_hex) = (trace.to_string(), child.to_string());
        let line = |name, observation_id, comment| ScoreLine {
            name,
            value: "1",
            data_type: Some("BOOLEAN"),
            trace_id: Some(&trace_hex),
            observation_id,
            session_id: None,
            dataset_run_id: None,
            comment,
        };
        let keys = [
            hold(&line("db_latency_ok", Some(&child_hex), Some("fast"))).unwrap(),
            hold(&line("overall", None, None)).unwrap(),
        ];
        let record = |id, parent, name| {
            let mut r = ObservationRecord::new(trace, id, parent, name, ObservationType::Span, 1);
            r.end_unix_nanos = 2;
            r
        };
        let buf = Buf::default();
        let mut exporter = ConsoleExporter::new(buf.clone());
        exporter
            .export(&[record(child, Some(root), "db_query"), record(root, None, "pipeline")])
            .unwrap();
        exporter.end_of_round().unwrap();
        let printed = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = printed.lines().collect();
        assert_eq!(
            lines[1..],
            [
                "pipeline [span] 1 ns",
                "│ score: overall = 1 [BOOLEAN] (trace)",
                "└─ db_query [span] 1 ns",
                "     score: db_latency_ok = 1 [BOOLEAN]  comment: fast",
                "",
            ],
            "{printed}"
        );
        assert_eq!(keys.map(release), [None, None]);
    }
}
