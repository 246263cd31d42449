//! Parsing of `#[observe(...)]` arguments, and only that: every value keeps its span, and a bad
//! argument is recorded and skipped so that one compile reports all of them.

use proc_macro2::{Span, TokenStream};
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, LitBool, LitStr, Path, Token};

use crate::check::Errors;

pub(crate) mod kw {
    syn::custom_keyword!(name);
    syn::custom_keyword!(as_type);
    syn::custom_keyword!(capture_input);
    syn::custom_keyword!(capture_output);
    syn::custom_keyword!(skip);
    syn::custom_keyword!(skip_all);
    syn::custom_keyword!(metadata);
    syn::custom_keyword!(level);
    syn::custom_keyword!(version);
    syn::custom_keyword!(transform_to_string);
}

/// Every argument name, for "unknown argument" messages and suggestions.
pub(crate) const ARGUMENTS: &[&str] = &[
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

pub(crate) enum MetaKey {
    Ident(Ident),
    Str(LitStr),
}

impl MetaKey {
    pub(crate) fn text(&self) -> String {
        match self {
            MetaKey::Ident(i) => crate::check::unraw(i),
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

    fn parse_one(&mut self, input: ParseStream) -> syn::Result<()> {
        let lookahead = input.lookahead1();
        if lookahead.peek(kw::name) {
            let key = input.parse::<kw::name>()?.span;
            set(&mut self.name, key, "name", eq_then(input, |i| i.parse())?)
        } else if lookahead.peek(kw::as_type) {
            let key = input.parse::<kw::as_type>()?.span;
            set(&mut self.as_type, key, "as_type", eq_then(input, |i| i.parse())?)
        } else if lookahead.peek(kw::capture_input) {
            let key = input.parse::<kw::capture_input>()?.span;
            set(&mut self.capture_input, key, "capture_input", eq_then(input, |i| i.parse())?)
        } else if lookahead.peek(kw::capture_output) {
            let key = input.parse::<kw::capture_output>()?.span;
            set(&mut self.capture_output, key, "capture_output", eq_then(input, |i| i.parse())?)
        } else if lookahead.peek(kw::skip_all) {
            let key = input.parse::<kw::skip_all>()?.span;
            set(&mut self.skip_all, key, "skip_all", ())
        } else if lookahead.peek(kw::skip) {
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
            set(&mut self.skip, key, "skip", names.into_iter().collect())
        } else if lookahead.peek(kw::metadata) {
            let key = input.parse::<kw::metadata>()?.span;
            let content;
            syn::parenthesized!(content in input);
            let entries =
                Punctuated::<(MetaKey, Expr), Token![,]>::parse_terminated_with(&content, |i| {
                    let key = if i.peek(LitStr) {
                        MetaKey::Str(i.parse()?)
                    } else {
                        MetaKey::Ident(i.call(syn::ext::IdentExt::parse_any)?)
                    };
                    i.parse::<Token![=]>()?;
                    Ok((key, i.parse()?))
                })?;
            set(&mut self.metadata, key, "metadata", entries.into_iter().collect())
        } else if lookahead.peek(kw::level) {
            let key = input.parse::<kw::level>()?.span;
            set(&mut self.level, key, "level", eq_then(input, |i| i.parse())?)
        } else if lookahead.peek(kw::version) {
            let key = input.parse::<kw::version>()?.span;
            set(&mut self.version, key, "version", eq_then(input, |i| i.parse())?)
        } else if lookahead.peek(Token![crate]) {
            let key = input.parse::<Token![crate]>()?.span;
            set(&mut self.krate, key, "crate", eq_then(input, Path::parse_mod_style)?)
        } else if lookahead.peek(kw::transform_to_string) {
            let key = input.parse::<kw::transform_to_string>()?.span;
            set(
                &mut self.transform_to_string,
                key,
                "transform_to_string",
                eq_then(input, |i| i.parse())?,
            )
        } else if input.peek(Ident) || input.peek(syn::LitStr) {
            let ident: proc_macro2::TokenTree = input.parse()?;
            let text = ident.to_string();
            let mut message = format!(
                "unknown `#[observe]` argument `{}`; expected one of: {}",
                text.trim_matches('"'),
                ARGUMENTS.join(", ")
            );
            if let Some(best) = crate::check::closest(text.trim_matches('"'), ARGUMENTS) {
                message = format!("{message}\nhelp: did you mean `{best}`?");
            }
            Err(syn::Error::new(ident.span(), message))
        } else {
            Err(lookahead.error())
        }
    }
}

fn eq_then<T>(input: ParseStream, f: impl FnOnce(ParseStream) -> syn::Result<T>) -> syn::Result<T> {
    input.parse::<Token![=]>()?;
    f(input)
}

fn set<T>(slot: &mut Option<Arg<T>>, key: Span, what: &str, value: T) -> syn::Result<()> {
    if slot.is_some() {
        return Err(syn::Error::new(key, format!("duplicate `{what}` argument")));
    }
    *slot = Some(Arg { key, value });
    Ok(())
}

/// The annotated function: signature parsed, body kept as raw tokens. A body that does not
/// parse (the user is mid-edit) still expands, so IDEs keep their completions and the compiler
/// reports the syntax error where it is.
pub(crate) struct Func {
    pub(crate) attrs: Vec<syn::Attribute>,
    pub(crate) vis: syn::Visibility,
    pub(crate) sig: syn::Signature,
    pub(crate) body: TokenStream,
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
