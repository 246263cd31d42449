//! One console line per score, printed by the score sender as it sends (after the trees of
//! the spans flushed before it): `score helpfulness = 0.8 [NUMERIC] on observation … of trace …`.

use std::io::IsTerminal;

use super::format::display_value;
use super::style::{BOLD, CYAN, DIM, Paint, auto_color};

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
}
