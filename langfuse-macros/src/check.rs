//! Rules across arguments and the function signature: turns parsed [`Args`] and the signature
//! into the plain model [`Observe`] that `expand.rs` generates code from. Every violation is
//! collected with the span of the offending token, in a fixed order (the order of the messages).

use syn::Signature;

use crate::args::{self, Args};
use crate::errors::{Errors, closest};
use crate::ident::unraw;
use crate::model::{Observe, Param};
use crate::signature::{self, Flavor};

/// Applies every rule; `errors` receives each violation.
pub(crate) fn check(args: Args, sig: &Signature, errors: &mut Errors) -> Observe {
    signature::reject_unsupported(sig, errors);
    let krate = args::runtime_path(args.krate.as_ref().map(|a| &a.value));
    let name = match &args.name {
        Some(n) => n.value.value(),
        None => unraw(&sig.ident),
    };
    let observation_type = args::observation_type(args.as_type.as_ref().map(|a| &a.value), errors);
    let level = args::level_variant(args.level.as_ref().map(|a| &a.value), errors);
    let params = params(&args, sig, errors);
    let metadata = args::metadata_entries(args.metadata.map(|a| a.value), errors);

    let (flavor, value) = signature::classify(sig);
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

/// The captured parameters: every binding minus `skip(…)`, none with `skip_all`. Each skipped
/// name must be a parameter (or `self` of a method), once.
fn params(args: &Args, sig: &Signature, errors: &mut Errors) -> Vec<Param> {
    let all = signature::parameter_bindings(sig);
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
    if args.skip_all.is_some() {
        Vec::new()
    } else {
        all.into_iter()
            .map(|ident| Param { key: unraw(&ident), ident })
            .filter(|p| !skipped.contains(&p.key))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &str, sig: &str) -> (Observe, Vec<String>) {
        let mut errors = Errors::default();
        let args = Args::parse(args.parse().unwrap(), &mut errors);
        let observe = check(args, &syn::parse_str(sig).unwrap(), &mut errors);
        let messages = match errors.into_result() {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        };
        (observe, messages)
    }

    #[test]
    fn skip_rules() {
        let (observe, errors) = run("skip(self, r#type)", "fn f(&self, r#type: u8, y: u8)");
        assert!(errors.is_empty(), "{errors:?}");
        let keys: Vec<&str> = observe.params.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["y"]);
        let (_, errors) = run("skip(self, x, x, yy), skip_all", "fn f(x: u8, y: u8)");
        assert_eq!(
            errors,
            [
                "`skip_all` cannot be combined with `skip(…)`: `skip_all` already leaves every \
                 argument out of the input",
                "`self` is not a parameter of this function",
                "`x` is skipped twice",
                "cannot skip `yy`: this function has no parameter named `yy`\nhelp: did you mean `y`?",
            ]
        );
        let (observe, _) = run("skip_all", "fn f(x: u8)");
        assert!(observe.params.is_empty());
    }

    #[test]
    fn transform_needs_a_stream_or_iterator() {
        let (_, errors) = run("transform_to_string = f", "fn f() -> Vec<u8>");
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("`transform_to_string` applies only"), "{errors:?}");
        let (observe, errors) =
            run("transform_to_string = f", "fn f() -> impl Iterator<Item = u8>");
        assert!(errors.is_empty() && observe.transform_to_string.is_some());
    }

    #[test]
    fn defaults_and_resolved_values() {
        let (observe, errors) = run(r#"as_type = "tool", level = "WARNING""#, "fn r#match()");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(observe.name, "match");
        assert_eq!(observe.observation_type, "Tool");
        assert_eq!(observe.level.unwrap(), "Warning");
        assert_eq!(observe.krate.to_string(), ":: langfuse_runtime");
        let (observe, errors) = run(r#"metadata(a = 1, "a" = 2)"#, "fn f()");
        assert_eq!(errors, ["duplicate metadata key `a`"]);
        assert_eq!(observe.metadata.len(), 1);
    }
}
