//! Rules across arguments and the function signature. Turns parsed [`Args`] and the signature
//! into the plain model [`Observe`] that `expand.rs` generates code from; every violation is
//! collected with the span of the offending token.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::spanned::Spanned;
use syn::{
    Expr, FnArg, GenericArgument, Ident, Pat, PathArguments, PathSegment, ReturnType, Signature,
    Type, TypeParamBound,
};

use crate::args::Args;

/// Errors collected across parsing and checking, reported together.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }
    fn at(&mut self, span: Span, message: impl std::fmt::Display) {
        self.push(syn::Error::new(span, message));
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_none()
    }
    pub(crate) fn into_result(self) -> Result<(), syn::Error> {
        self.0.map_or(Ok(()), Err)
    }
}

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
    Result(Span),
    /// `…Option<…>`: `Some(v)` is `v`, `None` no output.
    Option(Span),
    /// Anything else.
    Plain,
}

/// A captured parameter binding: its key in the input object and the binding itself.
pub(crate) struct Param {
    pub(crate) key: String,
    pub(crate) ident: Ident,
}

/// Everything `expand.rs` needs, already checked.
pub(crate) struct Observe {
    /// Path to the runtime crate (`::langfuse_runtime` or the `crate = …` value).
    pub(crate) krate: TokenStream,
    pub(crate) name: String,
    pub(crate) observation_type: Ident,
    pub(crate) capture_input: Option<bool>,
    pub(crate) capture_output: Option<bool>,
    pub(crate) level: Option<Ident>,
    pub(crate) version: Option<Expr>,
    pub(crate) metadata: Vec<(String, Expr)>,
    pub(crate) params: Vec<Param>,
    pub(crate) transform_to_string: Option<Expr>,
    pub(crate) flavor: Flavor,
    /// The type whose values are recorded as output (the future's output for futures, the
    /// item for streams and iterators).
    pub(crate) value: Value,
}

