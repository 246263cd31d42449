//! The arguments that put a user's path or expression into the generated code: `crate = path`
//! (where the runtime is) and `transform_to_string = f`.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::parse::ParseStream;
use syn::{Expr, Path};

use super::syntax::{eq_then, kw};

/// `crate = path` (a module-style path: no generic arguments).
pub(super) fn krate(input: ParseStream) -> syn::Result<(Span, Path)> {
    let key = input.parse::<syn::Token![crate]>()?.span;
    Ok((key, eq_then(input, Path::parse_mod_style)?))
}

/// `transform_to_string = expr`.
pub(super) fn transform_to_string(input: ParseStream) -> syn::Result<(Span, Expr)> {
    let key = input.parse::<kw::transform_to_string>()?.span;
    Ok((key, eq_then(input, |i| i.parse())?))
}

/// The runtime's path: the `crate = …` value, else `::langfuse_runtime`.
pub(crate) fn runtime_path(krate: Option<&Path>) -> TokenStream {
    match krate {
        Some(path) => quote!(#path),
        None => quote!(::langfuse_runtime),
    }
}
