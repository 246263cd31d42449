//! Parsing of the annotated item: the signature is parsed, the body kept as tokens.

use proc_macro2::{Span, TokenStream};
use syn::Token;
use syn::parse::ParseStream;

/// The annotated function: signature parsed, body kept as raw tokens. A body that does not
/// parse (the user is mid-edit) still expands, so IDEs keep their completions and the compiler
/// reports the syntax error where it is.
pub(crate) struct Func {
    pub(crate) attrs: Vec<syn::Attribute>,
    pub(crate) vis: syn::Visibility,
    pub(crate) sig: syn::Signature,
    pub(crate) body: TokenStream,
    /// The span of the body's braces, reused for the generated body (see `expand`).
    pub(crate) brace: Span,
}

impl syn::parse::Parse for Func {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(syn::Attribute::parse_outer)?;
        let vis = input.parse()?;
        let sig: syn::Signature = input.parse()?;
        if input.peek(Token![;]) {
            return Err(syn::Error::new(
                sig.ident.span(),
                "`#[observe]` needs a function body: it observes what the body does",
            ));
        }
        let content;
        let brace = syn::braced!(content in input);
        let body = content.parse()?;
        Ok(Func { attrs, vis, sig, body, brace: brace.span.join() })
    }
}
