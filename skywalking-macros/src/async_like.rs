//! Functions that are not `async fn` but return a future built by an `async` block: an
//! async-trait shim (`Box::pin(async move { .. })`) or `-> impl Future { .. async move
//! { .. } }`. Their span must time the future, not the call that builds it, so the
//! macro instruments the tail `async` block in place.
//!
//! Detection is syntactic and works on token trees, without parsing the body: the return
//! type mentions `Future` (or an alias ending in `Future`, as `BoxFuture<'a, T>`), and the body ends with `async [move] { .. }`, possibly as the
//! only argument of `Box::pin(..)` (any path ending in `Box::pin`), right after a
//! statement boundary.

use proc_macro2::{Delimiter, Group, TokenStream, TokenTree};
use quote::ToTokens;
use syn::{GenericArgument, PathArguments, ReturnType, Signature, Type, TypeParamBound};

/// The tail `async` block of a function that returns it (maybe boxed).
pub(crate) struct AsyncTail {
    /// The statements before the tail, verbatim.
    pub(crate) before: TokenStream,
    /// `Box::pin` (the path tokens) when the block is its argument.
    pub(crate) boxed: Option<(TokenStream, proc_macro2::Span)>,
    /// `async` or `async move`.
    pub(crate) capture: TokenStream,
    /// The block's braces and statements.
    pub(crate) block: Group,
}

/// Finds the tail `async` block of a non-async `sig` whose return type mentions `Future`.
pub(crate) fn detect(sig: &Signature, body: &TokenStream) -> Option<AsyncTail> {
    if sig.asyncness.is_some() {
        return None;
    }
    let ReturnType::Type(_, ty) = &sig.output else {
        return None;
    };
    if !mentions_future(ty.to_token_stream()) {
        return None;
    }
    let trees: Vec<TokenTree> = body.clone().into_iter().collect();
    let (last, rest) = trees.split_last()?;
    // `async [move] { .. }` at the end of the body.
    if let Some((capture_start, block)) = async_block_at_end(&trees) {
        if at_boundary(&trees[..capture_start]) {
            return Some(AsyncTail {
                before: trees[..capture_start].iter().cloned().collect(),
                boxed: None,
                capture: trees[capture_start..trees.len() - 1]
                    .iter()
                    .cloned()
                    .collect(),
                block,
            });
        }
        return None;
    }
    // `Box::pin(async [move] { .. })` at the end of the body.
    let TokenTree::Group(args) = last else {
        return None;
    };
    if args.delimiter() != Delimiter::Parenthesis {
        return None;
    }
    let inner: Vec<TokenTree> = args.stream().into_iter().collect();
    let (capture_start, block) = async_block_at_end(&inner)?;
    if capture_start != 0 {
        return None;
    }
    let path_start = box_pin_path_start(rest)?;
    if !at_boundary(&rest[..path_start]) {
        return None;
    }
    Some(AsyncTail {
        before: rest[..path_start].iter().cloned().collect(),
        boxed: Some((rest[path_start..].iter().cloned().collect(), args.span())),
        capture: inner[..inner.len() - 1].iter().cloned().collect(),
        block,
    })
}

fn mentions_future(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|tree| match tree {
        TokenTree::Ident(ident) => ident.to_string().ends_with("Future"),
        TokenTree::Group(group) => mentions_future(group.stream()),
        _ => false,
    })
}

fn is_ident(tree: &TokenTree, name: &str) -> bool {
    matches!(tree, TokenTree::Ident(ident) if ident == name)
}

fn is_punct(tree: &TokenTree, ch: char) -> bool {
    matches!(tree, TokenTree::Punct(punct) if punct.as_char() == ch)
}

/// `async { .. }` or `async move { .. }` as the last trees: the index of `async` and the
/// block.
fn async_block_at_end(trees: &[TokenTree]) -> Option<(usize, Group)> {
    let (TokenTree::Group(block), rest) = trees.split_last()? else {
        return None;
    };
    if block.delimiter() != Delimiter::Brace {
        return None;
    }
    match rest {
        [.., a, m] if is_ident(a, "async") && is_ident(m, "move") => {
            Some((rest.len() - 2, block.clone()))
        }
        [.., a] if is_ident(a, "async") => Some((rest.len() - 1, block.clone())),
        _ => None,
    }
}

/// The start of a path ending in `Box::pin` at the end of `trees`.
fn box_pin_path_start(trees: &[TokenTree]) -> Option<usize> {
    match trees {
        [.., b, c1, c2, p]
            if is_ident(b, "Box")
                && is_punct(c1, ':')
                && is_punct(c2, ':')
                && is_ident(p, "pin") =>
        {
            let mut start = trees.len() - 4;
            // Leading segments: `std::boxed::`, `::alloc::boxed::`.
            while start >= 2 && is_punct(&trees[start - 1], ':') && is_punct(&trees[start - 2], ':')
            {
                if start >= 3 && matches!(trees[start - 3], TokenTree::Ident(_)) {
                    start -= 3;
                } else {
                    start -= 2;
                    break;
                }
            }
            Some(start)
        }
        _ => None,
    }
}

