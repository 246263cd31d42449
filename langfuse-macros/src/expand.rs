//! Code generation only: the checked [`Observe`] model and the function become the observed
//! function. Everything generated calls into `<runtime>::__private`.
//!
//! The four shapes, side by side (`$p` is the `__private` path, `SITE` a `static CallSite`):
//!
//! ```text
//! sync     let s = $p::enter(&SITE, capture);  s.run(move || -> Ret { body }, finish)
//! async    let s = $p::start(&SITE, capture);  s.instrument(async move { fake_ret; body }, finish).await
//! future   let s = $p::start(&SITE, capture);  let f = s.call(move || { body });  s.instrument(f, finish)
//! stream   let s = $p::start(&SITE, capture);  let f = s.call(move || { body });  s.stream(f, finish_item)
//! ```
//!
//! `capture` is a closure writing the arguments into the input object; it only runs for a
//! recorded call. `finish` writes the return value (or the `Err`) the same way; for streams and
//! iterators it runs once per item.

use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote_spanned};
use syn::visit_mut::VisitMut;
use syn::{Expr, ReturnType, Stmt, Type};

use crate::item::Func;
use crate::model::Observe;
use crate::signature::{Flavor, Value};

/// `quote!` with mixed-site hygiene: the generated locals (`__lf_span`, `__lf_r`, …) are
/// invisible to the body, so a parameter of the same name neither shadows nor is shadowed.
/// Paths still resolve at the call site.
macro_rules! q {
    ($($tokens:tt)*) => { quote_spanned!(Span::mixed_site()=> $($tokens)*) };
}

