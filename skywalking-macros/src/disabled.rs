//! The item under `--cfg sw_disable`: as written, plus a block that never runs and
//! mentions the expressions of the options (and the path of `crate = path`), so that what
//! only they use (an argument, a field, a constant, the `mut` of `headers = &mut
//! carrier`, an import) is not reported unused.
//!
//! ```text
//! #[trace(tags(qty = qty))]             fn price(qty: u32) -> u32 {
//! fn price(qty: u32) -> u32 {    ==>        if false { let _ = &(qty); loop {} }
//!     3                                     3
//! }                                     }
//! ```
//!
//! The block is type-checked but never entered, and calls nothing of the runtime (the
//! optimizer drops it). It ends in `loop {}`, so what it borrows or moves is neither
//! borrowed nor moved for the code after it, which compiles as it did without the
//! block. Each expression is mentioned where the enabled expansion evaluates it: at the
//! top of the body, or, for tags and an exit's `headers` in a function returning a tail
//! `async` block, at the top of that block, where the same names are in scope.

use proc_macro2::{Delimiter, Group, TokenStream};
use quote::quote;
use syn::Expr;

use crate::args::{Kind, TraceArgs};
use crate::async_like::AsyncTail;
use crate::item::ItemFn;

/// The item with the block, or `None` when no option holds an expression (the item is
/// then emitted exactly as written).
pub(crate) fn item(
    func: &ItemFn,
    tail: Option<AsyncTail>,
    args: &TraceArgs,
) -> Option<TokenStream> {
    let exit_headers = args.headers.as_ref().filter(|_| args.kind == Kind::Exit);
    let entry_headers = args.headers.as_ref().filter(|_| args.kind != Kind::Exit);
    let in_future = args.tags.iter().map(|tag| &tag.value).chain(exit_headers);
    let before: Vec<&Expr> = [&args.peer, &args.component, &args.skip_if]
        .into_iter()
        .flatten()
        .chain(entry_headers)
        .collect();
    // `crate = path` is mentioned in a type, which makes no symbol.
    let krate = args
        .krate
        .as_ref()
        .map(|krate| quote!(let _ = ::core::option::Option::None::<&#krate::__private::Meta>;));
    if before.is_empty() && args.tags.is_empty() && exit_headers.is_none() && krate.is_none() {
        return None;
    }
    let ItemFn {
        attrs,
        vis,
        sig,
        inner_attrs,
        body,
        body_span,
    } = func;
    let statements = match tail {
        None => {
            let all = mention(before.into_iter().chain(in_future), krate);
            quote!(#all #body)
        }
        Some(AsyncTail {
            before: statements,
            boxed,
            capture,
            block,
        }) => {
            let outer = mention(before.into_iter(), krate);
            let inner = mention(in_future, None);
            let stream = block.stream();
            let mut with_inner = Group::new(Delimiter::Brace, quote!(#inner #stream));
            with_inner.set_span(block.span());
            let future = quote!(#capture #with_inner);
            let future = match boxed {
                Some((path, span)) => {
                    let mut args = Group::new(Delimiter::Parenthesis, future);
                    args.set_span(span);
                    quote!(#path #args)
                }
                None => future,
            };
            quote!(#statements #outer #future)
        }
    };
    let mut body = Group::new(Delimiter::Brace, quote!(#inner_attrs #statements));
    body.set_span(*body_span);
    Some(quote! {
        #(#attrs)*
        #vis #sig #body
    })
}

/// `if false { let _ = &(expr); .. loop {} }`, or nothing.
fn mention<'a>(exprs: impl Iterator<Item = &'a Expr>, krate: Option<TokenStream>) -> TokenStream {
    let exprs: Vec<TokenStream> = exprs
        .map(|expr| quote!(let _ = &(#expr);))
        .chain(krate)
        .collect();
    if exprs.is_empty() {
        return TokenStream::new();
    }
    quote! {
        if false {
            #(#exprs)*
            loop {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::RawArgs;
    use crate::item::FnShape;

    fn disabled(args: TokenStream, tokens: TokenStream) -> Option<String> {
        let func: ItemFn = syn::parse2(tokens).unwrap();
        let shape = FnShape::of(&func);
        let args = syn::parse2::<RawArgs>(args).unwrap().build(&shape).unwrap();
        item(&func, shape.tail, &args).map(|tokens| tokens.to_string())
    }

    #[test]
    fn without_expressions_the_item_is_as_written() {
        let item = quote!(
            fn f(a: u8) -> u8 {
                a
            }
        );
        assert_eq!(disabled(quote!(name = "f", local), item), None);
    }

    #[test]
    fn mentions_the_expressions_at_the_top_of_the_body() {
        let item = quote!(
            fn f(a: u8, h: &mut H) -> u8 {
                1
            }
        );
        let expanded = disabled(
            quote!(exit, peer = "p", headers = h, tags(a = a), skip_if = a == 0),
            item,
        )
        .unwrap();
        assert_eq!(
            expanded,
            quote!(
                fn f(a: u8, h: &mut H) -> u8 {
                    if false {
                        let _ = &("p");
                        let _ = &(a == 0);
                        let _ = &(a);
                        let _ = &(h);
                        loop {}
                    }
                    1
                }
            )
            .to_string()
        );
    }

    #[test]
    fn mentions_tags_inside_a_tail_async_block() {
        let item = quote!(
            fn f(n: u8) -> impl Future<Output = u8> {
                let m = n;
                async move { m }
            }
        );
        let expanded = disabled(quote!(tags(m = m), crate = my::sw), item).unwrap();
        assert_eq!(
            expanded,
            quote!(
                fn f(n: u8) -> impl Future<Output = u8> {
                    let m = n;
                    if false {
                        let _ = ::core::option::Option::None::<&my::sw::__private::Meta>;
                        loop {}
                    }
                    async move {
                        if false {
                            let _ = &(m);
                            loop {}
                        }
                        m
                    }
                }
            )
            .to_string()
        );
    }
}
