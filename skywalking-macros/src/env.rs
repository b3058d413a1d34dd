//! What the macro reads from the build environment: whether `--cfg sw_disable` is on,
//! and the name the annotated crate gives the runtime in its `Cargo.toml`.

use std::path::Path;
use std::sync::Mutex;

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

const RUNTIME: &str = "skywalking-runtime";

/// Whether the build asked for `--cfg sw_disable`.
///
/// Two ways to see it, because a proc macro is compiled for the host: `cfg!` covers
/// `RUSTFLAGS` and `build.rustflags` when cargo runs without `--target` (the flags then
/// reach this crate too); the environment covers `RUSTFLAGS`/`CARGO_ENCODED_RUSTFLAGS`
/// with `--target`, where cargo gives the flags to target crates only but the compiler
/// expanding them still runs in that environment.
pub(crate) fn disabled() -> bool {
    cfg!(sw_disable)
        || std::env::var("CARGO_ENCODED_RUSTFLAGS")
            .is_ok_and(|flags| has_disable_cfg(flags.split('\x1f')))
        || std::env::var("RUSTFLAGS").is_ok_and(|flags| has_disable_cfg(flags.split_whitespace()))
}

fn has_disable_cfg<'a>(mut flags: impl Iterator<Item = &'a str>) -> bool {
    while let Some(flag) = flags.next() {
        let cfg = match flag {
            "--cfg" => flags.next(),
            _ => flag.strip_prefix("--cfg="),
        };
        if cfg.is_some_and(|cfg| cfg.trim() == "sw_disable") {
            return true;
        }
    }
    false
}

/// The path of the runtime crate in expansions: `::skywalking_runtime`, or `::sw` when the
/// annotated crate's manifest renames it (`sw = { package = "skywalking-runtime" }`).
pub(crate) fn runtime_path() -> TokenStream {
    let name = runtime_name().unwrap_or_else(|| "skywalking_runtime".to_owned());
    let ident = Ident::new(&name, Span::call_site());
    quote!(::#ident)
}

/// The renamed crate name, cached per manifest directory (a compiler process expands
/// one crate; an IDE's proc-macro server many).
fn runtime_name() -> Option<String> {
    static CACHE: Mutex<Vec<(String, Option<String>)>> = Mutex::new(Vec::new());
    let dir = std::env::var("CARGO_MANIFEST_DIR").ok()?;
    // The runtime's own tests, examples and doctests name it `skywalking_runtime`.
    if std::env::var("CARGO_PKG_NAME").is_ok_and(|name| name == RUNTIME) {
        return None;
    }
    let mut cache = CACHE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, name)) = cache.iter().find(|(d, _)| *d == dir) {
        return name.clone();
    }
    let name = lookup(Path::new(&dir));
    cache.push((dir, name.clone()));
    name
}

fn lookup(dir: &Path) -> Option<String> {
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
    let deps = scan(&manifest);
    if deps.plain {
        return None;
    }
    if let Some(name) = deps.renamed.into_iter().next() {
        return Some(name.replace('-', "_"));
    }
    if deps.inherited.is_empty() {
        return None;
    }
    // `sw = { workspace = true }`: the rename is in `[workspace.dependencies]`.
    let root = dir.ancestors().find_map(|dir| {
        let text = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
        text.lines()
            .any(|line| line.trim() == "[workspace]")
            .then_some(text)
    })?;
    let renamed = scan(&root).renamed;
    deps.inherited
        .into_iter()
        .find(|name| renamed.contains(name))
        .map(|name| name.replace('-', "_"))
}

/// How a manifest's dependency tables name the runtime.
#[derive(Debug, Default, PartialEq)]
struct Deps {
    /// Depended on as `skywalking-runtime`.
    plain: bool,
    /// Keys of dependencies with `package = "skywalking-runtime"`.
    renamed: Vec<String>,
    /// Keys of dependencies inherited from the workspace (`workspace = true`).
    inherited: Vec<String>,
}

/// A line-based reading of the dependency tables of a `Cargo.toml`: enough for the forms
/// cargo documents (`key = "1"`, `key = { package = .. }`, `key.package = ..`,
/// `[dependencies.key]`, `[target.'cfg(..)'.dependencies]`, `workspace = true`).
fn scan(manifest: &str) -> Deps {
    let mut deps = Deps::default();
    let mut table = String::new();
    for line in manifest.lines() {
        let line = line.trim();
        if let Some(header) = line.strip_prefix('[') {
            table = header
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .trim()
                .to_owned();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = unquote(key.trim());
        let value: String = value.chars().filter(|c| !c.is_whitespace()).collect();
        let value = value.split('#').next().unwrap_or("").to_owned();
        let (dep, field) = if is_dep_table(&table) {
            match key.split_once('.') {
                Some((dep, field)) => (unquote(dep), Some(unquote(field))),
                None => (key, None),
            }
        } else if let Some((prefix, dep)) = table.rsplit_once('.')
            && is_dep_table(prefix)
        {
            (unquote(dep), Some(key))
        } else {
            continue;
        };
        let is_runtime = |v: &str| unquote(v) == RUNTIME;
        match field.as_deref() {
            Some("package") if is_runtime(&value) => deps.renamed.push(dep),
            Some("workspace") if value == "true" => deps.inherited.push(dep),
            Some(_) => {}
            None if value.contains("package=\"skywalking-runtime\"")
                || value.contains("package='skywalking-runtime'") =>
            {
                deps.renamed.push(dep);
            }
            None if value.contains("workspace=true") => deps.inherited.push(dep),
            None if dep == RUNTIME => deps.plain = true,
            None => {}
        }
    }
    if deps.inherited.iter().any(|dep| dep == RUNTIME) {
        deps.plain = true;
    }
    deps
}

fn is_dep_table(table: &str) -> bool {
    table.ends_with("dependencies")
}

fn unquote(text: &str) -> String {
    text.trim()
        .trim_matches(|c| c == '"' || c == '\'')
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_renames_in_every_form() {
        let deps = scan(
            r#"
[package]
name = "app"

[dependencies]
tokio = { version = "1", features = ["rt"] }
sw = { package = "skywalking-runtime", version = "0.1" } # the agent

[target.'cfg(unix)'.dev-dependencies.agent]
package = "skywalking-runtime"
path = "../skywalking-runtime"
"#,
        );
        assert_eq!(deps.renamed, ["sw", "agent"]);
        assert!(!deps.plain);
        let dotted =
            scan("[dependencies]\nsw.package = \"skywalking-runtime\"\nsw.version = \"0.1\"\n");
        assert_eq!(dotted.renamed, ["sw"]);
    }

    #[test]
    fn plain_and_inherited_dependencies() {
        let plain = scan("[dependencies]\nskywalking-runtime = \"0.1\"\n");
        assert!(plain.plain);
        let inherited = scan("[dependencies]\nsw = { workspace = true }\nother.workspace = true\n");
        assert_eq!(inherited.inherited, ["sw", "other"]);
        let none = scan(
            "[package]\nname = \"skywalking-runtime-extras\"\n[dependencies]\nserde = \"1\"\n",
        );
        assert_eq!(none, Deps::default());
    }

    #[test]
    fn sees_the_disable_cfg() {
        assert!(has_disable_cfg(
            "-C opt-level=3 --cfg sw_disable".split_whitespace()
        ));
        assert!(has_disable_cfg(["--cfg=sw_disable"].into_iter()));
        assert!(!has_disable_cfg(
            "--cfg sw_disabled --cfg other".split_whitespace()
        ));
        assert!(!has_disable_cfg(["sw_disable"].into_iter()));
    }
}
