//! The arguments that decide what is captured: `capture_input`, `capture_output`, `skip(…)`,
//! `skip_all`.

use proc_macro2::Span;
use syn::parse::ParseStream;
use syn::punctuated::Punctuated;
use syn::{Ident, LitBool, Token};

use super::syntax::{eq_then, kw};

/// `capture_input = bool`.
pub(super) fn capture_input(input: ParseStream) -> syn::Result<(Span, LitBool)> {
    let key = input.parse::<kw::capture_input>()?.span;
    Ok((key, eq_then(input, |i| i.parse())?))
}

/// `capture_output = bool`.
pub(super) fn capture_output(input: ParseStream) -> syn::Result<(Span, LitBool)> {
    let key = input.parse::<kw::capture_output>()?.span;
    Ok((key, eq_then(input, |i| i.parse())?))
}

/// `skip_all`.
pub(super) fn skip_all(input: ParseStream) -> syn::Result<(Span, ())> {
    let key = input.parse::<kw::skip_all>()?.span;
    Ok((key, ()))
}

/// `skip(name, …)`; `self` is accepted as a name (it is never captured anyway).
pub(super) fn skip(input: ParseStream) -> syn::Result<(Span, Vec<Ident>)> {
    let key = input.parse::<kw::skip>()?.span;
    let content;
    syn::parenthesized!(content in input);
    let names = Punctuated::<Ident, Token![,]>::parse_terminated_with(&content, |i| {
        if i.peek(Token![self]) {
            let s = i.parse::<Token![self]>()?;
            Ok(Ident::new("self", s.span))
        } else {
            i.parse()
        }
    })?;
    Ok((key, names.into_iter().collect()))
}
