//! The `#[trace]` attribute of the SkyWalking Rust agent. Use it through the runtime
//! crate, which re-exports it: `#[sw::trace]` with
//! `sw = { package = "skywalking-runtime", .. }` in `Cargo.toml`, or
//! `#[skywalking_runtime::trace]`.
//!
//! # `#[trace]`
//!
//! Opens a span for each call of the function it is put on and closes it when the call
//! returns, however it returns: normally, early, through `?`, by panicking (the span is
//! marked as an error and the panic message logged) or, for an `async fn`, when the future
//! is dropped before it completes (logged as `event=cancelled`). It works on free
//! functions, methods, trait implementations, `async fn` in traits (with a default body),
//! generic functions and functions taking `impl Trait`.
//!
//! By default the span is a local span named after the function's module path and name,
//! `my_crate::billing::price`. No argument is recorded unless named in `tags(..)`.
//!
//! | option | meaning |
//! |---|---|
//! | `name = "..."` | the operation name |
//! | `entry`, `exit`, `local` | the span kind (default `local`) |
//! | `peer = expr` | the address an `exit` span calls (required for `exit`): `&'static str` or `String` |
//! | `layer = "..."` | `"http"`, `"rpc"`, `"database"`, `"cache"`, `"mq"` or `"faas"` |
//! | `component = expr` | a component id, a constant expression (default `component::RUST`) |
//! | `tags(key = expr, db.statement = expr, "k" = expr)` | tags, whose values (`Display`) are computed only when the span records |
//! | `err` | an `Err` return marks the span as an error and logs the error's `Display` |
//! | `headers = expr` | `entry`: continue the trace of these incoming headers; `exit`: write `sw8` into this `&mut` carrier |
//! | `skip_if = expr` | a `bool` evaluated on each call: when true, the body runs with no span of its own |
//! | `crate = path` | the path of the runtime crate (see below) |
//!
//! `err` accepts a function returning a type whose last path segment is `Result` or ends
//! in `Result` (`Result<T, E>`, `io::Result<T>`, `anyhow::Result<T>`, `DbResult<T>`); its
//! error type must implement `Display`. The check is syntactic, as a macro only sees
//! tokens. Misuse (an unknown or repeated option, `exit` without `peer`, `err` on a
//! function that does not return a `Result`, a bad layer, the attribute on something
//! other than a function) is a compile error pointing at the offending token; the item is
//! still emitted as written, so the rest of the crate keeps compiling.
//!
//! ## The runtime's path
//!
//! The expansion calls `::skywalking_runtime::__private`. When the annotated crate's
//! `Cargo.toml` renames the dependency (`sw = { package = "skywalking-runtime" }`, in any
//! dependency table, also through `workspace = true`), the macro reads that manifest
//! (`CARGO_MANIFEST_DIR`) and uses `::sw` instead. A proc macro cannot see the path it
//! was invoked with, and this keeps the documented `#[sw::trace]` working with no option.
//! Where that reading fails (a build without cargo, a re-export through another crate),
//! say where the runtime is: `#[trace(crate = my_dep::sw)]`.
//!
//! ## Expansion
//!
//! A sync function keeps its body and holds a guard (`__sw` is the runtime's hidden
//! `__private` module, where all the logic lives):
//!
//! ```text
//! #[trace(tags(qty = qty))]            fn price(qty: u32) -> u32 {
//! fn price(qty: u32) -> u32 {   ==>        use ::skywalking_runtime::__private as __sw;
//!     qty * 3                              static __SW_META: __sw::Meta = __sw::Meta::local(
//! }                                            concat!(module_path!(), "::", "price"));
//!                                          let __sw_span = __sw::enter(&__SW_META);
//!                                          if __sw_span.is_recording() {
//!                                              __sw_span.add_tag("qty", __sw::tag_value(&(qty)));
//!                                          }
//!                                          { qty * 3 }
//!                                      }
//! ```
//!
//! With `err`, the body runs in a closure so that `?` and `return` come back to the span:
//! `let __sw_ret: T = __sw::call_once(move || -> T { .. }); __sw::record_result(..)`.
//!
//! An `async fn` stays an `async fn` whose body is an instrumented future; the span opens
//! on its first poll, in the context of whoever awaits it, and closes when it completes.
//! The return type (with `impl Trait` erased) pins inference for `?` and `.into()`:
//!
//! ```text
//! async fn load(id: u64) -> Result<User, E> {
//!     use ::skywalking_runtime::__private as __sw;
//!     static __SW_META: __sw::Meta = __sw::Meta::local(concat!(module_path!(), "::", "load"));
//!     __sw::instrument(&__SW_META, async move {
//!         let __sw_ret: Result<User, E> = { /* body */ };
//!         __sw_ret
//!     }).await
//! }
//! ```
//!
//! The expansion carries no lint attributes: rustc and clippy do not lint the tokens an
//! attribute macro makes (a test crate proves it under `clippy::pedantic` and
//! `clippy::nursery`); the few calls spanned at the user's tokens, so that a type error
//! in an option is reported at the option, allow the one lint their wrapping may trip.
//! Over 1,000 functions (500 async), a release build spends 0.65-0.75x the time
//! `#[fastrace::trace]` adds, and the expanded source is 0.63x its size
//! (`scripts/macro-compile-bench.sh`).
//!
//! Tags of an `async fn` are computed at the start of the instrumented future, on
//! `__private::current()` (the function's own span while it is polled). `peer`, entry
//! `headers` and `skip_if` are evaluated before that future is made, so they may borrow
//! arguments the body then moves (`headers = req.headers()` with `req` moved into the
//! body); an exit's `headers = &mut carrier` is written at the start of the body, once
//! the span is open.
//!
//! A sync function whose return type names `Future` and whose body ends with an `async`
//! block (`-> impl Future<Output = T> { .. async move { .. } }`), or with
//! `Box::pin(async move { .. })` as `#[async_trait]` writes it, has that block
//! instrumented in place: the span times the future, not the call that builds it. Any
//! other function returning a future gets a span around building it: end its body with
//! an `async move` block to time the work.
//!
//! # Compile-time opt-out
//!
//! With `RUSTFLAGS="--cfg sw_disable"` the attribute expands to the item exactly as
//! written (its options are still checked). The macro sees the cfg either because cargo
//! compiled this crate with it (builds without `--target`) or through `RUSTFLAGS` /
//! `CARGO_ENCODED_RUSTFLAGS` in the compiler's environment (builds with `--target`). No
//! `cfg` token is emitted, so the user's crate needs no `check-cfg` for it. Only a
//! `build.rustflags` in `.cargo/config.toml` combined with `--target` escapes both: set
//! `RUSTFLAGS` there instead.

mod args;
mod async_like;
mod env;
mod expand;

/// Instruments a function with a span. See the [crate docs](crate) for the options.
#[proc_macro_attribute]
pub fn trace(
    args: proc_macro::TokenStream,
    item: proc_macro::TokenStream,
) -> proc_macro::TokenStream {
    expand::trace(args.into(), item.into()).into()
}