/// Whether a new expression statement may start after `before`.
fn at_boundary(before: &[TokenTree]) -> bool {
    match before.last() {
        None => true,
        Some(TokenTree::Punct(punct)) => punct.as_char() == ';',
        Some(TokenTree::Group(group)) => group.delimiter() == Delimiter::Brace,
        Some(_) => false,
    }
}

/// The `Output = T` of the `Future` a return type names (`impl Future<Output = T>`,
/// `Pin<Box<dyn Future<Output = T> + Send>>`).
pub(crate) fn future_output(ty: &Type) -> Option<&Type> {
    match ty {
        Type::ImplTrait(t) => bounds_output(t.bounds.iter()),
        Type::TraitObject(t) => bounds_output(t.bounds.iter()),
        Type::Paren(t) => future_output(&t.elem),
        Type::Group(t) => future_output(&t.elem),
        Type::Path(t) => {
            let segment = t.path.segments.last()?;
            if segment.ident == "Future" {
                return output_binding(&segment.arguments);
            }
            let PathArguments::AngleBracketed(args) = &segment.arguments else {
                return None;
            };
            // An alias such as `BoxFuture<'a, T>`: the output is its last type argument.
            if segment.ident.to_string().ends_with("Future") {
                return args.args.iter().rev().find_map(|arg| match arg {
                    GenericArgument::Type(ty) => Some(ty),
                    _ => None,
                });
            }
            args.args.iter().find_map(|arg| match arg {
                GenericArgument::Type(ty) => future_output(ty),
                _ => None,
            })
        }
        _ => None,
    }
}

fn bounds_output<'a>(mut bounds: impl Iterator<Item = &'a TypeParamBound>) -> Option<&'a Type> {
    bounds.find_map(|bound| match bound {
        TypeParamBound::Trait(t) => {
            let segment = t.path.segments.last()?;
            (segment.ident == "Future").then(|| output_binding(&segment.arguments))?
        }
        _ => None,
    })
}

fn output_binding(arguments: &PathArguments) -> Option<&Type> {
    let PathArguments::AngleBracketed(args) = arguments else {
        return None;
    };
    args.args.iter().find_map(|arg| match arg {
        GenericArgument::AssocType(assoc) if assoc.ident == "Output" => Some(&assoc.ty),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn sig(tokens: TokenStream) -> Signature {
        syn::parse2(tokens).unwrap()
    }

    #[test]
    fn finds_a_tail_async_block() {
        let s = sig(quote!(fn f(x: u8) -> impl Future<Output = u8>));
        let tail = detect(&s, &quote!(let y = x; async move { y })).unwrap();
        assert_eq!(tail.before.to_string(), "let y = x ;");
        assert_eq!(tail.capture.to_string(), "async move");
        assert!(tail.boxed.is_none());
    }

    #[test]
    fn finds_the_async_trait_shape() {
        let s = sig(quote!(fn f(&self) -> Pin<Box<dyn Future<Output = u8> + Send + 'async_trait>>));
        let tail = detect(&s, &quote!(Box::pin(async move { 1 }))).unwrap();
        assert_eq!(tail.boxed.unwrap().0.to_string(), "Box :: pin");
        let tail = detect(&s, &quote!(::std::boxed::Box::pin(async { 1 }))).unwrap();
        assert_eq!(
            tail.boxed.unwrap().0.to_string(),
            ":: std :: boxed :: Box :: pin"
        );
    }

    #[test]
    fn ignores_other_bodies() {
        let s = sig(quote!(fn f() -> impl Future<Output = u8>));
        assert!(detect(&s, &quote!(ready(1))).is_none());
        assert!(detect(&s, &quote!(move || async move { 1 })).is_none());
        let plain = sig(quote!(fn f() -> u8));
        assert!(detect(&plain, &quote!(async move { 1 })).is_none());
    }

    #[test]
    fn reads_the_output_type() {
        let ty: Type =
            syn::parse2(quote!(Pin<Box<dyn Future<Output = Result<u8, E>> + Send>>)).unwrap();
        assert_eq!(
            future_output(&ty).unwrap().to_token_stream().to_string(),
            "Result < u8 , E >"
        );
        let ty: Type = syn::parse2(quote!(impl Future<Output = ()> + Send)).unwrap();
        assert!(future_output(&ty).is_some());
    }
}
