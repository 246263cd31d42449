//! The `#[observe]` attribute macro of [`langfuse-runtime`](https://docs.rs/langfuse-runtime).
//!
//! Use it through `langfuse_runtime::observe`: the full documentation, with an example per
//! argument, is there. This crate only turns the function into calls to
//! `langfuse_runtime::__private`.
mod args;
mod check;
mod expand;

use proc_macro::TokenStream;

/// Turns every call of a function into a Langfuse observation.
///
/// See `langfuse_runtime::observe` for the documentation.
#[proc_macro_attribute]
pub fn observe(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    let mut errors = check::Errors::default();
    let args = args::Args::parse(args.into(), &mut errors);
    let func = match syn::parse2::<args::Func>(item.clone()) {
        Ok(func) => func,
        Err(e) => {
            errors.push(syn::Error::new(
                e.span(),
                format!("`#[observe]` can only be used on a function with a body: {e}"),
            ));
            return with_errors(item, errors);
        }
    };
    let observe = check::check(args, &func.sig, &mut errors);
    if errors.is_empty() { expand::expand(observe, func).into() } else { with_errors(item, errors) }
}

/// The function unchanged, next to the errors: IDEs and the rest of the crate keep seeing it.
fn with_errors(mut item: proc_macro2::TokenStream, errors: check::Errors) -> TokenStream {
    if let Err(e) = errors.into_result() {
        item.extend(e.into_compile_error());
    }
    item.into()
}
