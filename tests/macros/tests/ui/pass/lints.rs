//! Expansions are clean under rustc's strict lints (clippy's are checked by the crate's
//! `src/lib.rs`).
#![deny(
    warnings,
    unused,
    unused_qualifications,
    unused_results,
    unreachable_pub,
    rust_2018_idioms,
    single_use_lifetimes,
    trivial_casts,
    trivial_numeric_casts,
    unused_lifetimes,
    let_underscore_drop,
    unsafe_op_in_unsafe_fn,
    missing_debug_implementations,
    non_ascii_idents,
    redundant_lifetimes,
    unit_bindings
)]

use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(Debug)]
struct E;

impl std::fmt::Display for E {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("e")
    }
}

#[sw::trace]
fn unit() {}

#[sw::trace(err, tags(a = a))]
fn sync_all(a: u8, headers: &mut HashMap<String, String>) -> Result<u8, E> {
    headers.clear();
    if a == 0 { Err(E) } else { Ok(a) }
}

#[sw::trace(exit, peer = "p:1", err, headers = headers, skip_if = a == 1, tags(a = a))]
fn sync_exit(a: u8, headers: &mut HashMap<String, String>) -> Result<u8, E> {
    Ok(a)
}

#[sw::trace(entry, headers = &headers, skip_if = headers.is_empty())]
fn sync_entry(headers: HashMap<String, String>) -> usize {
    headers.len()
}

#[sw::trace]
async fn async_unit() {}

#[sw::trace(exit, peer = "p:1", err, headers = &mut headers, skip_if = a == 1, tags(a = a))]
async fn async_all(a: u8, mut headers: HashMap<String, String>) -> Result<u8, E> {
    headers.clear();
    Ok(a)
}

#[sw::trace(entry, headers = &headers, skip_if = headers.is_empty(), err)]
async fn async_entry(headers: HashMap<String, String>) -> Result<usize, E> {
    Ok(headers.len())
}

#[sw::trace(err, tags(n = n))]
fn boxed(n: u8) -> std::pin::Pin<Box<dyn Future<Output = Result<u8, E>> + Send>> {
    Box::pin(async move { Ok(n) })
}

// What the expansion names with a path is also imported here.
static CELL: OnceLock<u8> = OnceLock::new();

#[sw::trace]
fn imported() -> u8 {
    *CELL.get_or_init(|| 1)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    unit();
    let _ = imported();
    let _ = sync_all(1, &mut HashMap::new());
    let _ = sync_exit(1, &mut HashMap::new());
    let _ = sync_entry(HashMap::new());
    async_unit().await;
    let _ = async_all(2, HashMap::new()).await;
    let _ = async_entry(HashMap::new()).await;
    let _ = boxed(1).await;
}
