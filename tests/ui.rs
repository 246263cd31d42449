//! Compile tests of `#[observe]`: every supported function shape compiles (and runs), every
//! misuse fails with the message in its `.stderr` snapshot.
//!
//! Snapshots are for the stable toolchain CI uses; regenerate with
//! `TRYBUILD=overwrite cargo test --test ui` and read the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
