//! Signature analysis, read from spelling: how the function produces its value (sync, `async`,
//! a returned future, stream or iterator), what that value is (`Result`, `Option`, `()`, `!`),
//! which bindings its parameters introduce, and the shapes `#[observe]` cannot wrap.

use syn::spanned::Spanned;
use syn::{
    FnArg, GenericArgument, Ident, Pat, PathArguments, PathSegment, ReturnType, Signature, Type,
    TypeParamBound,
};

use crate::errors::Errors;

/// How the function produces its value.
pub(crate) enum Flavor {
    /// A plain function: observed for the duration of the call.
    Sync,
    /// `async fn`: observed while the body's future runs.
    Async,
    /// `fn -> impl Future` or `Pin<Box<dyn Future>>` (`#[async_trait]`): observed while the
    /// returned future runs.
    Future,
    /// `fn -> impl Stream` (`true`) or `impl Iterator` (`false`): observed until exhausted/dropped.
    Stream { is_async: bool },
}

/// What the produced value is, read from its spelling.
pub(crate) enum Value {
    /// `()` or no return type: no output.
    Unit,
    /// `!`: never returns.
    Never,
    /// `…Result<…>`: `Ok` is the output, `Err` an ERROR.
    Result(proc_macro2::Span),
    /// `…Option<…>`: `Some(v)` is `v`, `None` no output.
    Option(proc_macro2::Span),
    /// Anything else.
    Plain,
}

/// Rejects the functions no observation can wrap (`const fn`, C-variadic arguments).
pub(crate) fn reject_unsupported(sig: &Signature, errors: &mut Errors) {
    if let Some(constness) = &sig.constness {
        errors.at(
            constness.span,
            "`#[observe]` cannot be used on a `const fn`: recording an observation reads the \
             clock, creates ids and hands the record to the exporter, none of which can run in \
             a const context\nhelp: remove `const`, or move the work into a non-const fn and \
             observe that one",
        );
    }
    if let Some(variadic) = &sig.variadic {
        errors.at(variadic.span(), "`#[observe]` cannot capture C-variadic arguments");
    }
}

/// Every binding of every typed parameter, in order; receivers never (`self` is not input).
pub(crate) fn parameter_bindings(sig: &Signature) -> Vec<Ident> {
    let mut all = Vec::new();
    for input in &sig.inputs {
        if let FnArg::Typed(pat_type) = input {
            bindings(&pat_type.pat, &mut all);
        }
    }
    all
}

/// Every identifier a parameter pattern binds, in order (`(a, b): (i32, i32)` binds `a`, `b`).
fn bindings(pat: &Pat, out: &mut Vec<Ident>) {
    match pat {
        Pat::Ident(p) => {
            out.push(p.ident.clone());
            if let Some((_, sub)) = &p.subpat {
                bindings(sub, out);
            }
        }
        Pat::Tuple(p) => p.elems.iter().for_each(|p| bindings(p, out)),
        Pat::TupleStruct(p) => p.elems.iter().for_each(|p| bindings(p, out)),
        Pat::Slice(p) => p.elems.iter().for_each(|p| bindings(p, out)),
        Pat::Struct(p) => p.fields.iter().for_each(|f| bindings(&f.pat, out)),
        Pat::Reference(p) => bindings(&p.pat, out),
        Pat::Paren(p) => bindings(&p.pat, out),
        Pat::Type(p) => bindings(&p.pat, out),
        // Every alternative binds the same names.
        Pat::Or(p) => {
            if let Some(first) = p.cases.first() {
                bindings(first, out);
            }
        }
        _ => {}
    }
}

/// The function's [`Flavor`] and the [`Value`] it records as output: the return value, the
/// future's output for futures, the item for streams and iterators.
pub(crate) fn classify(sig: &Signature) -> (Flavor, Value) {
    let ret = match &sig.output {
        ReturnType::Default => None,
        ReturnType::Type(_, ty) => Some(&**ty),
    };
    if sig.asyncness.is_some() {
        return (Flavor::Async, ret.map_or(Value::Unit, value_of));
    }
    let Some(ret) = ret else { return (Flavor::Sync, Value::Unit) };
    if let Some(output) = future_output(ret) {
        return (Flavor::Future, output.map_or(Value::Plain, value_of));
    }
    if let Some((is_async, item)) = stream_item(ret) {
        return (Flavor::Stream { is_async }, item.map_or(Value::Plain, value_of));
    }
    (Flavor::Sync, value_of(ret))
}

fn peel(ty: &Type) -> &Type {
    match ty {
        Type::Paren(t) => peel(&t.elem),
        Type::Group(t) => peel(&t.elem),
        _ => ty,
    }
}

fn last_segment(ty: &Type) -> Option<&PathSegment> {
    match peel(ty) {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        _ => None,
    }
}

fn value_of(ty: &Type) -> Value {
    match peel(ty) {
        Type::Never(_) => Value::Never,
        Type::Tuple(t) if t.elems.is_empty() => Value::Unit,
        _ => match last_segment(ty) {
            Some(s) if s.ident == "Result" => Value::Result(s.ident.span()),
            Some(s) if s.ident == "Option" => Value::Option(s.ident.span()),
            _ => Value::Plain,
        },
    }
}

/// The first type argument of a path segment (`Box<T>` → `T`).
fn first_type_arg(segment: &PathSegment) -> Option<&Type> {
    match &segment.arguments {
        PathArguments::AngleBracketed(a) => a.args.iter().find_map(|arg| match arg {
            GenericArgument::Type(t) => Some(t),
            _ => None,
        }),
        _ => None,
    }
}

