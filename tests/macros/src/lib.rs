//! Lint hygiene of `#[sw::trace]` expansions: every form of the attribute, compiled under
//! the strictest lints a user crate may set. `cargo clippy --workspace --all-targets`
//! (CI) lints this crate, so an expansion that trips a clippy lint fails the build. The
//! trybuild cases of `tests/ui` cover rustc's lints and the error messages.

#![deny(
    warnings,
    unused_qualifications,
    unused_results,
    unreachable_pub,
    rust_2018_idioms,
    single_use_lifetimes,
    trivial_casts,
    trivial_numeric_casts,
    clippy::all,
    clippy::pedantic,
    clippy::nursery,
    clippy::cargo
)]
#![allow(clippy::cargo_common_metadata, clippy::multiple_crate_versions)]

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

/// An error with a message.
#[derive(Debug)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<std::num::ParseIntError> for Error {
    fn from(error: std::num::ParseIntError) -> Self {
        Self(error.to_string())
    }
}

/// Unit return, no options.
#[sw::trace]
pub fn unit() {}

/// Unit async.
#[sw::trace]
pub async fn unit_async() {}

/// Every option on a sync fn.
///
/// # Errors
/// When `text` is not a number.
#[sw::trace(
    exit,
    name = "parse",
    peer = "db:5432",
    layer = "database",
    component = 22,
    tags(db.statement = text, "len" = text.len()),
    err,
    headers = headers,
    skip_if = text.is_empty()
)]
pub fn parse(text: &str, headers: &mut BTreeMap<String, String>) -> Result<u32, Error> {
    Ok(text.parse()?)
}

/// Every option on an async fn.
///
/// # Errors
/// When `text` is not a number.
#[sw::trace(
    exit,
    peer = format!("{host}:80"),
    layer = "http",
    tags(host = host),
    err,
    headers = &mut headers,
    skip_if = host.is_empty()
)]
pub async fn fetch(
    host: &str,
    mut headers: BTreeMap<String, String>,
    text: String,
) -> Result<u32, Error> {
    let _ = headers.len();
    Ok(text.parse()?)
}

/// An entry fn.
#[sw::trace(entry, name = "GET /", headers = req.headers(), layer = "http")]
#[must_use]
pub fn handle(req: &http::Request<()>) -> usize {
    req.headers().len()
}

/// An async entry fn owning its request.
#[sw::trace(entry, headers = req.headers(), tags(path = req.uri().path()))]
pub async fn handle_async(req: http::Request<String>) -> String {
    req.into_body()
}

/// A type with methods.
#[derive(Debug, Default)]
pub struct Cart {
    items: Vec<u32>,
}

impl Cart {
    /// `&self`.
    #[sw::trace]
    #[must_use]
    pub fn total(&self) -> u32 {
        self.items.iter().sum()
    }

    /// `&mut self` and a borrow returned through `err`.
    ///
    /// # Errors
    /// When the cart is empty.
    #[sw::trace(err)]
    pub fn first(&mut self) -> Result<&mut u32, Error> {
        self.items
            .first_mut()
            .ok_or_else(|| Error("empty".to_owned()))
    }

    /// `self` in an async fn, `impl Trait` in and out.
    #[sw::trace(tags(n = self.items.len()))]
    pub async fn describe(self, prefix: impl fmt::Display + Send) -> impl fmt::Display {
        format!("{prefix}{}", self.items.len())
    }
}

/// A trait with an async default method.
pub trait Store {
    /// A lookup.
    fn get(&self, key: u32) -> Option<u32>;

    /// An async lookup.
    #[sw::trace]
    fn load(&self, key: u32) -> impl Future<Output = Option<u32>> + Send
    where
        Self: Sync,
    {
        async move { self.get(key) }
    }
}

impl Store for Cart {
    #[sw::trace(name = "Cart::get")]
    fn get(&self, key: u32) -> Option<u32> {
        self.items.get(key as usize).copied()
    }
}

/// The shape `#[async_trait]` expands to.
#[sw::trace(err)]
#[must_use]
pub fn boxed(n: u32) -> Pin<Box<dyn Future<Output = Result<u32, Error>> + Send>> {
    Box::pin(async move { Ok(n) })
}

/// Generic, with a where clause.
#[sw::trace]
pub fn largest<T>(values: &[T]) -> Option<&T>
where
    T: PartialOrd,
{
    values.iter().fold(None, |max, v| match max {
        Some(m) if m >= v => Some(m),
        _ => Some(v),
    })
}
