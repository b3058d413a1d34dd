//! The options of `#[trace(...)]`: parsed into [`RawArgs`] (each value with the span of
//! the token that set it), then checked against each other and the function signature
//! in one place, [`RawArgs::build`], which yields the [`TraceArgs`] that expansion uses.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, LitStr, Path, Token, parenthesized};

use crate::item::FnShape;

mod kw {
    syn::custom_keyword!(name);
    syn::custom_keyword!(entry);
    syn::custom_keyword!(exit);
    syn::custom_keyword!(local);
    syn::custom_keyword!(peer);
    syn::custom_keyword!(layer);
    syn::custom_keyword!(component);
    syn::custom_keyword!(tags);
    syn::custom_keyword!(err);
    syn::custom_keyword!(headers);
    syn::custom_keyword!(skip_if);
}

/// The kind of span the function opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Entry,
    Exit,
    Local,
}

impl Kind {
    fn keyword(self) -> &'static str {
        match self {
            Kind::Entry => "entry",
            Kind::Exit => "exit",
            Kind::Local => "local",
        }
    }
}

/// `layer = "..."`, named as in the runtime's `SpanLayer`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layer {
    Http,
    RpcFramework,
    Database,
    Cache,
    Mq,
    Faas,
}

const LAYERS: &str = "\"http\", \"rpc\", \"database\", \"cache\", \"mq\", \"faas\"";

impl Layer {
    fn from_lit(lit: &LitStr) -> syn::Result<Layer> {
        Ok(match lit.value().as_str() {
            "http" => Layer::Http,
            "rpc" => Layer::RpcFramework,
            "database" => Layer::Database,
            "cache" => Layer::Cache,
            "mq" => Layer::Mq,
            "faas" => Layer::Faas,
            other => {
                let hint = match other.to_ascii_lowercase().as_str() {
                    "grpc" | "rpcframework" | "rpc_framework" => {
                        " (gRPC and other RPC frameworks are \"rpc\")"
                    }
                    "db" | "sql" => " (use \"database\")",
                    "queue" | "kafka" => " (message queues are \"mq\")",
                    _ => "",
                };
                return Err(syn::Error::new(
                    lit.span(),
                    format!("unknown layer {other:?}{hint}: expected one of {LAYERS}"),
                ));
            }
        })
    }

    pub(crate) fn variant(self) -> &'static str {
        match self {
            Layer::Http => "Http",
            Layer::RpcFramework => "RpcFramework",
            Layer::Database => "Database",
            Layer::Cache => "Cache",
            Layer::Mq => "Mq",
            Layer::Faas => "Faas",
        }
    }
}

/// One `key = expr` of `tags(...)`; the key may be dotted (`db.statement`) or a string.
pub(crate) struct Tag {
    pub(crate) key: LitStr,
    pub(crate) value: Expr,
}

impl Parse for Tag {
    fn parse(input: ParseStream<'_>) -> syn::Result<Tag> {
        let key = if input.peek(LitStr) {
            input.parse::<LitStr>()?
        } else {
            let first = Ident::parse_any(input)?;
            let mut text = first.unraw().to_string();
            let mut span = first.span();
            while input.peek(Token![.]) {
                input.parse::<Token![.]>()?;
                let part = Ident::parse_any(input)?;
                text.push('.');
                text.push_str(&part.unraw().to_string());
                span = span.join(part.span()).unwrap_or(span);
            }
            LitStr::new(&text, span)
        };
        input.parse::<Token![=]>()?;
        let value = input.parse()?;
        Ok(Tag { key, value })
    }
}

/// What the attribute said, before the options are checked against each other.
#[derive(Default)]
pub(crate) struct RawArgs {
    name: Option<(LitStr, Span)>,
    kind: Option<(Kind, Span)>,
    peer: Option<(Expr, Span)>,
    layer: Option<(Layer, Span)>,
    component: Option<(Expr, Span)>,
    tags: Option<(Vec<Tag>, Span)>,
    err: Option<((), Span)>,
    headers: Option<(Expr, Span)>,
    skip_if: Option<(Expr, Span)>,
    krate: Option<(Path, Span)>,
}

