//! What the macro reads from the build environment: whether `--cfg sw_disable` is on,
//! and the name the annotated crate gives the runtime in its `Cargo.toml`.

use proc_macro_crate::FoundCrate;
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

/// The path of the runtime crate in expansions, from the annotated crate's `Cargo.toml`
/// (`CARGO_MANIFEST_DIR`, read by `proc-macro-crate`, which also looks in
/// `[dev-dependencies]`, `[target.'cfg(..)'.dependencies]` and `[workspace.dependencies]`,
/// and reads a manifest again once it changes): `::skywalking_runtime`, or `::sw` for
/// `sw = { package = "skywalking-runtime" }`. An error, at the attribute, when the manifest
/// does not depend on the runtime: the macro is then reached through another crate, and
/// only `crate = path` can say where the runtime is.
pub(crate) fn runtime_path() -> syn::Result<TokenStream> {
    path_for(proc_macro_crate::crate_name(RUNTIME))
}

fn path_for(found: Result<FoundCrate, proc_macro_crate::Error>) -> syn::Result<TokenStream> {
    let name = match found {
        Ok(FoundCrate::Name(name)) => name,
        // The runtime's own tests, examples and doctests (the library does not use it).
        Ok(FoundCrate::Itself) => "skywalking_runtime".to_owned(),
        Err(proc_macro_crate::Error::CrateNotFound { path, .. }) => {
            return Err(syn::Error::new(
                Span::call_site(),
                format!(
                    "`#[trace]` cannot find `{RUNTIME}` among the dependencies of `{}`: \
                     depend on it, or, if it is reached through another crate, say where: \
                     `#[sw::trace(crate = path::to::skywalking_runtime)]`",
                    path.display()
                ),
            ));
        }
        // No manifest to read (a build without cargo): the crate's own name.
        Err(_) => "skywalking_runtime".to_owned(),
    };
    let ident = syn::parse_str::<Ident>(&name).map_err(|_| {
        syn::Error::new(
            Span::call_site(),
            format!(
                "`#[trace]` cannot name the runtime `{name}` in paths: say where it is with \
                 `#[sw::trace(crate = path::to::skywalking_runtime)]`"
            ),
        )
    })?;
    Ok(quote!(::#ident))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_runtime_as_the_manifest_does() {
        let path = |found| path_for(found).map(|path| path.to_string());
        assert_eq!(
            path(Ok(FoundCrate::Name("sw".to_owned()))).unwrap(),
            ":: sw"
        );
        assert_eq!(
            path(Ok(FoundCrate::Itself)).unwrap(),
            ":: skywalking_runtime"
        );
        assert_eq!(
            path(Err(proc_macro_crate::Error::CargoManifestDirNotSet)).unwrap(),
            ":: skywalking_runtime"
        );
        assert!(path(Ok(FoundCrate::Name("type".to_owned()))).is_err());
    }

    #[test]
    fn a_missing_runtime_is_an_error_with_the_way_out() {
        let error = path_for(Err(proc_macro_crate::Error::CrateNotFound {
            crate_name: RUNTIME.to_owned(),
            path: "/app/Cargo.toml".into(),
        }))
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("among the dependencies of `/app/Cargo.toml`"),
            "{error}"
        );
        assert!(
            error.contains("`#[sw::trace(crate = path::to::skywalking_runtime)]`"),
            "{error}"
        );
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
