//! The committed `src/generated/skywalking.v3.rs` is exactly what the generator makes of
//! `protocol/*.proto` today: regenerates into a temporary directory and compares bytes.
//!
//! `REGENERATE=1 cargo test -p skywalking-proto --test generated` rewrites the file
//! instead, as `cargo run -p skywalking-proto --example regenerate` does.

mod codegen;

#[test]
fn committed_code_matches_the_protocol() {
    if std::env::var_os("REGENERATE").is_some_and(|v| v != "0") {
        let path = codegen::regenerate().expect("regenerating the protocol code");
        eprintln!("rewrote {}", path.display());
        return;
    }
    let fresh = codegen::generate().expect("generating the protocol code");
    let path = codegen::committed_path();
    let committed = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    if committed != fresh {
        let line = committed
            .lines()
            .zip(fresh.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(fresh.lines().count()))
            + 1;
        panic!(
            "{} is stale: it differs from the code generated from protocol/*.proto \
             (first at line {line}). Run `{}` (or `REGENERATE=1 cargo test -p \
             skywalking-proto --test generated`) and commit the result.",
            path.display(),
            codegen::REGENERATE,
        );
    }
}
