//! Compiles the SkyWalking v3 protocol with `protox` (pure Rust), so building this crate
//! needs no system `protoc`. Client and server stubs are both generated; each is gated
//! behind the crate feature of the same name.

const PROTOS: &[&str] = &[
    "protocol/common/Common.proto",
    "protocol/common/Command.proto",
    "protocol/language-agent/Tracing.proto",
    "protocol/language-agent/Meter.proto",
    "protocol/language-agent/ConfigurationDiscoveryService.proto",
    "protocol/management/Management.proto",
    "protocol/logging/Logging.proto",
    "protocol/event/Event.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    let relative: Vec<&str> = PROTOS
        .iter()
        .map(|p| p.trim_start_matches("protocol/"))
        .collect();
    let fds = protox::compile(&relative, ["protocol"])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .client_mod_attribute(".", r#"#[cfg(feature = "client")]"#)
        .server_mod_attribute(".", r#"#[cfg(feature = "server")]"#)
        .compile_fds(fds)?;
    Ok(())
}
