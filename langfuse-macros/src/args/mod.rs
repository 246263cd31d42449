//! Parsing of `#[observe(...)]` arguments, and only that: every value keeps its span, and a bad
//! argument is recorded and skipped so that one compile reports all of them. This module
//! dispatches on the argument's name and stores what it parsed; each argument's own parser
//! (returning the name's span and the value), and the reading of its value where there is one
//! to read, is in the submodule of its group. The submodules use none of this one.

mod capture;
mod code;
mod labels;
mod metadata;
mod syntax;

use proc_macro2::{Span, TokenStream};
use syn::parse::{ParseStream, Parser};
use syn::{Expr, Ident, LitBool, LitStr, Path, Token};

use crate::errors::{Errors, closest};
use syntax::kw;

pub(crate) use code::runtime_path;
pub(crate) use labels::{level_variant, observation_type};
pub(crate) use metadata::{MetaKey, metadata_entries};

/// Every argument name, for "unknown argument" messages and suggestions.
const ARGUMENTS: &[&str] = &[
    "name",
    "as_type",
    "capture_input",
    "capture_output",
    "skip",
    "skip_all",
    "metadata",
    "level",
    "version",
    "crate",
    "transform_to_string",
];

/// A value together with the span of the argument name it was given with.
pub(crate) struct Arg<T> {
    pub(crate) key: Span,
    pub(crate) value: T,
}

#[derive(Default)]
pub(crate) struct Args {
    pub(crate) name: Option<Arg<LitStr>>,
    pub(crate) as_type: Option<Arg<LitStr>>,
    pub(crate) capture_input: Option<Arg<LitBool>>,
    pub(crate) capture_output: Option<Arg<LitBool>>,
    pub(crate) skip: Option<Arg<Vec<Ident>>>,
    pub(crate) skip_all: Option<Arg<()>>,
    pub(crate) metadata: Option<Arg<Vec<(MetaKey, Expr)>>>,
    pub(crate) level: Option<Arg<LitStr>>,
    pub(crate) version: Option<Arg<Expr>>,
    pub(crate) krate: Option<Arg<Path>>,
    pub(crate) transform_to_string: Option<Arg<Expr>>,
}

impl Args {
    /// Parses the attribute's tokens, collecting every error in `errors`.
    pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> Args {
        let mut args = Args::default();
        let parser = |input: ParseStream| {
            while !input.is_empty() {
                if let Err(e) = args.parse_one(input) {
                    errors.push(e);
                    // Skip to the next top-level comma and carry on.
                    while !input.is_empty() && !input.peek(Token![,]) {
                        input.parse::<proc_macro2::TokenTree>()?;
                    }
                }
                if input.is_empty() {
                    break;
                }
                input.parse::<Token![,]>()?;
            }
            Ok(())
        };
        if let Err(e) = parser.parse2(tokens) {
            errors.push(e);
        }
        args
    }

