//! The checked model `expand.rs` generates code from: plain values, no rules left to apply.

use proc_macro2::TokenStream;
use syn::{Expr, Ident};

use crate::signature::{Flavor, Value};

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