pub(crate) fn expand(observe: Observe, func: Func) -> TokenStream {
    let Func { attrs, vis, sig, body, brace } = func;
    let krate = &observe.krate;
    let p = q!(#krate::__private);
    let (inner_attrs, body) = split_inner_attributes(body);
    let site = call_site(&observe, &p);
    let capture = capture_closure(&observe, &p);
    let finish = finish_closure(&observe.value, &p);
    let ret = match &sig.output {
        ReturnType::Default => None,
        ReturnType::Type(_, ty) => Some(&**ty),
    };

    let run = match observe.flavor {
        Flavor::Sync => {
            let ret = match ret {
                Some(ty) => erase_impl_trait(ty),
                None => q!(()),
            };
            q! {
                let __lf_span = #p::enter(&__LF_SITE, #capture);
                __lf_span.run(move || -> #ret { #body }, #finish)
            }
        }
        Flavor::Async => {
            // Fixes the async block's type before the body is checked, so that
            // `return Err(Box::new(e))` coerces as it would in the function itself.
            let fake_return = ret.filter(|ty| nameable(ty)).map(|ty| {
                // Located at the return type: "return type inferred to be `T` here" points there.
                let at = Span::mixed_site().located_at(span_of(ty));
                quote_spanned! {at=>
                    if let ::core::option::Option::Some(__lf_ret) = ::core::option::Option::None::<#ty> {
                        #[allow(unreachable_code)]
                        return __lf_ret;
                    }
                }
            });
            q! {
                let __lf_span = #p::start(&__LF_SITE, #capture);
                __lf_span.instrument(async move { #fake_return #body }, #finish).await
            }
        }
        Flavor::Future => {
            let is_impl = matches!(ret, Some(Type::ImplTrait(_)));
            match async_trait_tail(&body).filter(|_| !is_impl) {
                // `#[async_trait]` already turned the body into `Box::pin(async move { … })`:
                // instrument that future in place, without a second box.
                Some((stmts, func, future)) => q! {
                    let __lf_span = #p::start(&__LF_SITE, #capture);
                    #(#stmts)*
                    #func(__lf_span.instrument(#future, #finish))
                },
                None => {
                    let instrumented = q!(__lf_span.instrument(__lf_made, #finish));
                    let instrumented = if is_impl {
                        instrumented
                    } else {
                        q!(::std::boxed::Box::pin(#instrumented))
                    };
                    // The body runs (up to the future it returns) with the observation
                    // current, so calls made before the future nest under it too.
                    q! {
                        let __lf_span = #p::start(&__LF_SITE, #capture);
                        let __lf_made = __lf_span.call(move || { #body });
                        #instrumented
                    }
                }
            }
        }
        Flavor::Stream { is_async } => {
            let method = match (is_async, &observe.transform_to_string) {
                (true, None) => q!(stream),
                (true, Some(_)) => q!(stream_to_string),
                (false, None) => q!(iterator),
                (false, Some(_)) => q!(iterator_to_string),
            };
            let transform = observe.transform_to_string.as_ref().map(|f| q!(, #f));
            q! {
                let __lf_span = #p::start(&__LF_SITE, #capture);
                let __lf_made = __lf_span.call(move || { #body });
                __lf_span.#method(__lf_made, #finish #transform)
            }
        }
    };

    // The body keeps the span of the user's braces: with an expansion span there, lints
    // such as `dead_code` stop reporting the function (tokio-rs/tracing#3108).
    let mut block = proc_macro2::Group::new(
        Delimiter::Brace,
        q! {
            #(#inner_attrs)*
            static __LF_SITE: #p::CallSite = #site;
            #run
        },
    );
    block.set_span(brace);
    q! {
        #(#attrs)*
        #vis #sig #block
    }
}

/// `CallSite::new("name", Type)` plus one const call per explicit argument.
fn call_site(observe: &Observe, p: &TokenStream) -> TokenStream {
    let name = &observe.name;
    let ty = &observe.observation_type;
    let mut site = q!(#p::CallSite::new(#name, #p::ObservationType::#ty));
    if let Some(on) = observe.capture_input {
        site.extend(q!(.capture_input(#on)));
    }
    if let Some(on) = observe.capture_output {
        site.extend(q!(.capture_output(#on)));
    }
    if let Some(level) = &observe.level {
        site.extend(q!(.level(#p::Level::#level)));
    }
    if let Some(version) = &observe.version {
        site.extend(quote_spanned!(span_of(version)=> .version(#version)));
    }
    site
}

/// Writes `value` (a reference) into the JSON writer `out` by the best available trait.
fn capture_value(p: &TokenStream, value: TokenStream, out: TokenStream) -> TokenStream {
    q!((&&&&#p::Wrap(#value)).__lf_capture(#out);)
}

fn capture_closure(observe: &Observe, p: &TokenStream) -> TokenStream {
    if observe.params.is_empty() && observe.metadata.is_empty() {
        return q!(#p::no_input);
    }
    let params = observe.params.iter().enumerate().map(|(i, param)| {
        let ident = &param.ident;
        // Parameter names are identifiers: the quoted key is built here, never escaped at run
        // time, with the comma before every member but the first (all are always written).
        let comma = if i == 0 { "" } else { "," };
        let key = format!("{comma}\"{}\":", param.key);
        let span = ident.span();
        capture_value(p, quote_spanned!(span=> &#ident), q!(__lf_w.member_key(#key)))
    });
    let input = (!observe.params.is_empty()).then(|| {
        q! {
            if let ::core::option::Option::Some(__lf_w) = __lf_s.input() { #(#params)* }
        }
    });
    let metadata = observe.metadata.iter().map(|(key, expr)| {
        let value = quote_spanned!(span_of(expr)=> &(#expr));
        capture_value(p, value, q!(__lf_s.metadata(#key)))
    });
    q! {
        |__lf_s| {
            #[allow(unused_imports)]
            use #p::traits::*;
            #input
            #(#metadata)*
        }
    }
}

fn finish_closure(value: &Value, p: &TokenStream) -> TokenStream {
    let write = |v: TokenStream| {
        let capture = capture_value(p, v, q!(__lf_w));
        q!(if let ::core::option::Option::Some(__lf_w) = __lf_o.value() { #capture })
    };
    let body = match value {
        Value::Unit | Value::Never => return q!(#p::no_output),
        Value::Plain => write(q!(__lf_r)),
        Value::Result(span) => {
            // The whole match sits at the return type (mixed-site hygiene, located there): a
            // type that is not `std`'s `Result` fails the call, the `Ok` and the `Err` arm, and
            // at one span rustc reports that once.
            let ok = write(q!(__lf_v));
            let shape = q!(#p::ResultShape::__lf_result);
            let matched = q! {
                match #shape(__lf_r) {
                    ::core::result::Result::Ok(__lf_v) => { #ok }
                    ::core::result::Result::Err(__lf_e) => __lf_o.error((&&&#p::Wrap(__lf_e)).__lf_message()),
                }
            };
            located_at(matched, Span::mixed_site().located_at(*span))
        }
        Value::Option(span) => {
            let some = write(q!(__lf_v));
            let shape = q!(#p::OptionShape::__lf_option);
            let matched = q! {
                if let ::core::option::Option::Some(__lf_v) = #shape(__lf_r) { #some }
            };
            located_at(matched, Span::mixed_site().located_at(*span))
        }
    };
    q! {
        |__lf_o, __lf_r| {
            #[allow(unused_imports)]
            use #p::traits::*;
            #body
        }
    }
}

/// `tokens` with every span moved to `at` (generated tokens only: hygiene comes from `at`).
fn located_at(tokens: TokenStream, at: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tree| {
            if let TokenTree::Group(group) = &tree {
                let mut moved =
                    proc_macro2::Group::new(group.delimiter(), located_at(group.stream(), at));
                moved.set_span(at);
                tree = TokenTree::Group(moved);
            } else {
                tree.set_span(at);
            }
            tree
        })
        .collect()
}

fn span_of(tokens: &impl ToTokens) -> Span {
    tokens.to_token_stream().into_iter().next().map_or_else(Span::call_site, |t| t.span())
}

/// Inner attributes (`#![allow(…)]`) cannot stay inside the closure or async block the body
/// moves into; they go to the start of the function body.
fn split_inner_attributes(body: TokenStream) -> (Vec<TokenStream>, TokenStream) {
    let tokens: Vec<TokenTree> = body.into_iter().collect();
    let mut attrs = Vec::new();
    let mut i = 0;
    while let [TokenTree::Punct(hash), TokenTree::Punct(bang), TokenTree::Group(group), ..] =
        &tokens[i..]
    {
        if hash.as_char() != '#' || bang.as_char() != '!' || group.delimiter() != Delimiter::Bracket
        {
            break;
        }
        attrs.push(tokens[i..i + 3].iter().cloned().collect());
        i += 3;
    }
    (attrs, tokens[i..].iter().cloned().collect())
}

/// A type usable in a closure's return annotation: each `impl Trait` becomes `_`.
fn erase_impl_trait(ty: &Type) -> TokenStream {
    struct Eraser;
    impl VisitMut for Eraser {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            if let Type::ImplTrait(t) = ty {
                *ty = Type::Infer(syn::TypeInfer {
                    attrs: Vec::new(),
                    underscore_token: syn::token::Underscore(t.impl_token.span),
                });
            } else {
                syn::visit_mut::visit_type_mut(self, ty);
            }
        }
    }
    let mut ty = ty.clone();
    Eraser.visit_type_mut(&mut ty);
    ty.into_token_stream()
}

/// Whether `ty` can be written as a generic argument (`None::<ty>`): no `impl Trait`, no `!`.
fn nameable(ty: &Type) -> bool {
    struct Finder(bool);
    impl VisitMut for Finder {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            match ty {
                Type::ImplTrait(_) | Type::Never(_) | Type::Infer(_) => self.0 = false,
                _ => syn::visit_mut::visit_type_mut(self, ty),
            }
        }
    }
    let mut finder = Finder(true);
    finder.visit_type_mut(&mut ty.clone());
    finder.0
}

/// The body of an `#[async_trait]` method: statements, then `Box::pin(async move { … })`.
fn async_trait_tail(body: &TokenStream) -> Option<(Vec<Stmt>, Expr, Expr)> {
    let mut stmts = syn::parse::Parser::parse2(syn::Block::parse_within, body.clone()).ok()?;
    let Some(Stmt::Expr(Expr::Call(call), None)) = stmts.last() else { return None };
    let [future @ Expr::Async(_)] = call.args.iter().collect::<Vec<_>>()[..] else { return None };
    let (func, future) = (*call.func.clone(), future.clone());
    stmts.pop();
    Some((stmts, func, future))
}
