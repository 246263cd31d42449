//! The one warning a client without keys gives: what is missing, and how to see what would
//! have been sent — the first thing a newcomer running their own app needs.

use crate::config::Config;
use crate::diag;

/// Warns once per client that nothing goes to Langfuse, naming the missing variables and
/// either the switch that prints the traces or the fact that they are being printed.
pub(crate) fn warn(config: &Config) {
    let message = message(
        config.public_key().is_some(),
        config.secret_key().is_some(),
        config.console_exporter(),
    );
    diag::warn(format_args!("{message}"));
}

fn message(has_public: bool, has_secret: bool, console: bool) -> String {
    let missing = match (has_public, has_secret) {
        (false, false) => "LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY are not set",
        (true, _) => "LANGFUSE_SECRET_KEY is not set",
        (false, true) => "LANGFUSE_PUBLIC_KEY is not set",
    };
    let see = if console {
        "each trace is printed to stdout instead"
    } else {
        "set LANGFUSE_CONSOLE_EXPORTER=true to print each trace that would be sent to stdout"
    };
    format!("{missing}: nothing will be sent to Langfuse; {see}")
}

#[cfg(test)]
mod tests {
    use super::message;

    #[test]
    fn names_what_is_missing_and_how_to_see_the_traces() {
        assert_eq!(
            message(false, false, false),
            "LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY are not set: nothing will be sent to \
             Langfuse; set LANGFUSE_CONSOLE_EXPORTER=true to print each trace that would be sent \
             to stdout"
        );
        assert_eq!(
            message(true, false, true),
            "LANGFUSE_SECRET_KEY is not set: nothing will be sent to Langfuse; each trace is \
             printed to stdout instead"
        );
        assert!(message(false, true, false).starts_with("LANGFUSE_PUBLIC_KEY is not set:"));
    }
}
