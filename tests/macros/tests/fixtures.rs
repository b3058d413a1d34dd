//! The fixture crates of `fixtures/checks`, checked by cargo in their own target dir
//! (`target/sw-fixtures`, kept between runs so the dependencies build once):
//!
//! - `edition2018` and `edition2021` compile `fixtures/no_new_warnings.rs` under
//!   `deny(warnings)`: the expansion adds no warning in those editions (the `ui` crate,
//!   edition 2024, compiles it too). They also name the runtime `sw` through
//!   `[workspace.dependencies]` and through a `[target.'cfg(..)'.dependencies]` table.
//! - `through_facade` reaches `#[trace]` through a crate re-exporting the runtime, so
//!   its manifest names neither the runtime nor the macros: the attribute is an error
//!   that says to write `crate = path`, and `crate = path` works.

use std::path::PathBuf;
use std::process::{Command, Output};

fn cargo_check(package: &str) -> Output {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .args(["check", "--quiet", "--package", package, "--manifest-path"])
        .arg(manifest_dir.join("fixtures/checks/Cargo.toml"))
        .env(
            "CARGO_TARGET_DIR",
            manifest_dir.join("../../target/sw-fixtures"),
        )
        // The fixtures set their own lint levels; `--cfg sw_disable` would hide the
        // expansion.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .expect("cargo runs")
}

#[test]
fn the_expansion_adds_no_warning_in_editions_2018_and_2021() {
    for package in ["edition2018", "edition2021"] {
        let output = cargo_check(package);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "{package} does not compile without warnings:\n{stderr}"
        );
        // Cargo replays the warnings of path dependencies (the runtime): only the
        // fixture's own are the point.
        assert!(
            !stderr.contains("no_new_warnings.rs"),
            "{package} warned:\n{stderr}"
        );
    }
}

#[test]
fn a_crate_without_the_runtime_is_told_to_say_where_it_is() {
    let output = cargo_check("through_facade");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "through_facade compiled:\n{stderr}"
    );
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("error"))
        .collect();
    // One error, at the attribute of `missing`; `named` (which calls `missing`)
    // compiles, so the item was still emitted.
    assert_eq!(
        errors.len(),
        2,
        "expected the missing-runtime error and cargo's summary:\n{stderr}"
    );
    assert!(
        errors[0].contains("cannot find `skywalking-runtime` among the dependencies of")
            && errors[0].contains("through_facade/Cargo.toml")
            && errors[0].contains("`#[sw::trace(crate = path::to::skywalking_runtime)]`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("src/lib.rs:5:1"),
        "not at the attribute:\n{stderr}"
    );
    assert!(
        errors[1].contains("could not compile `through_facade`"),
        "{stderr}"
    );
}
