//! Compile tests of `#[sw::trace]`: `ui/pass` must build and run, `ui/fail` must fail
//! with the checked `.stderr`. Regenerate those with `TRYBUILD=overwrite` and read them.
//! Pinned to the stable channel so that nightly's message changes do not flap.

#[rustversion::attr(not(stable), ignore)]
#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
