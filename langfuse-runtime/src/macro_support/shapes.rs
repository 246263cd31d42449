//! How the macro reads a return type spelled `Result<…>` or `Option<…>`: through traits, so
//! that a user type of the same name gets one clear error instead of a type mismatch.

/// Resolves a return type the macro saw spelled `…Result<…>` to `Ok`/`Err`.
#[diagnostic::on_unimplemented(
    message = "`#[observe]` reads a return type named `Result` as `std::result::Result`, but this one is `{Self}`",
    label = "not `std::result::Result`",
    note = "import the type under another name (`use path::Result as MyResult;`) and it is recorded as a plain value"
)]
pub trait ResultShape {
    /// `T` of `Result<T, E>`.
    type Ok: ?Sized;
    /// `E` of `Result<T, E>`.
    type Err: ?Sized;
    /// Borrows the value or the error.
    fn __lf_result(&self) -> Result<&Self::Ok, &Self::Err>;
}

impl<T, E> ResultShape for Result<T, E> {
    type Ok = T;
    type Err = E;
    #[inline]
    fn __lf_result(&self) -> Result<&T, &E> {
        self.as_ref()
    }
}

/// Resolves a return type the macro saw spelled `…Option<…>` to `Some`/`None`.
#[diagnostic::on_unimplemented(
    message = "`#[observe]` reads a return type named `Option` as `std::option::Option`, but this one is `{Self}`",
    label = "not `std::option::Option`",
    note = "import the type under another name (`use path::Option as MyOption;`) and it is recorded as a plain value"
)]
pub trait OptionShape {
    /// `T` of `Option<T>`.
    type Some: ?Sized;
    /// Borrows the value.
    fn __lf_option(&self) -> Option<&Self::Some>;
}

impl<T> OptionShape for Option<T> {
    type Some = T;
    #[inline]
    fn __lf_option(&self) -> Option<&T> {
        self.as_ref()
    }
}
