//! `RUSTFLAGS="--cfg sw_disable"`: annotated functions compile to the plain functions.
//!
//! Builds `fixtures/disabled` (every form of the attribute) with the cfg, in its own
//! target dir (`target/sw-disable`, kept between runs so the dependencies build once),
//! and checks that the build warns about nothing (though arguments, fields, a constant,
//! a function, a `mut` and an import are used only by options) and that the binary's
//! symbol table holds no symbol of `skywalking_runtime` while it does hold the fixture's
//! functions.
//! The first run builds the runtime's dependencies (about two minutes on two cores).

use std::path::{Path, PathBuf};
use std::process::Command;

fn cargo_build(fixture: &Path, target: &Path) -> String {
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .args(["build", "--quiet", "--manifest-path"])
        .arg(fixture.join("Cargo.toml"))
        .env("RUSTFLAGS", "--cfg sw_disable")
        .env("CARGO_TARGET_DIR", target)
        // Symbols, not debug info: every function the binary calls is in `.symtab`.
        .env("CARGO_PROFILE_DEV_DEBUG", "0")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .expect("cargo runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "build failed:\n{stderr}");
    stderr
}

#[test]
fn sw_disable_removes_every_trace_of_the_runtime() {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let fixture = manifest_dir.join("fixtures/disabled");
    let workspace = manifest_dir.join("../..");
    let target = workspace.join("target/sw-disable");
    cargo_build(&fixture, &target);
    // Rebuild the fixture, to see its own warnings. (Cargo also replays the cached
    // warnings of path dependencies, such as the runtime: those are not the point here.)
    let main = fixture.join("src/main.rs");
    let source = std::fs::read_to_string(&main).unwrap();
    std::fs::write(&main, &source).unwrap();
    let stderr = cargo_build(&fixture, &target);
    let fixture_warned = stderr.contains("`sw-disabled-fixture`")
        || stderr
            .lines()
            .any(|line| line.trim_start().starts_with("--> src/"));
    assert!(!fixture_warned, "the annotated crate warned:\n{stderr}");

    let binary = target.join("debug").join(format!(
        "sw-disabled-fixture{}",
        std::env::consts::EXE_SUFFIX
    ));
    let bytes = std::fs::read(&binary).expect("the fixture binary");
    let contains = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    // The scan sees symbols: the fixture's own functions are there.
    assert!(
        contains("sw_disabled_fixture"),
        "no symbol table in {}",
        binary.display()
    );
    assert!(
        contains("5price"),
        "the annotated fn `price` is not in the symbol table"
    );
    assert!(
        !contains("skywalking_runtime"),
        "a symbol of skywalking_runtime is linked into {}",
        binary.display()
    );
}
