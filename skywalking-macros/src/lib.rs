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
//! By default the span is a local span named after the function's path: the module path
//! and the name for a free function (`my_crate::billing::price`), with the type for a
//! method, of an inherent or a trait `impl` (`my_crate::billing::Cart::total`, generic
//! arguments left out), with the trait for a default method body
//! (`my_crate::billing::Store::load`), and with the enclosing function for one declared
//! inside another (`my_crate::handler::helper`). No argument is recorded unless named in
//! `tags(..)`.
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
//! The expansion calls `::skywalking_runtime::__private`. A proc macro cannot see the
//! path it was invoked with, so the macro reads the annotated crate's `Cargo.toml`
//! (`CARGO_MANIFEST_DIR`, through `proc-macro-crate`): when it renames the dependency
//! (`sw = { package = "skywalking-runtime" }`, in any dependency table, a
//! `[target.'cfg(..)'.dependencies]` one too, also through `workspace = true`), the
//! expansion uses `::sw`. This keeps the documented `#[sw::trace]` working with no
//! option. When the manifest does not depend on the runtime (the macro is reached through
//! a crate that re-exports it), the attribute is an error that says to name it:
//! `#[sw::trace(crate = my_dep::sw)]`. Without a manifest to read (a build without
//! cargo), the path is `::skywalking_runtime`.
//!
//! ## Expansion
//!
//! A sync function keeps its body and holds a guard (`__sw` is the runtime's hidden
//! `__private` module, where all the logic lives):
//!
//! ```text
//! #[trace(tags(qty = qty))]       fn price(qty: u32) -> u32 {
//! fn price(qty: u32) -> u32 { ==>     use ::skywalking_runtime::__private as __sw;
//!     qty * 3                         let __sw_span = __sw::enter({
//! }                                       fn __sw_here() {}
//!                                         static __SW_META: OnceLock<__sw::Meta> = ..;
//!                                         __sw::lazy_meta(
//!                                             &__SW_META,
//!                                             type_name_of_val(&__sw_here),
//!                                             __sw::Meta::local(""),
//!                                         )
//!                                     });
//!                                     if __sw_span.is_recording() {
//!                                         __sw_span.add_tag("qty", __sw::tag_value(&(qty)));
//!                                     }
//!                                     { qty * 3 }
//!                                 }
//! ```
//!
//! The default name is the path in `core::any::type_name` of `__sw_here`, with the type of
//! the `impl` the function is in, which a macro put on the function cannot see. It is not
//! a constant on stable Rust, so `lazy_meta` names the `Meta` on the first call and keeps
//! it in the `OnceLock`: later calls cost one atomic load, and no call formats a string
//! (the name is a slice of the `type_name`, or, in a trait or generic `impl`, a string
//! rewritten once per function). With `name = ".."`, `__SW_META` is a plain `static Meta`.
//! Either way the items are in a block of their own, out of the body's scope.
//!
//! With `err`, the body runs in a closure so that `?` and `return` come back to the span:
//! `let __sw_ret: T = __sw::call_once(move || -> T { .. }); __sw::record_result(..)`.
//!
//! An `async fn` stays an `async fn` whose body is an instrumented future; the span opens
//! on its first poll, in the context of whoever awaits it, and closes when it completes.
//! The return type (with `impl Trait` erased) pins inference for `?` and `.into()`, by a
//! `return` that never runs placed before the body, so that nothing follows a body that
//! never ends (a `loop` left only by `return`, a `panic!`) to be reported unreachable:
//!
//! ```text
//! async fn load(id: u64) -> Result<User, E> {
//!     use ::skywalking_runtime::__private as __sw;
//!     __sw::instrument({ /* the `&'static Meta`, as above */ }, async move {
//!         if let Some(__sw_ret) = None::<Result<User, E>> {
//!             return __sw_ret;
//!         }
//!         { /* body */ }
//!     }).await
//! }
//! ```
//!
//! The expansion carries no lint attributes: rustc and clippy do not lint the tokens an
//! attribute macro makes (a test crate proves it under `clippy::pedantic` and
//! `clippy::nursery`); the few calls spanned at the user's tokens, so that a type error
//! in an option is reported at the option, allow the one lint their wrapping may trip.
//! Code that compiles without a warning still does once annotated (`unreachable_code`
//! included), in editions 2018 to 2024 (`tests/macros/fixtures/no_new_warnings.rs`).
//! Over 1,000 functions (500 async), a release build spends about the time
//! `#[fastrace::trace]` adds (1.07x in CPU time; 0.7x before default names carried the
//! `impl`'s type, which costs each function a `OnceLock` and a `type_name`), and the
//! expanded source is about its size (1.02x) (`scripts/macro-compile-bench.sh`).
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
//! With `RUSTFLAGS="--cfg sw_disable"` the attribute expands to the item as written (its
//! options are still checked), calling nothing of the runtime. Where options hold
//! expressions, the body starts with a block that never runs and mentions them,
//! `if false { let _ = &(qty); loop {} }`, so that what only they use (an argument, a
//! field, a constant, the `mut` of `headers = &mut carrier`) is not reported unused: a
//! crate building with `-D warnings` may opt out.
//!
//! The macro sees the cfg either because cargo compiled this crate with it (builds
//! without `--target`) or through `RUSTFLAGS` / `CARGO_ENCODED_RUSTFLAGS` in the
//! compiler's environment (builds with `--target`). No `cfg` token is emitted, so the
//! user's crate needs no `check-cfg` for it. Only a `build.rustflags` in
//! `.cargo/config.toml` combined with `--target` escapes both: set `RUSTFLAGS` there
//! instead.

mod args;
mod async_like;
mod disabled;
mod env;
mod expand;
mod item;

/// Instruments a function with a span. See the [crate docs](crate) for the options.
#[proc_macro_attribute]
pub fn trace(
    args: proc_macro::TokenStream,
    item: proc_macro::TokenStream,
) -> proc_macro::TokenStream {
    expand::trace(args.into(), item.into()).into()
}
