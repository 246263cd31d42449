//! The arguments that label the observation: `name`, `as_type`, `level`, `version`, and the
//! reading of `as_type` and `level` into the runtime's variants.

use proc_macro2::Span;
use syn::parse::ParseStream;
use syn::{Expr, Ident, LitStr};

use super::syntax::{eq_then, kw};
use crate::errors::{Errors, unknown_value};

/// The nine observation types `#[observe]` accepts, and the runtime variant of each.
const TYPES: &[(&str, &str)] = &[
    ("span", "Span"),
    ("generation", "Generation"),
    ("agent", "Agent"),
    ("tool", "Tool"),
    ("chain", "Chain"),
    ("retriever", "Retriever"),
    ("evaluator", "Evaluator"),
    ("embedding", "Embedding"),
    ("guardrail", "Guardrail"),
];

const LEVELS: &[(&str, &str)] =
    &[("debug", "Debug"), ("default", "Default"), ("warning", "Warning"), ("error", "Error")];

/// `name = "…"`.
pub(super) fn name(input: ParseStream) -> syn::Result<(Span, LitStr)> {
    let key = input.parse::<kw::name>()?.span;
    Ok((key, eq_then(input, |i| i.parse())?))
}

/// `as_type = "…"`.
pub(super) fn as_type(input: ParseStream) -> syn::Result<(Span, LitStr)> {
    let key = input.parse::<kw::as_type>()?.span;
    Ok((key, eq_then(input, |i| i.parse())?))
}

/// `level = "…"`.
pub(super) fn level(input: ParseStream) -> syn::Result<(Span, LitStr)> {
    let key = input.parse::<kw::level>()?.span;
    Ok((key, eq_then(input, |i| i.parse())?))
}

/// `version = expr`.
pub(super) fn version(input: ParseStream) -> syn::Result<(Span, Expr)> {
    let key = input.parse::<kw::version>()?.span;
    Ok((key, eq_then(input, |i| i.parse())?))
}

/// The runtime's `ObservationType` variant for `as_type` (`Span` when absent or unknown; an
/// unknown or `event` type is reported).
pub(crate) fn observation_type(as_type: Option<&LitStr>, errors: &mut Errors) -> Ident {
    match as_type {
        None => Ident::new("Span", Span::call_site()),
        Some(lit) => {
            let text = lit.value();
            match TYPES.iter().find(|(t, _)| *t == text) {
                Some((_, variant)) => Ident::new(variant, lit.span()),
                None => {
                    let names: Vec<&str> = TYPES.iter().map(|(t, _)| *t).collect();
                    let message = if text == "event" {
                        format!(
                            "`as_type = \"event\"` is not allowed: an event is a point in time \
                             with no duration, so it cannot wrap a function call\nhelp: use one \
                             of: {}; or emit an event inside the function with \
                             `langfuse_runtime::event(\"…\").emit()`",
                            names.join(", ")
                        )
                    } else {
                        unknown_value("observation type", &text, &names)
                    };
                    errors.at(lit.span(), message);
                    Ident::new("Span", Span::call_site())
                }
            }
        }
    }
}

/// The runtime's `Level` variant for `level` (any case); an unknown level is reported.
pub(crate) fn level_variant(level: Option<&LitStr>, errors: &mut Errors) -> Option<Ident> {
    level.and_then(|lit| {
        let text = lit.value().to_ascii_lowercase();
        match LEVELS.iter().find(|(l, _)| *l == text) {
            Some((_, variant)) => Some(Ident::new(variant, lit.span())),
            None => {
                let names: Vec<&str> = LEVELS.iter().map(|(l, _)| *l).collect();
                errors.at(lit.span(), unknown_value("level", &lit.value(), &names));
                None
            }
        }
    })
}