    /// One argument, by its name. A token that is no name at all gets the lookahead's
    /// "expected one of …", which lists the names in the order they are peeked here.
    fn parse_one(&mut self, input: ParseStream) -> syn::Result<()> {
        let lookahead = input.lookahead1();
        if lookahead.peek(kw::name) {
            let (key, value) = labels::name(input)?;
            set(&mut self.name, key, "name", value)
        } else if lookahead.peek(kw::as_type) {
            let (key, value) = labels::as_type(input)?;
            set(&mut self.as_type, key, "as_type", value)
        } else if lookahead.peek(kw::capture_input) {
            let (key, value) = capture::capture_input(input)?;
            set(&mut self.capture_input, key, "capture_input", value)
        } else if lookahead.peek(kw::capture_output) {
            let (key, value) = capture::capture_output(input)?;
            set(&mut self.capture_output, key, "capture_output", value)
        } else if lookahead.peek(kw::skip_all) {
            let (key, value) = capture::skip_all(input)?;
            set(&mut self.skip_all, key, "skip_all", value)
        } else if lookahead.peek(kw::skip) {
            let (key, value) = capture::skip(input)?;
            set(&mut self.skip, key, "skip", value)
        } else if lookahead.peek(kw::metadata) {
            let (key, value) = metadata::metadata(input)?;
            set(&mut self.metadata, key, "metadata", value)
        } else if lookahead.peek(kw::level) {
            let (key, value) = labels::level(input)?;
            set(&mut self.level, key, "level", value)
        } else if lookahead.peek(kw::version) {
            let (key, value) = labels::version(input)?;
            set(&mut self.version, key, "version", value)
        } else if lookahead.peek(Token![crate]) {
            let (key, value) = code::krate(input)?;
            set(&mut self.krate, key, "crate", value)
        } else if lookahead.peek(kw::transform_to_string) {
            let (key, value) = code::transform_to_string(input)?;
            set(&mut self.transform_to_string, key, "transform_to_string", value)
        } else if input.peek(Ident) || input.peek(syn::LitStr) {
            let ident: proc_macro2::TokenTree = input.parse()?;
            let text = ident.to_string();
            let mut message = format!(
                "unknown `#[observe]` argument `{}`; expected one of: {}",
                text.trim_matches('"'),
                ARGUMENTS.join(", ")
            );
            if let Some(best) = closest(text.trim_matches('"'), ARGUMENTS) {
                message = format!("{message}\nhelp: did you mean `{best}`?");
            }
            Err(syn::Error::new(ident.span(), message))
        } else {
            Err(lookahead.error())
        }
    }
}

/// Stores an argument's value; an argument given twice is an error at its second name.
fn set<T>(slot: &mut Option<Arg<T>>, key: Span, what: &str, value: T) -> syn::Result<()> {
    if slot.is_some() {
        return Err(syn::Error::new(key, format!("duplicate `{what}` argument")));
    }
    *slot = Some(Arg { key, value });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors_of(tokens: &str) -> Vec<String> {
        let mut errors = Errors::default();
        Args::parse(tokens.parse().unwrap(), &mut errors);
        match errors.into_result() {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn every_argument_parses() {
        let mut errors = Errors::default();
        let tokens = r#"name = "n", as_type = "tool", capture_input = true, capture_output = false,
            skip(self, a), metadata(k = 1, "a b" = x), level = "debug", version = V,
            crate = a::b, transform_to_string = f"#;
        let args = Args::parse(tokens.parse().unwrap(), &mut errors);
        assert!(errors.is_empty());
        assert_eq!(args.name.unwrap().value.value(), "n");
        assert_eq!(args.as_type.unwrap().value.value(), "tool");
        assert!(args.capture_input.unwrap().value.value);
        assert!(!args.capture_output.unwrap().value.value);
        let skipped: Vec<String> = args.skip.unwrap().value.iter().map(|i| i.to_string()).collect();
        assert_eq!(skipped, ["self", "a"]);
        let keys: Vec<String> =
            args.metadata.unwrap().value.iter().map(|(k, _)| k.text()).collect();
        assert_eq!(keys, ["k", "a b"]);
        assert_eq!(args.level.unwrap().value.value(), "debug");
        assert!(args.version.is_some() && args.krate.is_some());
        assert!(args.transform_to_string.is_some() && args.skip_all.is_none());
    }

    #[test]
    fn bad_arguments_are_all_reported_and_skipped() {
        let errors = errors_of(r#"name = "a", nmae = "b", name = "c", skip_all, 5, level = 1"#);
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(errors[0].starts_with("unknown `#[observe]` argument `nmae`"), "{errors:?}");
        assert!(errors[0].ends_with("help: did you mean `name`?"), "{errors:?}");
        assert_eq!(errors[1], "duplicate `name` argument");
        assert!(errors[2].starts_with("expected one of: `name`, `as_type`"), "{errors:?}");
        assert_eq!(errors[3], "expected string literal");
    }
}