/// The bound `Future`/`Stream`/`Iterator`… of an `impl` or `dyn` type, by last segment.
fn bound_named<'a>(ty: &'a Type, names: &[&str]) -> Option<&'a PathSegment> {
    let bounds = match peel(ty) {
        Type::ImplTrait(t) => &t.bounds,
        Type::TraitObject(t) => &t.bounds,
        _ => return None,
    };
    bounds.iter().find_map(|b| match b {
        TypeParamBound::Trait(t) => {
            t.path.segments.last().filter(|s| names.iter().any(|n| s.ident == n))
        }
        _ => None,
    })
}

fn assoc_type<'a>(segment: &'a PathSegment, name: &str) -> Option<&'a Type> {
    match &segment.arguments {
        PathArguments::AngleBracketed(a) => a.args.iter().find_map(|arg| match arg {
            GenericArgument::AssocType(t) if t.ident == name => Some(&t.ty),
            _ => None,
        }),
        _ => None,
    }
}

/// `Some(output)` for `impl Future<Output = T>` and `Pin<Box<dyn Future<Output = T> …>>`.
fn future_output(ty: &Type) -> Option<Option<&Type>> {
    let future = if let Type::ImplTrait(_) = peel(ty) {
        bound_named(ty, &["Future"])?
    } else {
        let pin = last_segment(ty).filter(|s| s.ident == "Pin")?;
        let boxed = last_segment(first_type_arg(pin)?).filter(|s| s.ident == "Box")?;
        bound_named(first_type_arg(boxed)?, &["Future"])?
    };
    Some(assoc_type(future, "Output"))
}

/// The iterator traits a return type may be spelled with (`impl DoubleEndedIterator<Item = …>`
/// is as much an iterator as `impl Iterator<Item = …>`); the wrapper implements each of them
/// when the body's iterator does.
const ITERATOR_TRAITS: &[&str] =
    &["Iterator", "DoubleEndedIterator", "ExactSizeIterator", "FusedIterator"];

/// `Some((true, item))` for `impl Stream<Item = …>`, `Some((false, item))` for
/// `impl Iterator<Item = …>` and the other [`ITERATOR_TRAITS`].
fn stream_item(ty: &Type) -> Option<(bool, Option<&Type>)> {
    if !matches!(peel(ty), Type::ImplTrait(_)) {
        return None;
    }
    if let Some(stream) = bound_named(ty, &["Stream"]) {
        return Some((true, assoc_type(stream, "Item")));
    }
    let bounds = match peel(ty) {
        Type::ImplTrait(t) => &t.bounds,
        _ => return None,
    };
    // `impl ExactSizeIterator + Iterator<Item = u8>`: the item may be given on any of them.
    let iterators: Vec<&PathSegment> = bounds
        .iter()
        .filter_map(|b| match b {
            TypeParamBound::Trait(t) => t.path.segments.last(),
            _ => None,
        })
        .filter(|s| ITERATOR_TRAITS.iter().any(|n| s.ident == n))
        .collect();
    if iterators.is_empty() {
        return None;
    }
    Some((false, iterators.iter().find_map(|s| assoc_type(s, "Item"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(sig: &str) -> (&'static str, &'static str) {
        let (flavor, value) = classify(&syn::parse_str(sig).unwrap());
        let flavor = match flavor {
            Flavor::Sync => "sync",
            Flavor::Async => "async",
            Flavor::Future => "future",
            Flavor::Stream { is_async: true } => "stream",
            Flavor::Stream { is_async: false } => "iterator",
        };
        let value = match value {
            Value::Unit => "unit",
            Value::Never => "never",
            Value::Result(_) => "result",
            Value::Option(_) => "option",
            Value::Plain => "plain",
        };
        (flavor, value)
    }

    #[test]
    fn return_shapes_are_read_from_spelling() {
        assert_eq!(shape("fn f()"), ("sync", "unit"));
        assert_eq!(shape("fn f() -> ()"), ("sync", "unit"));
        assert_eq!(shape("fn f() -> !"), ("sync", "never"));
        assert_eq!(shape("fn f() -> io::Result<()>"), ("sync", "result"));
        assert_eq!(shape("fn f() -> (Option<u8>)"), ("sync", "option"));
        assert_eq!(shape("fn f() -> <T as X>::Result"), ("sync", "plain"));
        assert_eq!(shape("async fn f() -> Result<u8, E>"), ("async", "result"));
        assert_eq!(shape("async fn f()"), ("async", "unit"));
        assert_eq!(
            shape("fn f() -> impl Future<Output = Option<u8>> + Send"),
            ("future", "option")
        );
        assert_eq!(
            shape("fn f() -> Pin<Box<dyn Future<Output = Result<u8, E>> + Send + 'a>>"),
            ("future", "result")
        );
        assert_eq!(shape("fn f() -> Box<dyn Future<Output = u8>>"), ("sync", "plain"));
        assert_eq!(shape("fn f() -> impl Stream<Item = Result<u8, E>>"), ("stream", "result"));
        assert_eq!(
            shape("fn f() -> impl ExactSizeIterator + Iterator<Item = u8>"),
            ("iterator", "plain")
        );
        assert_eq!(shape("fn f() -> impl DoubleEndedIterator<Item = ()>"), ("iterator", "unit"));
        assert_eq!(shape("fn f() -> impl Display"), ("sync", "plain"));
    }

    #[test]
    fn bindings_follow_patterns_and_leave_out_receivers() {
        let sig: Signature = syn::parse_str(
            "fn f(&self, (a, b): (u8, u8), P { x, y: ref z }: P, _: u8, r#type: u8, w @ 1..=2: u8)",
        )
        .unwrap();
        let names: Vec<String> = parameter_bindings(&sig).iter().map(|i| i.to_string()).collect();
        assert_eq!(names, ["a", "b", "x", "z", "r#type", "w"]);
    }
}
