//! Examples and integration tests of the Langfuse Rust SDK live in `examples/` and `tests/`.
