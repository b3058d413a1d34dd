//! Turning the checked options and the function into the instrumented function.
//!
//! The signature is passed through untouched and the body is kept as token trees (never
//! parsed statement by statement), so rustc reports the user's own errors in the body.
//! Everything the expansion calls is in `#crate::__private`; the expansion only opens a
//! span, adds tags and wraps the body.

use proc_macro2::{Delimiter, Group, Ident, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{ReturnType, Signature, Token, Type};

use crate::args::{Kind, RawArgs, TraceArgs};
use crate::async_like::AsyncTail;
use crate::item::{FnShape, ItemFn};

/// `#[trace]`: parse, check, expand; on any error, the item as written plus the errors.
pub(crate) fn trace(args: TokenStream, item: TokenStream) -> TokenStream {
    let raw = syn::parse2::<RawArgs>(args);
    let func = match syn::parse2::<ItemFn>(item.clone()) {
        Ok(func) => func,
        Err(mut error) => {
            if let Err(args_error) = raw {
                error.combine(args_error);
            }
            return with_error(item, &error);
        }
    };
    let shape = FnShape::of(&func);
    let args = match raw.and_then(|raw| raw.build(&shape)) {
        Ok(args) => args,
        Err(error) => return with_error(item, &error),
    };
    if crate::env::disabled() {
        return crate::disabled::item(&func, shape.tail, &args).unwrap_or(item);
    }
    let krate = match &args.krate {
        Some(path) => path.to_token_stream(),
        None => match crate::env::runtime_path() {
            Ok(path) => path,
            Err(error) => return with_error(item, &error),
        },
    };
    gen_function(&func, shape.tail, &args, &krate)
}

fn with_error(mut item: TokenStream, error: &syn::Error) -> TokenStream {
    item.extend(error.to_compile_error());
    item
}

/// Generated code carries no lint attributes: clippy and rustc do not lint tokens an
/// attribute macro makes (`tests/macros/src/lib.rs` proves it under `clippy::pedantic`
/// and `clippy::nursery`). Only where a call is spanned at the user's tokens, for
/// precise type errors, does the user's lint level apply, and these allow what that
/// wrapping adds.
fn allow(lint: &str) -> TokenStream {
    let lint: TokenStream = lint.parse().unwrap_or_default();
    quote!(#[allow(#lint)])
}

/// Names and paths shared by the generators.
struct Gen<'a> {
    args: &'a TraceArgs,
    /// `__sw`: the runtime's `__private`, imported at the top of the body.
    private: TokenStream,
    span: Ident,
    skip: Ident,
    peer: Ident,
    incoming: Ident,
    ret: Ident,
    fut: Ident,
    /// The expression of the span's `&'static Meta` (see [`meta`]).
    meta: TokenStream,
}

fn local(name: &str) -> Ident {
    Ident::new(name, Span::mixed_site())
}

fn gen_function(
    func: &ItemFn,
    tail: Option<AsyncTail>,
    args: &TraceArgs,
    krate: &TokenStream,
) -> TokenStream {
    let g = Gen {
        args,
        private: quote!(__sw),
        span: local("__sw_span"),
        skip: local("__sw_skip"),
        peer: local("__sw_peer"),
        incoming: local("__sw_incoming"),
        ret: local("__sw_ret"),
        fut: local("__sw_fut"),
        meta: meta(args),
    };
    let body = if func.sig.asyncness.is_some() {
        g.async_fn_body(func)
    } else if let Some(tail) = tail {
        g.async_tail_body(tail)
    } else {
        g.sync_body(func)
    };
    let ItemFn {
        attrs,
        vis,
        sig,
        inner_attrs,
        body_span,
        ..
    } = func;
    let body = quote_spanned! {*body_span=> {
        #inner_attrs
        use #krate::__private as __sw;
        #body
    }};
    quote! {
        #(#attrs)*
        #vis #sig #body
    }
}

/// The `&'static Meta` of the span: a block whose items are out of the body's scope.
///
/// A `name = ".."` makes a `static __SW_META: Meta`. The default name needs the type of
/// the `impl` the function is in, which a macro put on the function cannot see: the block
/// declares `fn __sw_here() {}`, whose `type_name` is the function's path
/// (`app::billing::Cart::total::__sw_here`), and the runtime makes the `Meta` from it on
/// the first call, in a `OnceLock` (`__private::lazy_meta`); later calls cost an atomic
/// load. It takes the `Meta` unnamed, as a value: no closure and no generic, so that
/// annotated functions compile no code of their own for it (a closure each made the
/// release build of 1,000 annotated functions 40% slower).
fn meta(args: &TraceArgs) -> TokenStream {
    let p = quote!(__sw);
    let build = |name: TokenStream| {
        if (args.kind, &args.layer, &args.component) == (Kind::Local, &None, &None) {
            return quote!(#p::Meta::local(#name));
        }
        let kind = Ident::new(
            match args.kind {
                Kind::Entry => "Entry",
                Kind::Exit => "Exit",
                Kind::Local => "Local",
            },
            Span::call_site(),
        );
        let layer = Ident::new(
            args.layer.map_or("Unknown", |layer| layer.variant()),
            Span::call_site(),
        );
        let component = match &args.component {
            Some(component) => component.to_token_stream(),
            None => quote!(#p::component::RUST),
        };
        quote! {
            #p::Meta {
                name: #name,
                kind: #p::SpanKind::#kind,
                layer: #p::SpanLayer::#layer,
                component: #component,
            }
        }
    };
    if let Some(name) = &args.name {
        let meta = build(name.to_token_stream());
        return quote!({
            static __SW_META: #p::Meta = #meta;
            &__SW_META
        });
    }
    // `lazy_meta` names this `Meta` on the first call.
    let (here, meta) = (local("__sw_here"), build(quote!("")));
    quote!({
        fn #here() {}
        static __SW_META: ::std::sync::OnceLock<#p::Meta> = ::std::sync::OnceLock::new();
        #p::lazy_meta(&__SW_META, ::core::any::type_name_of_val(&#here), #meta)
    })
}

impl Gen<'_> {
    /// `if span.is_recording() { span.add_tag(..); .. }`, or nothing without tags.
    fn tags(&self, guard: TokenStream) -> TokenStream {
        let Gen {
            private: p, span, ..
        } = self;
        if self.args.tags.is_empty() {
            return TokenStream::new();
        }
        let tags = self.args.tags.iter().map(|tag| {
            let (key, value) = (&tag.key, &tag.value);
            // Spanned at the value, so that a value without `Display` is reported there.
            let tag_value = call_at(
                quote!(#p::tag_value),
                quote_spanned!(value.span()=> &(#value)),
                value.span(),
            );
            quote!(#span.add_tag(#key, #tag_value);)
        });
        let allow = allow("clippy::needless_borrows_for_generic_args");
        quote! {
            #allow
            if #guard #span.is_recording() {
                #(#tags)*
            }
        }
    }

    /// Writes the trace into an exit span's `headers = &mut carrier`.
    fn inject(&self, span_ref: TokenStream) -> TokenStream {
        let p = &self.private;
        match (&self.args.headers, self.args.kind) {
            (Some(headers), Kind::Exit) => {
                let reborrow = quote_spanned!(headers.span()=> &mut *(#headers));
                let inject = call_at(
                    quote!(#p::inject),
                    quote!(#span_ref, #reborrow),
                    headers.span(),
                );
                let allow = allow("clippy::deref_addrof");
                quote! {
                    #allow
                    #inject;
                }
            }
            _ => TokenStream::new(),
        }
    }

    /// A sync function: a guard for the whole body.
    fn sync_body(&self, func: &ItemFn) -> TokenStream {
        let Gen {
            private: p,
            args,
            span,
            ret,
            meta,
            ..
        } = self;
        let open = match (args.kind, &args.peer, &args.headers) {
            (Kind::Exit, Some(peer), _) => quote!(#p::enter_exit(#meta, #peer)),
            (Kind::Entry, _, Some(headers)) => {
                let headers = quote_spanned!(headers.span()=> &(#headers));
                call_at(
                    quote!(#p::enter_entry),
                    quote!(#meta, #headers),
                    headers.span(),
                )
            }
            _ => quote!(#p::enter(#meta)),
        };
        let open = match &args.skip_if {
            Some(skip) => quote!(if #skip { #p::Span::noop() } else { #open }),
            None => open,
        };
        let tags = self.tags(TokenStream::new());
        let inject = self.inject(quote!(*#span));
        let block = Group::new(Delimiter::Brace, func.body.clone());
        let run = if let Some(err) = args.err {
            let ty = return_type(&func.sig);
            let ret_at = Ident::new("__sw_ret", Span::mixed_site().located_at(err));
            let record = call_at(
                quote!(#p::record_result),
                quote_spanned!(err=> *#span, &#ret_at),
                err,
            );
            quote! {
                let #ret: #ty = #p::call_once(move || -> #ty #block);
                #record;
                #ret
            }
        } else {
            block.into_token_stream()
        };
        quote! {
            let #span = #open;
            #tags
            #inject
            #run
        }
    }

    /// An `async fn`: the body becomes an instrumented `async move` block, awaited.
    fn async_fn_body(&self, func: &ItemFn) -> TokenStream {
        let ret = &self.ret;
        let block = Group::new(Delimiter::Brace, func.body.clone());
        // The future's output type, pinned for `?` and `.into()` in the body by a `return`
        // before it (not `let __sw_ret: T = body; __sw_ret`, which leaves unreachable code
        // behind a body that never ends: a `loop` left by `return`, a `panic!`).
        // The `return` is spanned at the return type, where rustc then says the body's
        // type was expected.
        let run = match pinned_output(&func.sig) {
            Some(ty) => {
                let at = ty.span();
                let ret_at = Ident::new("__sw_ret", Span::mixed_site().located_at(at));
                let early = quote_spanned!(at=> return #ret_at);
                quote! {
                    if let ::core::option::Option::Some(#ret) = ::core::option::Option::None::<#ty> {
                        #early;
                    }
                    #block
                }
            }
            None => block.into_token_stream(),
        };
        let future = self.async_block(&quote!(async move), run);
        let (lets, open) = self.open_future(future);
        quote! {
            #lets
            #open.await
        }
    }

    /// A sync function returning a future made by its tail `async` block.
    fn async_tail_body(&self, tail: AsyncTail) -> TokenStream {
        let AsyncTail {
            before,
            boxed,
            capture,
            block,
        } = tail;
        let future = self.async_block(&capture, block.stream());
        let (lets, open) = self.open_future(future);
        let open = match boxed {
            Some((path, span)) => {
                let mut args = Group::new(Delimiter::Parenthesis, open);
                args.set_span(span);
                quote!(#path #args)
            }
            None => open,
        };
        quote! {
            #before
            #lets
            #open
        }
    }

    /// `async move { tags; inject; statements }`, wrapped for `err`.
    fn async_block(&self, capture: &TokenStream, statements: TokenStream) -> TokenStream {
        let Gen {
            private: p,
            args,
            span,
            skip,
            ..
        } = self;
        let needs_span =
            !args.tags.is_empty() || matches!((&args.headers, args.kind), (Some(_), Kind::Exit));
        let current = if needs_span {
            quote!(let #span = #p::current();)
        } else {
            TokenStream::new()
        };
        // With `skip_if`, the current span is the caller's: leave it alone.
        let guard = if args.skip_if.is_some() {
            quote!(!#skip &&)
        } else {
            TokenStream::new()
        };
        let tags = self.tags(guard);
        let inject = self.inject(span.to_token_stream());
        let future = quote! {
            #capture {
                #current
                #tags
                #inject
                #statements
            }
        };
        if let Some(err) = args.err {
            let active = if args.skip_if.is_some() {
                quote!(!#skip)
            } else {
                quote!(true)
            };
            call_at(quote!(#p::record_err), quote!(#active, #future), err)
        } else {
            future
        }
    }

    /// The statements to run before the future is made (they may borrow what it
    /// moves), and the instrumented future.
    fn open_future(&self, future: TokenStream) -> (TokenStream, TokenStream) {
        let Gen {
            private: p,
            args,
            skip,
            peer,
            incoming,
            fut,
            meta,
            ..
        } = self;
        let mut lets = TokenStream::new();
        if let Some(expr) = &args.skip_if {
            lets.extend(quote!(let #skip: bool = #expr;));
        }
        let instrument = |future: TokenStream| match (args.kind, &args.peer, &args.headers) {
            (Kind::Exit, Some(_), _) => quote!(#p::instrument_exit(#meta, #peer, #future)),
            (Kind::Entry, _, Some(_)) => {
                quote!(#p::instrument_incoming(#meta, #incoming, #future))
            }
            _ => quote!(#p::instrument(#meta, #future)),
        };
        match (args.kind, &args.peer, &args.headers) {
            (Kind::Exit, Some(expr), _) => lets.extend(quote!(let #peer = #expr;)),
            (Kind::Entry, _, Some(expr)) => {
                let extract = call_at(
                    quote!(#p::extract),
                    quote_spanned!(expr.span()=> &(#expr)),
                    expr.span(),
                );
                lets.extend(quote!(let #incoming = #extract;));
            }
            _ => {}
        }
        let open = if args.skip_if.is_some() {
            let instrumented = instrument(fut.to_token_stream());
            quote!({
                let #fut = #future;
                if #skip { #p::passthrough(#fut) } else { #instrumented }
            })
        } else {
            instrument(future)
        };
        (lets, open)
    }
}

/// `func(args)` spanned at `span`: the option whose value the call checks.
fn call_at(func: TokenStream, args: TokenStream, span: Span) -> TokenStream {
    let func = respan(func, span);
    let mut args = Group::new(Delimiter::Parenthesis, args);
    args.set_span(span);
    quote!(#func #args)
}

/// `tokens` with every span set to `span`, so that rustc reports a type error in a call
/// to the runtime at the option that caused it.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tree| {
            if let TokenTree::Group(group) = &tree {
                let mut inner = Group::new(group.delimiter(), respan(group.stream(), span));
                inner.set_span(span);
                tree = TokenTree::Group(inner);
            } else {
                tree.set_span(span);
            }
            tree
        })
        .collect()
}

/// The return type with `impl Trait` erased to `_`, for `let __sw_ret: T = ..` (so `?`
/// and `.into()` in the body keep inferring as they do in the unannotated function).
fn return_type(sig: &Signature) -> TokenStream {
    match &sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => erase_impl_trait(ty).into_token_stream(),
    }
}

/// The output type an `async fn`'s body is pinned to, unless there is nothing to pin:
/// `()`, `_` (an `impl Trait` return) or `!` (which only a signature may name).
fn pinned_output(sig: &Signature) -> Option<Type> {
    let ReturnType::Type(_, ty) = &sig.output else {
        return None;
    };
    match erase_impl_trait(ty) {
        Type::Infer(_) | Type::Never(_) => None,
        ty => Some(ty),
    }
}

fn erase_impl_trait(ty: &Type) -> Type {
    let mut ty = ty.clone();
    EraseImplTrait.visit_type_mut(&mut ty);
    ty
}

struct EraseImplTrait;

impl VisitMut for EraseImplTrait {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        if let Type::ImplTrait(it) = ty {
            *ty = Type::Infer(syn::TypeInfer {
                underscore_token: Token![_](it.impl_token.span),
            });
        } else {
            syn::visit_mut::visit_type_mut(self, ty);
        }
    }
}