/// Applies every rule; `errors` receives each violation.
pub(crate) fn check(args: Args, sig: &Signature, errors: &mut Errors) -> Observe {
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

    let krate = match &args.krate {
        Some(k) => {
            let path = &k.value;
            quote!(#path)
        }
        None => quote!(::langfuse_runtime),
    };
    let name = match &args.name {
        Some(n) => n.value.value(),
        None => unraw(&sig.ident),
    };
    let observation_type = match &args.as_type {
        None => Ident::new("Span", Span::call_site()),
        Some(arg) => {
            let text = arg.value.value();
            match TYPES.iter().find(|(t, _)| *t == text) {
                Some((_, variant)) => Ident::new(variant, arg.value.span()),
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
                    errors.at(arg.value.span(), message);
                    Ident::new("Span", Span::call_site())
                }
            }
        }
    };
    let level = args.level.as_ref().and_then(|arg| {
        let text = arg.value.value().to_ascii_lowercase();
        match LEVELS.iter().find(|(l, _)| *l == text) {
            Some((_, variant)) => Some(Ident::new(variant, arg.value.span())),
            None => {
                let names: Vec<&str> = LEVELS.iter().map(|(l, _)| *l).collect();
                errors.at(arg.value.span(), unknown_value("level", &arg.value.value(), &names));
                None
            }
        }
    });

    // Parameters: every binding of every typed parameter, in order; receivers never.
    let mut all = Vec::new();
    for input in &sig.inputs {
        if let FnArg::Typed(pat_type) = input {
            bindings(&pat_type.pat, &mut all);
        }
    }
    let has_receiver = sig.receiver().is_some();
    if let (Some(_), Some(skip_all)) = (&args.skip, &args.skip_all) {
        errors.at(
            skip_all.key,
            "`skip_all` cannot be combined with `skip(…)`: `skip_all` already leaves every \
             argument out of the input",
        );
    }
    let mut skipped: Vec<String> = Vec::new();
    if let Some(skip) = &args.skip {
        let known: Vec<String> = all.iter().map(unraw).collect();
        for ident in &skip.value {
            let text = unraw(ident);
            if skipped.contains(&text) {
                errors.at(ident.span(), format!("`{text}` is skipped twice"));
            } else if text == "self" {
                if !has_receiver {
                    errors.at(ident.span(), "`self` is not a parameter of this function");
                }
            } else if !known.contains(&text) {
                let candidates: Vec<&str> = known.iter().map(String::as_str).collect();
                let mut message =
                    format!("cannot skip `{text}`: this function has no parameter named `{text}`");
                if let Some(best) = closest(&text, &candidates) {
                    message.push_str(&format!("\nhelp: did you mean `{best}`?"));
                } else if !candidates.is_empty() {
                    message.push_str(&format!("\nnote: parameters: {}", candidates.join(", ")));
                }
                errors.at(ident.span(), message);
            }
            skipped.push(text);
        }
    }
    let params = if args.skip_all.is_some() {
        Vec::new()
    } else {
        all.into_iter()
            .map(|ident| Param { key: unraw(&ident), ident })
            .filter(|p| !skipped.contains(&p.key))
            .collect()
    };

    let mut metadata: Vec<(String, Expr)> = Vec::new();
    if let Some(arg) = args.metadata {
        for (key, expr) in arg.value {
            let text = key.text();
            if metadata.iter().any(|(k, _)| *k == text) {
                errors.at(key.span(), format!("duplicate metadata key `{text}`"));
            } else {
                metadata.push((text, expr));
            }
        }
    }

    let (flavor, value) = classify(sig);
    if let Some(arg) = &args.transform_to_string
        && !matches!(flavor, Flavor::Stream { .. })
    {
        errors.at(
            arg.key,
            "`transform_to_string` applies only to functions returning `impl Stream<Item = …>` \
             or `impl Iterator<Item = …>`, whose items it turns into the output text",
        );
    }

    Observe {
        krate,
        name,
        observation_type,
        capture_input: args.capture_input.map(|a| a.value.value),
        capture_output: args.capture_output.map(|a| a.value.value),
        level,
        version: args.version.map(|a| a.value),
        metadata,
        params,
        transform_to_string: args.transform_to_string.map(|a| a.value),
        flavor,
        value,
    }
}

fn unknown_value(what: &str, text: &str, names: &[&str]) -> String {
    let mut message = format!("unknown {what} `{text}`; expected one of: {}", names.join(", "));
    if let Some(best) = closest(&text.to_ascii_lowercase(), names) {
        message.push_str(&format!("\nhelp: did you mean `{best}`?"));
    }
    message
}

/// The identifier without a leading `r#`.
pub(crate) fn unraw(ident: &Ident) -> String {
    let text = ident.to_string();
    match text.strip_prefix("r#") {
        Some(rest) => rest.to_owned(),
        None => text,
    }
}

/// The candidate nearest to `word`, if it is near enough to be a typo: at most one edit per
/// three characters (a swap of two neighbours is one edit), or a prefix of at least 3.
pub(crate) fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .iter()
        .map(|c| {
            let prefix = word.len() >= 3 && (c.starts_with(word) || word.starts_with(c));
            (if prefix { 1 } else { edit_distance(word, c) }, *c)
        })
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Optimal string alignment distance: Levenshtein plus transpositions of adjacent characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
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

fn classify(sig: &Signature) -> (Flavor, Value) {
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

    #[test]
    fn edit_distance_and_suggestions() {
        assert_eq!(edit_distance("tol", "tool"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("nmae", "name"), 1);
        assert_eq!(closest("nmae", &["name", "level"]), Some("name"));
        assert_eq!(closest("warn", &["debug", "warning"]), Some("warning"));
        assert_eq!(closest("generaton", &["span", "generation"]), Some("generation"));
        assert_eq!(closest("zzzz", &["span", "tool"]), None);
    }
}
