//! `metadata(key = expr, …)`: its parser, and the reading of its entries (keys unique).

use proc_macro2::Span;
use syn::parse::ParseStream;
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, LitStr, Token};

use super::syntax::kw;
use crate::errors::Errors;
use crate::ident::unraw;

/// A metadata key as written: an identifier or a string literal.
pub(crate) enum MetaKey {
    Ident(Ident),
    Str(LitStr),
}

impl MetaKey {
    pub(crate) fn text(&self) -> String {
        match self {
            MetaKey::Ident(i) => unraw(i),
            MetaKey::Str(s) => s.value(),
        }
    }
    pub(crate) fn span(&self) -> Span {
        match self {
            MetaKey::Ident(i) => i.span(),
            MetaKey::Str(s) => s.span(),
        }
    }
}

/// `metadata(key = expr, …)`.
pub(super) fn metadata(input: ParseStream) -> syn::Result<(Span, Vec<(MetaKey, Expr)>)> {
    let key = input.parse::<kw::metadata>()?.span;
    let content;
    syn::parenthesized!(content in input);
    let entries = Punctuated::<(MetaKey, Expr), Token![,]>::parse_terminated_with(&content, |i| {
        let key = if i.peek(LitStr) {
            MetaKey::Str(i.parse()?)
        } else {
            MetaKey::Ident(i.call(syn::ext::IdentExt::parse_any)?)
        };
        i.parse::<Token![=]>()?;
        Ok((key, i.parse()?))
    })?;
    Ok((key, entries.into_iter().collect()))
}

/// The entries by key text, in order; a key given twice is reported at its second use.
pub(crate) fn metadata_entries(
    metadata: Option<Vec<(MetaKey, Expr)>>,
    errors: &mut Errors,
) -> Vec<(String, Expr)> {
    let mut entries: Vec<(String, Expr)> = Vec::new();
    if let Some(given) = metadata {
        for (key, expr) in given {
            let text = key.text();
            if entries.iter().any(|(k, _)| *k == text) {
                errors.at(key.span(), format!("duplicate metadata key `{text}`"));
            } else {
                entries.push((text, expr));
            }
        }
    }
    entries
}
