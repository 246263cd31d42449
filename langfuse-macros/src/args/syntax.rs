//! What the argument parsers share: the argument names as keywords, and the `name = value` form.

use syn::Token;
use syn::parse::ParseStream;

pub(super) mod kw {
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

/// `= value`, the value read by `f`.
pub(super) fn eq_then<T>(
    input: ParseStream,
    f: impl FnOnce(ParseStream) -> syn::Result<T>,
) -> syn::Result<T> {
    input.parse::<Token![=]>()?;
    f(input)
}
