//! Turning the checked options and the function into the instrumented function.
//!
//! The signature is passed through untouched and the body is kept as token trees (never
//! parsed statement by statement), so rustc reports the user's own errors in the body.
//! Everything the expansion calls is in `#crate::__private`; the expansion only opens a
//! span, adds tags and wraps the body.

use proc_macro2::{Delimiter, Group, Ident, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{Attribute, ReturnType, Signature, Token, Type, Visibility};

use crate::args::{self, Kind, RawArgs, TraceArgs};
use crate::async_like::{self, AsyncTail};

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
    match raw.and_then(|raw| raw.build(&shape)) {
        Err(error) => with_error(item, &error),
        // `--cfg sw_disable`: exactly the item as written.
        Ok(_) if crate::env::disabled() => item,
        Ok(args) => gen_function(&func, shape.tail, &args),
    }
}

fn with_error(mut item: TokenStream, error: &syn::Error) -> TokenStream {
    item.extend(error.to_compile_error());
    item
}

/// A function item with its body kept as tokens: a free fn, a method, or a trait method
/// with a default body.
pub(crate) struct ItemFn {
    attrs: Vec<Attribute>,
    vis: Visibility,
    sig: Signature,
    /// Leading `#![..]` of the body, moved to the top of the generated body.
    inner_attrs: TokenStream,
    /// The statements of the body.
    body: TokenStream,
    body_span: Span,
}

impl Parse for ItemFn {
    fn parse(input: ParseStream<'_>) -> syn::Result<ItemFn> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        let sig: Signature = input.parse().map_err(|error| {
            syn::Error::new(
                error.span(),
                "`#[trace]` applies to functions and methods (`fn`, `async fn`), with a body",
            )
        })?;
        if input.peek(Token![;]) {
            return Err(syn::Error::new(
                input.span(),
                "`#[trace]` needs a function body: put it on the trait's implementations, \
                 or on a default method body",
            ));
        }
        let body: Group = input.parse()?;
        if body.delimiter() != Delimiter::Brace {
            return Err(syn::Error::new(body.span(), "expected the function body"));
        }
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the function body"));
        }
        let (inner_attrs, body_tokens) = split_inner_attrs(body.stream());
        Ok(ItemFn {
            attrs,
            vis,
            sig,
            inner_attrs,
            body: body_tokens,
            body_span: body.span(),
        })
    }
}

/// Splits `#![..]` attributes off the start of a body.
fn split_inner_attrs(body: TokenStream) -> (TokenStream, TokenStream) {
    let mut trees: Vec<TokenTree> = body.into_iter().collect();
    let mut end = 0;
    while let [
        TokenTree::Punct(pound),
        TokenTree::Punct(bang),
        TokenTree::Group(group),
        ..,
    ] = &trees[end..]
    {
        if pound.as_char() == '#'
            && bang.as_char() == '!'
            && group.delimiter() == Delimiter::Bracket
        {
            end += 3;
        } else {
            break;
        }
    }
    let rest = trees.split_off(end);
    (trees.into_iter().collect(), rest.into_iter().collect())
}

/// What option checks need to know about the function.
pub(crate) struct FnShape<'a> {
    sig: &'a Signature,
    /// The tail `async` block of a sync function returning a future.
    tail: Option<AsyncTail>,
}

