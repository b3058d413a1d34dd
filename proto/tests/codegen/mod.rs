//! The code generator behind `src/generated/skywalking.v3.rs`, shared by
//! `examples/regenerate.rs` (which rewrites the file) and `tests/generated.rs` (which
//! checks that the committed file is what the generator makes of `protocol/`).
//!
//! The `.proto` files are compiled by `protox` (pure Rust, no system `protoc`) and the
//! Rust code is written by `tonic-prost-build`. Both are dev-dependencies: users of the
//! crate compile neither.

use std::error::Error;
use std::fs;
use std::path::PathBuf;

/// The protocol files, relative to `protocol/`.
const PROTOS: &[&str] = &[
    "common/Common.proto",
    "common/Command.proto",
    "language-agent/Tracing.proto",
    "language-agent/Meter.proto",
    "language-agent/ConfigurationDiscoveryService.proto",
    "management/Management.proto",
    "logging/Logging.proto",
    "event/Event.proto",
];

/// The command that rewrites the committed file, for messages.
pub(crate) const REGENERATE: &str = "cargo run -p skywalking-proto --example regenerate";

/// The crate's root directory.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The committed file.
pub(crate) fn committed_path() -> PathBuf {
    root().join("src/generated/skywalking.v3.rs")
}

/// Generates the code of the `skywalking.v3` package, as it belongs in
/// [`committed_path`].
pub(crate) fn generate() -> Result<String, Box<dyn Error>> {
    let fds = protox::compile(PROTOS, [root().join("protocol")])?;
    let out_dir = TempDir::new()?;
    tonic_prost_build::configure()
        .out_dir(&out_dir.0)
        .build_client(true)
        .build_server(true)
        .client_mod_attribute(".", r#"#[cfg(feature = "client")]"#)
        .server_mod_attribute(".", r#"#[cfg(feature = "server")]"#)
        .compile_fds(fds)?;
    let code = fs::read_to_string(out_dir.0.join("skywalking.v3.rs"))?;
    Ok(format!(
        "// Generated from protocol/*.proto by tests/codegen (protox + tonic-prost-build).\n\
         // Do not edit: after changing a .proto, run `{REGENERATE}`.\n\
         {code}"
    ))
}

/// Writes [`generate`]'s output to [`committed_path`].
pub(crate) fn regenerate() -> Result<PathBuf, Box<dyn Error>> {
    let path = committed_path();
    fs::write(&path, generate()?)?;
    Ok(path)
}

/// A fresh directory under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> std::io::Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "skywalking-proto-codegen-{}-{nanos}",
            std::process::id()
        ));
        fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
