//! Identifiers as the user means them: `r#type` is the parameter or key `type`.

use syn::Ident;

/// The identifier without a leading `r#`.
pub(crate) fn unraw(ident: &Ident) -> String {
    let text = ident.to_string();
    match text.strip_prefix("r#") {
        Some(rest) => rest.to_owned(),
        None => text,
    }
}