impl<'a> FnShape<'a> {
    fn of(func: &'a ItemFn) -> FnShape<'a> {
        FnShape {
            sig: &func.sig,
            tail: async_like::detect(&func.sig, &func.body),
        }
    }

    /// The type a span's `err` inspects: the function's return type, or the `Output` of
    /// the future it returns when its tail `async` block is what gets instrumented.
    /// `Err(description)` when that is not a `Result`.
    pub(crate) fn returns_result(&self) -> Result<(), String> {
        let ReturnType::Type(_, ty) = &self.sig.output else {
            return Err("this one returns `()`".to_owned());
        };
        if self.tail.is_none() {
            return if args::is_result(ty) {
                Ok(())
            } else {
                Err(format!("this one returns {}", args::describe(ty)))
            };
        }
        match async_like::future_output(ty) {
            Some(output) if args::is_result(output) => Ok(()),
            Some(output) => Err(format!(
                "the future this one returns outputs {}",
                args::describe(output)
            )),
            None => Err(format!(
                "the output of {} is not spelled out",
                args::describe(ty)
            )),
        }
    }

    /// The `const` keyword of a `const fn`.
    pub(crate) fn constness(&self) -> Option<Span> {
        self.sig.constness.map(|c| c.span)
    }
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
}

fn local(name: &str) -> Ident {
    Ident::new(name, Span::mixed_site())
}

fn gen_function(func: &ItemFn, tail: Option<AsyncTail>, args: &TraceArgs) -> TokenStream {
    let krate = match &args.krate {
        Some(path) => path.to_token_stream(),
        None => crate::env::runtime_path(),
    };
    let g = Gen {
        args,
        private: quote!(__sw),
        span: local("__sw_span"),
        skip: local("__sw_skip"),
        peer: local("__sw_peer"),
        incoming: local("__sw_incoming"),
        ret: local("__sw_ret"),
        fut: local("__sw_fut"),
    };
    let meta = g.meta(func);
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
        #meta
        #body
    }};
    quote! {
        #(#attrs)*
        #vis #sig #body
    }
}

impl Gen<'_> {
    /// `static __SW_META: Meta = Meta { .. };`
    fn meta(&self, func: &ItemFn) -> TokenStream {
        let Gen {
            private: p, args, ..
        } = self;
        let name = match &args.name {
            Some(name) => name.to_token_stream(),
            None => {
                let fn_name = func.sig.ident.unraw().to_string();
                quote!(::core::concat!(::core::module_path!(), "::", #fn_name))
            }
        };
        if (args.kind, &args.layer, &args.component) == (Kind::Local, &None, &None) {
            return quote!(static __SW_META: #p::Meta = #p::Meta::local(#name););
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
            static __SW_META: #p::Meta = #p::Meta {
                name: #name,
                kind: #p::SpanKind::#kind,
                layer: #p::SpanLayer::#layer,
                component: #component,
            };
        }
    }

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
            ..
        } = self;
        let open = match (args.kind, &args.peer, &args.headers) {
            (Kind::Exit, Some(peer), _) => quote!(#p::enter_exit(&__SW_META, #peer)),
            (Kind::Entry, _, Some(headers)) => {
                let headers = quote_spanned!(headers.span()=> &(#headers));
                call_at(
                    quote!(#p::enter_entry),
                    quote!(&__SW_META, #headers),
                    headers.span(),
                )
            }
            _ => quote!(#p::enter(&__SW_META)),
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
        let run = match &func.sig.output {
            ReturnType::Default => block.into_token_stream(),
            ReturnType::Type(..) => {
                let ty = return_type(&func.sig);
                quote! {
                    let #ret: #ty = #block;
                    #ret
                }
            }
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
            ..
        } = self;
        let mut lets = TokenStream::new();
        if let Some(expr) = &args.skip_if {
            lets.extend(quote!(let #skip: bool = #expr;));
        }
        let instrument = |future: TokenStream| match (args.kind, &args.peer, &args.headers) {
            (Kind::Exit, Some(_), _) => quote!(#p::instrument_exit(&__SW_META, #peer, #future)),
            (Kind::Entry, _, Some(_)) => {
                quote!(#p::instrument_incoming(&__SW_META, #incoming, #future))
            }
            _ => quote!(#p::instrument(&__SW_META, #future)),
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
        ReturnType::Type(_, ty) => {
            let mut ty: Type = (**ty).clone();
            EraseImplTrait.visit_type_mut(&mut ty);
            ty.into_token_stream()
        }
    }
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
