//! The `options!` macro, which turns the table in `options.rs` into the [`Config`] type,
//! and the small traits its expansion uses.
//!
//! One row of the table:
//!
//! ```text
//! field: Type = default, "shown", ["SW_VAR", "SW_ALIAS"], parser "accepted form", get(..), set(..), "Meaning.";
//! ```
//!
//! - `field: Type = default`: the `pub(crate)` field of [`Config`] and its value in
//!   `Config::default()` (a constant of `settings`, for the named defaults);
//! - `"shown"`: the default as the doc table shows it, written as a value of the variable
//!   (`"30"` for 30 s); a test parses it and compares it with `default`. `_` for none;
//! - the variables, first name first: the first one set (non-empty) wins, and the error
//!   names the one that held the value. `[]` for an option only the builder sets;
//! - `parser`: a function of [`parse`](super::parse), `fn(&str) -> Option<T>`, and the
//!   accepted form that [`Error::Config`](crate::Error::Config) and the doc table show;
//! - `get(name -> Out)`: a getter on [`Config`], or `get()` for none;
//! - `set(name(param: Arg))`: a setter on [`AgentBuilder`], or `set(name(param: list))`
//!   for the `I: IntoIterator<Item = S>, S: Into<String>` form, or `set()` when the
//!   setter is written by hand (or there is none);
//! - the meaning: a sentence for the doc table, the getter and the setter.
//!
//! Values move into fields through [`Take`] and out of getters through [`View`], so the
//! row only names the types.
//!
//! [`Config`]: super::Config
//! [`AgentBuilder`]: crate::AgentBuilder

use std::path::PathBuf;
use std::time::Duration;

use super::parse::{Protocol, Secret};
use crate::diag::Level;
use crate::logs::LogLevel;

/// What the table says about one option, for messages that name it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Meta {
    /// The field (and, for builder-only options, the setter).
    pub(crate) field: &'static str,
    /// The variables, first name first.
    pub(crate) vars: &'static [&'static str],
    /// The accepted form, as errors show it.
    pub(crate) form: &'static str,
}

impl Meta {
    /// The main variable, or the field of an option only the builder sets.
    pub(crate) fn name(&self) -> &'static str {
        self.vars.first().copied().unwrap_or(self.field)
    }
}

/// How a parsed value or a setter's argument becomes a field.
pub(crate) trait Take<A> {
    fn take(value: A) -> Self;
}

/// How a getter reads a field.
pub(crate) trait View<'a, Out> {
    fn view(&'a self) -> Out;
}

impl<A: Into<String>> Take<A> for String {
    fn take(value: A) -> Self {
        value.into()
    }
}

impl<A: Into<String>> Take<A> for Option<String> {
    fn take(value: A) -> Self {
        Some(value.into())
    }
}

impl<A: Into<String>> Take<A> for Option<Secret> {
    fn take(value: A) -> Self {
        Some(Secret::from(value.into()))
    }
}

impl<A: Into<PathBuf>> Take<A> for Option<PathBuf> {
    fn take(value: A) -> Self {
        Some(value.into())
    }
}

impl Take<Vec<String>> for Vec<String> {
    fn take(value: Vec<String>) -> Self {
        value
    }
}

impl Take<Vec<(String, String)>> for Vec<(String, String)> {
    fn take(value: Vec<(String, String)>) -> Self {
        value
    }
}

impl<'a> View<'a, &'a [(String, String)]> for Vec<(String, String)> {
    fn view(&'a self) -> &'a [(String, String)] {
        self
    }
}

impl<'a> View<'a, &'a str> for String {
    fn view(&'a self) -> &'a str {
        self
    }
}

impl<'a> View<'a, Option<&'a str>> for Option<String> {
    fn view(&'a self) -> Option<&'a str> {
        self.as_deref()
    }
}

impl<'a> View<'a, &'a [String]> for Vec<String> {
    fn view(&'a self) -> &'a [String] {
        self
    }
}

/// Whether the secret is set: the token itself is not readable back.
impl View<'_, bool> for Option<Secret> {
    fn view(&self) -> bool {
        self.is_some()
    }
}

macro_rules! copy_values {
    ($($t:ty),*) => {$(
        impl Take<$t> for $t {
            fn take(value: $t) -> Self {
                value
            }
        }

        impl View<'_, $t> for $t {
            fn view(&self) -> $t {
                *self
            }
        }
    )*};
}

copy_values!(usize, u32, f64, bool, Duration, Level, LogLevel, Protocol);

