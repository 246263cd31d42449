//! ANSI styling of the tree, and whether a stream gets it at all.

use std::fmt::Write as _;

/// ANSI styling, or none.
#[derive(Clone, Copy)]
pub(super) struct Paint(pub(super) bool);

pub(super) const BOLD: &str = "1";
pub(super) const DIM: &str = "2";
pub(super) const RED: &str = "1;31";
pub(super) const YELLOW: &str = "33";
pub(super) const CYAN: &str = "36";
pub(super) const MAGENTA: &str = "35";

impl Paint {
    /// Appends `text`, wrapped in `style` when painting (an empty style or text adds no codes).
    pub(super) fn put(self, out: &mut String, style: &str, text: &str) {
        if self.0 && !style.is_empty() && !text.is_empty() {
            let _ = write!(out, "\x1b[{style}m{text}\x1b[0m");
        } else {
            out.push_str(text);
        }
    }
}

/// Whether a stream that `is_terminal` should get colors, honouring `NO_COLOR` and `TERM=dumb`.
pub(super) fn auto_color(is_terminal: bool) -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
    // Classic Windows consoles only understand ANSI once asked to; Windows Terminal always does.
    let ansi = !cfg!(windows) || std::env::var_os("WT_SESSION").is_some();
    is_terminal && !no_color && !dumb && ansi
}
