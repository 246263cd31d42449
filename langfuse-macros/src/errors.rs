//! Error reporting: every error found while parsing and checking is collected with its span and
//! reported in one compile, with the closest valid name when a value looks like a typo.

use proc_macro2::Span;

/// Errors collected across parsing and checking, reported together.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }
    pub(crate) fn at(&mut self, span: Span, message: impl std::fmt::Display) {
        self.push(syn::Error::new(span, message));
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_none()
    }
    pub(crate) fn into_result(self) -> Result<(), syn::Error> {
        self.0.map_or(Ok(()), Err)
    }
}

/// "unknown {what} `text`; expected one of: …", with a suggestion when one is close.
pub(crate) fn unknown_value(what: &str, text: &str, names: &[&str]) -> String {
    let mut message = format!("unknown {what} `{text}`; expected one of: {}", names.join(", "));
    if let Some(best) = closest(&text.to_ascii_lowercase(), names) {
        message.push_str(&format!("\nhelp: did you mean `{best}`?"));
    }
    message
}

/// The candidate nearest to `word`, if it is near enough to be a typo: at most one edit per
/// three characters (a swap of two neighbours is one edit), or a prefix of at least 3.
pub(crate) fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .iter()
        .map(|c| {
            let prefix = word.len() >= 3 && (c.starts_with(word) || word.starts_with(c));
            (if prefix { 1 } else { edit_distance(word, c) }, *c)
        })
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Optimal string alignment distance: Levenshtein plus transpositions of adjacent characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_and_suggestions() {
        assert_eq!(edit_distance("tol", "tool"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("nmae", "name"), 1);
        assert_eq!(closest("nmae", &["name", "level"]), Some("name"));
        assert_eq!(closest("warn", &["debug", "warning"]), Some("warning"));
        assert_eq!(closest("generaton", &["span", "generation"]), Some("generation"));
        assert_eq!(closest("zzzz", &["span", "tool"]), None);
    }

    #[test]
    fn unknown_values_suggest_case_insensitively() {
        let message = unknown_value("level", "WARNNG", &["debug", "warning"]);
        assert_eq!(
            message,
            "unknown level `WARNNG`; expected one of: debug, warning\nhelp: did you mean `warning`?"
        );
        assert!(!unknown_value("level", "loud", &["debug", "warning"]).contains("help"));
    }
}
