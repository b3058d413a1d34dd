//! Rewrites `src/generated/skywalking.v3.rs` from `protocol/*.proto`:
//!
//! ```text
//! cargo run -p skywalking-proto --example regenerate
//! ```
//!
//! Run it after changing a `.proto` file (or the generator in `tests/codegen`), and
//! commit the result; `tests/generated.rs` fails while the committed file is stale.

#[path = "../tests/codegen/mod.rs"]
mod codegen;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = codegen::regenerate()?;
    println!("wrote {}", path.display());
    Ok(())
}