/// Sets an option that may be given once; `what` names it in the error.
fn set_once<T>(slot: &mut Option<(T, Span)>, value: T, span: Span, what: &str) -> syn::Result<()> {
    if slot.is_some() {
        return Err(syn::Error::new(span, format!("`{what}` is given twice")));
    }
    *slot = Some((value, span));
    Ok(())
}

/// Parses `= value` after the keyword of option `what` (at `key`).
fn value<T: Parse>(input: ParseStream<'_>, key: Span, what: &str) -> syn::Result<T> {
    value_with(input, key, what, T::parse)
}

fn value_with<T>(
    input: ParseStream<'_>,
    key: Span,
    what: &str,
    parse: impl FnOnce(ParseStream<'_>) -> syn::Result<T>,
) -> syn::Result<T> {
    if !input.peek(Token![=]) {
        return Err(syn::Error::new(
            key,
            format!("`{what}` needs a value: `{what} = ...`"),
        ));
    }
    let eq = input.parse::<Token![=]>()?;
    if input.is_empty() || input.peek(Token![,]) {
        return Err(syn::Error::new(
            eq.span,
            format!("`{what}` needs a value after `=`"),
        ));
    }
    parse(input)
}

impl Parse for RawArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<RawArgs> {
        let mut args = RawArgs::default();
        while !input.is_empty() {
            let lookahead = input.lookahead1();
            if lookahead.peek(kw::name) {
                let span = input.parse::<kw::name>()?.span;
                set_once(&mut args.name, value(input, span, "name")?, span, "name")?;
            } else if lookahead.peek(kw::entry)
                || lookahead.peek(kw::exit)
                || lookahead.peek(kw::local)
            {
                let ident: Ident = input.parse()?;
                let kind = match ident.to_string().as_str() {
                    "entry" => Kind::Entry,
                    "exit" => Kind::Exit,
                    _ => Kind::Local,
                };
                if let Some((before, _)) = args.kind {
                    return Err(syn::Error::new(
                        ident.span(),
                        format!(
                            "`{}` conflicts with `{}` given before: a span is one of `entry`, `exit` or `local`",
                            kind.keyword(),
                            before.keyword()
                        ),
                    ));
                }
                args.kind = Some((kind, ident.span()));
            } else if lookahead.peek(kw::peer) {
                let span = input.parse::<kw::peer>()?.span;
                set_once(&mut args.peer, value(input, span, "peer")?, span, "peer")?;
            } else if lookahead.peek(kw::layer) {
                let span = input.parse::<kw::layer>()?.span;
                let layer = Layer::from_lit(&value(input, span, "layer")?)?;
                set_once(&mut args.layer, layer, span, "layer")?;
            } else if lookahead.peek(kw::component) {
                let span = input.parse::<kw::component>()?.span;
                set_once(
                    &mut args.component,
                    value(input, span, "component")?,
                    span,
                    "component",
                )?;
            } else if lookahead.peek(kw::tags) {
                let span = input.parse::<kw::tags>()?.span;
                let content;
                parenthesized!(content in input);
                let tags = Punctuated::<Tag, Token![,]>::parse_terminated(&content)?;
                set_once(&mut args.tags, tags.into_iter().collect(), span, "tags")?;
            } else if lookahead.peek(kw::err) {
                let span = input.parse::<kw::err>()?.span;
                set_once(&mut args.err, (), span, "err")?;
            } else if lookahead.peek(kw::headers) {
                let span = input.parse::<kw::headers>()?.span;
                set_once(
                    &mut args.headers,
                    value(input, span, "headers")?,
                    span,
                    "headers",
                )?;
            } else if lookahead.peek(kw::skip_if) {
                let span = input.parse::<kw::skip_if>()?.span;
                set_once(
                    &mut args.skip_if,
                    value(input, span, "skip_if")?,
                    span,
                    "skip_if",
                )?;
            } else if lookahead.peek(Token![crate]) {
                let span = input.parse::<Token![crate]>()?.span;
                let path = value_with(input, span, "crate", Path::parse_mod_style)?;
                set_once(&mut args.krate, path, span, "crate")?;
            } else if input.peek(Ident::peek_any) {
                let unknown = input.call(Ident::parse_any)?;
                return Err(syn::Error::new(
                    unknown.span(),
                    format!(
                        "unknown option `{unknown}`: expected one of `name`, `entry`, `exit`, `local`, \
                         `peer`, `layer`, `component`, `tags`, `err`, `headers`, `skip_if`, `crate`"
                    ),
                ));
            } else {
                return Err(lookahead.error());
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(args)
    }
}

/// The checked options, ready for expansion.
pub(crate) struct TraceArgs {
    pub(crate) name: Option<LitStr>,
    pub(crate) kind: Kind,
    pub(crate) peer: Option<Expr>,
    pub(crate) layer: Option<Layer>,
    pub(crate) component: Option<Expr>,
    pub(crate) tags: Vec<Tag>,
    /// The `err` keyword, where a missing `Display` is reported.
    pub(crate) err: Option<Span>,
    pub(crate) headers: Option<Expr>,
    pub(crate) skip_if: Option<Expr>,
    pub(crate) krate: Option<Path>,
}

impl RawArgs {
    /// Checks the options against each other and against the function, reporting every
    /// problem at the token that caused it.
    pub(crate) fn build(self, shape: &FnShape<'_>) -> syn::Result<TraceArgs> {
        let mut errors: Vec<syn::Error> = Vec::new();
        if let Some(span) = shape.constness() {
            errors.push(syn::Error::new(
                span,
                "`#[trace]` cannot instrument a `const fn`: spans open and close at run time",
            ));
        }
        let kind = self.kind.map_or(Kind::Local, |(kind, _)| kind);
        match (kind, &self.peer, self.kind) {
            (Kind::Exit, None, Some((_, span))) => errors.push(syn::Error::new(
                span,
                "`exit` needs `peer = ...`: the address of the called service, as a \
                 `&'static str` or `String` (for example `peer = \"pg:5432\"`)",
            )),
            (Kind::Entry | Kind::Local, Some((_, span)), _) => errors.push(syn::Error::new(
                *span,
                "`peer` applies to `exit` spans only: add `exit`",
            )),
            _ => {}
        }
        if let (Kind::Local, Some((_, span))) = (kind, &self.headers) {
            errors.push(syn::Error::new(
                *span,
                "`headers` needs `entry` (read the caller's trace from them) or `exit` \
                 (write the trace into a `&mut` carrier)",
            ));
        }
        if let Some((_, span)) = self.err
            && let Err(found) = shape.returns_result()
        {
            errors.push(syn::Error::new(
                span,
                format!(
                    "`err` needs a function returning a `Result` (a type whose last path \
                     segment is `Result` or ends in `Result`, such as `io::Result<T>`); \
                     {found}"
                ),
            ));
        }
        if let Some(error) = errors.into_iter().reduce(|mut all, next| {
            all.combine(next);
            all
        }) {
            return Err(error);
        }
        Ok(TraceArgs {
            name: self.name.map(|(name, _)| name),
            kind,
            peer: self.peer.map(|(peer, _)| peer),
            layer: self.layer.map(|(layer, _)| layer),
            component: self.component.map(|(component, _)| component),
            tags: self.tags.map(|(tags, _)| tags).unwrap_or_default(),
            err: self.err.map(|(_, span)| span),
            headers: self.headers.map(|(headers, _)| headers),
            skip_if: self.skip_if.map(|(skip, _)| skip),
            krate: self.krate.map(|(path, _)| path),
        })
    }
}
