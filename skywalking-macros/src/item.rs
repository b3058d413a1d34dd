//! The annotated item as the macro parses it: a function whose body stays tokens, and
//! the facts about its signature that option checking and expansion both need.

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, ReturnType, Signature, Token, Type, Visibility};

use crate::async_like::{self, AsyncTail};

/// A function item with its body kept as tokens: a free fn, a method, or a trait method
/// with a default body.
pub(crate) struct ItemFn {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) sig: Signature,
    /// Leading `#![..]` of the body, moved to the top of the generated body.
    pub(crate) inner_attrs: TokenStream,
    /// The statements of the body.
    pub(crate) body: TokenStream,
    pub(crate) body_span: Span,
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
    pub(crate) tail: Option<AsyncTail>,
}

impl<'a> FnShape<'a> {
    pub(crate) fn of(func: &'a ItemFn) -> FnShape<'a> {
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
            return if is_result(ty) {
                Ok(())
            } else {
                Err(format!("this one returns {}", describe(ty)))
            };
        }
        match async_like::future_output(ty) {
            Some(output) if is_result(output) => Ok(()),
            Some(output) => Err(format!(
                "the future this one returns outputs {}",
                describe(output)
            )),
            None => Err(format!("the output of {} is not spelled out", describe(ty))),
        }
    }

    /// The `const` keyword of a `const fn`.
    pub(crate) fn constness(&self) -> Option<Span> {
        self.sig.constness.map(|c| c.span)
    }
}

/// Whether `ty` names a `Result`: its last path segment is `Result` or ends in `Result`
/// (`io::Result<T>`, `anyhow::Result<T>`, `fmt::Result`, an alias `DbResult<T>`).
pub(crate) fn is_result(ty: &Type) -> bool {
    match ty {
        Type::Path(path) => path
            .path
            .segments
            .last()
            .is_some_and(|segment| segment.ident.to_string().ends_with("Result")),
        Type::Paren(inner) => is_result(&inner.elem),
        Type::Group(inner) => is_result(&inner.elem),
        _ => false,
    }
}

/// A short description of a type for error messages.
pub(crate) fn describe(ty: &Type) -> String {
    let mut text = quote::ToTokens::to_token_stream(ty).to_string();
    for (from, to) in [
        (" :: ", "::"),
        (":: ", "::"),
        (" < ", "<"),
        (" <", "<"),
        ("< ", "<"),
        (" >", ">"),
        (" ,", ","),
        ("& ", "&"),
        ("' ", "'"),
    ] {
        text = text.replace(from, to);
    }
    let text = if text.chars().count() > 60 {
        format!("{}...", text.chars().take(57).collect::<String>())
    } else {
        text
    };
    format!("`{text}`")
}
