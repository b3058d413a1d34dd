//! The crate's modules form layers (see "Architecture" in the crate docs): every
//! `crate::` path in a file names a module of its own layer or of a lower one, never a
//! higher one. This test reads the sources, so a new import that runs back up fails here
//! before it becomes an import cycle.

use std::path::{Path, PathBuf};

/// The layer of each top-level module, bottom (0) to top.
fn layer(module: &str) -> Option<u8> {
    Some(match module {
        "clock" | "diag" | "error" | "id" | "meter" | "propagation" | "record" | "settings"
        | "signal" | "stats" => 0,
        "queue" => 1,
        "trace" => 2,
        "logs" => 3,
        "config" | "integrations" | "__private" | "private" => 4,
        "reporter" => 5,
        "agent" => 6,
        "lib" => 7,
        // Binaries use the crate's public API only.
        "bin" => 8,
        _ => return None,
    })
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to: `trace/context.rs` is in `trace`.
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).expect("under src");
    let first = relative
        .components()
        .next()
        .expect("a path")
        .as_os_str()
        .to_string_lossy()
        .into_owned();
    first.trim_end_matches(".rs").to_owned()
}

/// The modules named by `crate::<module>` in the code of `text` (comments and doc
/// comments left out: a doc link is not an import).
fn crate_paths(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            // `$crate::` inside a macro_rules! body names this crate too.
            if !name.is_empty() && name.chars().next().is_some_and(char::is_lowercase) {
                found.push((number + 1, name));
            }
            rest = after;
        }
    }
    found
}

#[test]
fn no_module_imports_from_a_higher_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    assert!(files.len() > 40, "the sources were found");
    let mut violations = Vec::new();
    for file in &files {
        let module = module_of(&src, file);
        let Some(own) = layer(&module) else {
            violations.push(format!(
                "{}: module `{module}` has no layer in this test",
                file.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).expect("readable");
        for (line, target) in crate_paths(&text) {
            match layer(&target) {
                // Items re-exported at the crate root (`crate::Span`) are not modules.
                None => {}
                Some(theirs) if theirs > own => violations.push(format!(
                    "{}:{line}: `{module}` (layer {own}) uses `crate::{target}` (layer {theirs})",
                    file.display()
                )),
                Some(_) => {}
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}