/// Declares [`Config`](super::Config) from the table of options; see the module docs.
macro_rules! options {
    (
        $(#[$head:meta])*
        table {$(
            $field:ident: $ty:ty = $default:expr, $shown:tt, [$($var:literal),*],
            $parser:ident $form:literal, get($($get:tt)*), set($($set:tt)*), $meaning:literal;
        )*}
        $(#[$tail:meta])*
    ) => {
        $(#[$head])*
        $(
            #[doc = concat!(
                "| ", $crate::config::macros::options!(@vars [$($var),*]),
                " | ", $crate::config::macros::options!(@shown $shown),
                " | ", $form, " | ", $meaning, " |"
            )]
        )*
        $(#[$tail])*
        #[derive(Clone)]
        #[must_use]
        pub struct Config {$(
            #[doc = $meaning]
            pub(crate) $field: $ty,
        )*}

        impl ::core::default::Default for Config {
            /// The defaults, without reading the environment.
            fn default() -> Self {
                Config {
                    $($field: $default,)*
                }
            }
        }

        // The token is a `Secret`, whose `Debug` hides it.
        impl ::core::fmt::Debug for Config {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct("Config")
                    $(.field(stringify!($field), &self.$field))*
                    .finish()
            }
        }

        /// The variables and accepted form of every option, by field.
        #[derive(Clone, Copy, Debug)]
        pub(crate) struct Options {
            $(pub(crate) $field: $crate::config::macros::Meta,)*
        }

        /// The variables and accepted form of every option.
        pub(crate) const OPTIONS: Options = Options {$(
            $field: $crate::config::macros::Meta {
                field: stringify!($field),
                vars: &[$($var),*],
                form: $form,
            },
        )*};

        impl Config {
            /// Every environment variable the configuration reads (main names, then
            /// their aliases), in the order of the table above.
            ///
            /// ```
            /// use skywalking_runtime::Config;
            ///
            /// assert!(Config::VARIABLES.contains(&"SW_AGENT_COLLECTOR_BACKEND_SERVICES"));
            /// ```
            pub const VARIABLES: &'static [&'static str] = &[$($($var,)*)*];

            /// Overrides every option whose variable is set, in table order.
            pub(super) fn read_env<F: FnMut(&str) -> Option<String>>(
                &mut self,
                env: &mut $crate::config::Reader<F>,
            ) -> ::core::result::Result<(), $crate::error::Error> {
                $(
                    if let Some(value) =
                        env.parse(&OPTIONS.$field, $crate::config::parse::$parser)?
                    {
                        self.$field = $crate::config::macros::Take::take(value);
                    }
                )*
                Ok(())
            }

            $(
                $crate::config::macros::options!(
                    @get $field [$($var),*] $form $shown $meaning ($($get)*)
                );
            )*
        }

        impl $crate::AgentBuilder {$(
            $crate::config::macros::options!(
                @set $field $ty, [$($var),*] $form $shown $meaning ($($set)*)
            );
        )*}

        /// Checks that every shown default is the real one, and that no variable is
        /// declared twice.
        #[cfg(test)]
        pub(super) fn check_the_table() {
            let config = Config::default();
            $(
                $crate::config::macros::options!(
                    @check config $field $ty, $parser $shown
                );
            )*
            let vars: &[&str] = &[$($($var,)*)*];
            for (i, var) in vars.iter().enumerate() {
                assert!(!vars[..i].contains(var), "{var} is declared twice");
            }
        }
    };

    // The variable cell: the main name, then its aliases.
    (@vars []) => { "none (builder only)" };
    (@vars [$first:literal $(, $alias:literal)*]) => {
        concat!("`", $first, "`" $(, " (also `", $alias, "`)")*)
    };

    // The default cell.
    (@shown _) => { "none" };
    (@shown $value:literal) => { concat!("`", $value, "`") };

    // The line of a getter's or setter's docs naming the variable and the default.
    (@env [] $form:literal $shown:tt) => {
        concat!(
            "No environment variable; default ",
            $crate::config::macros::options!(@shown $shown), " (", $form, ")."
        )
    };
    (@env [$($var:literal),+] $form:literal $shown:tt) => {
        concat!(
            "Environment: ", $crate::config::macros::options!(@vars [$($var),+]),
            ", as ", $form, "; default ", $crate::config::macros::options!(@shown $shown), "."
        )
    };

    (@get $field:ident $vars:tt $form:literal $shown:tt $meaning:literal ()) => {};
    (@get $field:ident $vars:tt $form:literal $shown:tt $meaning:literal
        ($name:ident -> $out:ty)) => {
        #[doc = $meaning]
        #[doc = ""]
        #[doc = $crate::config::macros::options!(@env $vars $form $shown)]
        pub fn $name(&self) -> $out {
            $crate::config::macros::View::view(&self.$field)
        }
    };

    (@set $field:ident $ty:ty, $vars:tt $form:literal $shown:tt $meaning:literal ()) => {};
    (@set $field:ident $ty:ty, $vars:tt $form:literal $shown:tt $meaning:literal
        ($name:ident($param:ident: list))) => {
        #[doc = $meaning]
        #[doc = ""]
        #[doc = $crate::config::macros::options!(@env $vars $form $shown)]
        pub fn $name<I, S>(self, $param: I) -> Self
        where
            I: IntoIterator<Item = S>,
            S: Into<String>,
        {
            let value: $ty = $param.into_iter().map(Into::into).collect();
            self.set(move |config| config.$field = value)
        }
    };
    (@set $field:ident $ty:ty, $vars:tt $form:literal $shown:tt $meaning:literal
        ($name:ident($param:ident: $arg:ty))) => {
        #[doc = $meaning]
        #[doc = ""]
        #[doc = $crate::config::macros::options!(@env $vars $form $shown)]
        pub fn $name(self, $param: $arg) -> Self {
            let value: $ty = $crate::config::macros::Take::take($param);
            self.set(move |config| config.$field = value)
        }
    };

    (@check $config:ident $field:ident $ty:ty, $parser:ident _) => {};
    (@check $config:ident $field:ident $ty:ty, $parser:ident $shown:literal) => {
        let shown: Option<$ty> =
            $crate::config::parse::$parser($shown).map($crate::config::macros::Take::take);
        assert!(
            shown.as_ref() == Some(&$config.$field),
            "{}: the doc table shows `{}`, the default is {:?}",
            stringify!($field),
            $shown,
            $config.$field,
        );
    };
}

pub(crate) use options;
