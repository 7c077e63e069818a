//! The arguments of `#[pollen::main]` and `#[pollen::test]`, parsed and checked into a
//! [`Config`].
//!
//! Every argument has the form `name = value`:
//!
//! | argument         | value                                   | default                           |
//! |------------------|-----------------------------------------|-----------------------------------|
//! | `flavor`         | `"current_thread"` or `"multi_thread"`  | `main`: multi, `test`: current    |
//! | `worker_threads` | an integer literal, at least 1          | chosen by the runtime             |
//! | `start_paused`   | `true` or `false`                       | `false`                           |
//! | `crate`          | a path in a string: `"my_app::pollen"`  | `"::pollen"`                      |
//!
//! Parsing never stops at the first mistake: every bad argument gets its own error, spanned on
//! the argument's name or value, so one build shows all of them.

use proc_macro2::{Span, TokenStream};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, Lit, Meta, Token};

/// The argument names, as listed in the "unknown argument" error.
const ARGUMENTS: &str = "`flavor`, `worker_threads`, `start_paused` or `crate`";

/// Which of the two attributes is being expanded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    /// `#[pollen::main]`: builds a runtime and blocks on the body, any function name.
    Main,
    /// `#[pollen::test]`: the same, plus `#[test]`.
    Test,
}

/// The runtime a function runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// `flavor = "current_thread"`: everything runs on the thread that calls the function.
    CurrentThread,
    /// `flavor = "multi_thread"`: a pool of worker threads.
    MultiThread,
}

/// The checked arguments of one attribute.
pub(crate) struct Config {
    /// The runtime flavor, given or defaulted from the [`Entry`].
    pub(crate) flavor: Flavor,
    /// `worker_threads = N`, with the span of `N`; only ever set with [`Flavor::MultiThread`].
    pub(crate) worker_threads: Option<(usize, Span)>,
    /// `start_paused = true`, with the span of `true`; `None` when absent or `false`.
    pub(crate) start_paused: Option<Span>,
    /// The path the generated code names the `pollen` crate by: `::pollen` by default.
    pub(crate) crate_path: syn::Path,
}

/// Errors gathered while checking, combined into one [`syn::Error`] so that each one is
/// reported at its own span.
#[derive(Debug, Default)]
pub(crate) struct Errors(Option<syn::Error>);

// === impl Entry ===

impl Entry {
    /// The attribute as users write it, for error messages.
    pub(crate) fn attribute(self) -> &'static str {
        match self {
            Entry::Main => "#[pollen::main]",
            Entry::Test => "#[pollen::test]",
        }
    }

    /// The flavor used when no `flavor` argument is given: multi-thread for `main` (as a
    /// server would want), current-thread for `test` (deterministic and cheap to build).
    pub(crate) fn default_flavor(self) -> Flavor {
        match self {
            Entry::Main => Flavor::MultiThread,
            Entry::Test => Flavor::CurrentThread,
        }
    }
}

// === impl Flavor ===

impl Flavor {
    /// The flavor named `name`, as written in `flavor = "..."`.
    fn from_name(name: &str) -> Option<Self> {
        match name {
            "current_thread" => Some(Flavor::CurrentThread),
            "multi_thread" => Some(Flavor::MultiThread),
            _ => None,
        }
    }
}

// === impl Config ===

impl Config {
    /// Parses and checks the arguments `args` of the attribute `entry`.
    ///
    /// On failure the error holds one message per problem found.
    pub(crate) fn parse(entry: Entry, args: TokenStream) -> syn::Result<Config> {
        let metas = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args)?;

        let mut errors = Errors::default();
        let mut seen: Vec<syn::Ident> = Vec::new();
        let mut flavor: Option<Flavor> = None;
        let mut worker_threads: Option<(usize, Span)> = None;
        let mut worker_threads_name: Option<Span> = None;
        let mut start_paused: Option<Span> = None;
        let mut crate_path: Option<syn::Path> = None;

        for meta in metas {
            let Some(name) = meta.path().get_ident().cloned() else {
                errors.push(unknown_argument(meta.path()));
                continue;
            };
            let known = matches!(
                name.to_string().as_str(),
                "flavor" | "worker_threads" | "start_paused" | "crate"
            );
            if !known {
                errors.push(unknown_argument(&name));
                continue;
            }
            if seen.contains(&name) {
                errors.push(syn::Error::new(
                    name.span(),
                    format!("duplicate argument `{name}`: give it once"),
                ));
                continue;
            }
            seen.push(name.clone());

            let value = match meta {
                Meta::NameValue(name_value) => name_value.value,
                other => {
                    errors.push(syn::Error::new_spanned(
                        other,
                        format!("`{name}` needs a value: `{}`", example(&name)),
                    ));
                    continue;
                }
            };
            let parsed = match name.to_string().as_str() {
                "flavor" => parse_flavor(&value).map(|f| flavor = Some(f)),
                "worker_threads" => parse_worker_threads(&value).map(|n| {
                    worker_threads = Some(n);
                    worker_threads_name = Some(name.span());
                }),
                "start_paused" => parse_bool(&name, &value).map(|paused| {
                    start_paused = paused.then(|| value.span());
                }),
                _ => parse_crate_path(&value).map(|path| crate_path = Some(path)),
            };
            if let Err(error) = parsed {
                errors.push(error);
            }
        }

        let flavor_given = flavor.is_some();
        let flavor = flavor.unwrap_or(entry.default_flavor());
        if let (Flavor::CurrentThread, Some(name)) = (flavor, worker_threads_name) {
            let message = if flavor_given {
                "`worker_threads` cannot be used with `flavor = \"current_thread\"`, which runs \
                 everything on the calling thread; use `flavor = \"multi_thread\"` or remove \
                 `worker_threads`"
                    .to_owned()
            } else {
                format!(
                    "`worker_threads` needs `flavor = \"multi_thread\"`: `{}` uses a \
                     current-thread runtime by default",
                    entry.attribute()
                )
            };
            errors.push(syn::Error::new(name, message));
        }
        errors.finish()?;

        Ok(Config {
            flavor,
            worker_threads,
            start_paused,
            crate_path: crate_path.unwrap_or_else(|| syn::parse_quote!(::pollen)),
        })
    }
}

impl core::fmt::Debug for Config {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let crate_path = &self.crate_path;
        f.debug_struct("Config")
            .field("flavor", &self.flavor)
            .field("worker_threads", &self.worker_threads.map(|(n, _)| n))
            .field("start_paused", &self.start_paused.is_some())
            .field("crate_path", &quote::quote!(#crate_path).to_string())
            .finish()
    }
}

// === impl Errors ===

impl Errors {
    /// Adds `error` to the ones already found.
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(errors) => errors.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// `Err` with every error pushed, or `Ok` if there were none.
    pub(crate) fn finish(self) -> syn::Result<()> {
        match self.0 {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

/// How argument `name` is written, for "needs a value" errors.
fn example(name: &syn::Ident) -> &'static str {
    match name.to_string().as_str() {
        "flavor" => "flavor = \"current_thread\"` or `flavor = \"multi_thread\"",
        "worker_threads" => "worker_threads = 4",
        "start_paused" => "start_paused = true",
        _ => "crate = \"path::to::pollen\"",
    }
}

/// The error for an argument that does not exist, spanned on its name.
fn unknown_argument<T: quote::ToTokens + ?Sized>(name: &T) -> syn::Error {
    let written = quote::quote!(#name).to_string().replace(' ', "");
    syn::Error::new_spanned(
        name,
        format!("unknown argument `{written}`; the arguments are {ARGUMENTS}"),
    )
}

/// `flavor = "current_thread" | "multi_thread"`.
fn parse_flavor(value: &Expr) -> syn::Result<Flavor> {
    let Expr::Lit(ExprLit {
        lit: Lit::Str(lit), ..
    }) = value
    else {
        return Err(syn::Error::new_spanned(
            value,
            "`flavor` takes a string: `flavor = \"current_thread\"` or \
             `flavor = \"multi_thread\"`",
        ));
    };
    Flavor::from_name(&lit.value()).ok_or_else(|| {
        syn::Error::new(
            lit.span(),
            format!(
                "unknown runtime flavor `{}`; the flavors are `\"current_thread\"` and \
                 `\"multi_thread\"`",
                lit.value()
            ),
        )
    })
}

/// `worker_threads = N`, `N` an integer literal of at least 1 (unsuffixed or `usize`).
fn parse_worker_threads(value: &Expr) -> syn::Result<(usize, Span)> {
    let Expr::Lit(ExprLit {
        lit: Lit::Int(lit), ..
    }) = value
    else {
        return Err(syn::Error::new_spanned(
            value,
            "`worker_threads` takes an integer literal, such as `worker_threads = 4`",
        ));
    };
    if !matches!(lit.suffix(), "" | "usize") {
        return Err(syn::Error::new(
            lit.span(),
            format!(
                "`worker_threads` is a `usize`; remove the `{}` suffix",
                lit.suffix()
            ),
        ));
    }
    let threads: usize = lit
        .base10_parse()
        .map_err(|error| syn::Error::new(lit.span(), format!("`worker_threads`: {error}")))?;
    if threads == 0 {
        return Err(syn::Error::new(
            lit.span(),
            "`worker_threads` must be at least 1",
        ));
    }
    Ok((threads, lit.span()))
}

/// `start_paused = true | false`.
fn parse_bool(name: &syn::Ident, value: &Expr) -> syn::Result<bool> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Bool(lit),
            ..
        }) => Ok(lit.value),
        _ => Err(syn::Error::new_spanned(
            value,
            format!("`{name}` takes `true` or `false`"),
        )),
    }
}

/// `crate = "path::to::pollen"`.
fn parse_crate_path(value: &Expr) -> syn::Result<syn::Path> {
    let Expr::Lit(ExprLit {
        lit: Lit::Str(lit), ..
    }) = value
    else {
        return Err(syn::Error::new_spanned(
            value,
            "`crate` takes a path in a string, such as `crate = \"my_app::pollen\"`",
        ));
    };
    // The path's tokens carry the string's span, so errors resolving it point at the string.
    lit.parse_with(syn::Path::parse_mod_style).map_err(|error| {
        syn::Error::new(
            lit.span(),
            format!(
                "`crate` takes a path such as `\"::pollen\"` or `\"my_app::pollen\"`, \
                 not `{}`: {error}",
                lit.value()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `args` (Rust source) for `entry`.
    fn parse(entry: Entry, args: &str) -> syn::Result<Config> {
        Config::parse(entry, args.parse().expect("arguments are valid tokens"))
    }

    /// The messages of every error `args` produce, each with the source text it points at.
    fn errors(entry: Entry, args: &str) -> Vec<(String, String)> {
        let error = parse(entry, args).expect_err("the arguments are wrong");
        error
            .into_iter()
            .map(|error| {
                let text = error.span().source_text().unwrap_or_default();
                (error.to_string(), text)
            })
            .collect()
    }

    /// The single error `args` produce, with the source text it points at.
    fn error(entry: Entry, args: &str) -> (String, String) {
        let mut all = errors(entry, args);
        assert_eq!(all.len(), 1, "one error expected, got {all:?}");
        all.remove(0)
    }

    fn path(config: &Config) -> String {
        let path = &config.crate_path;
        quote::quote!(#path).to_string()
    }

    #[test]
    fn main_defaults_to_multi_thread() {
        let config = parse(Entry::Main, "").unwrap();
        assert_eq!(config.flavor, Flavor::MultiThread);
        assert!(config.worker_threads.is_none());
        assert!(config.start_paused.is_none());
        assert_eq!(path(&config), ":: pollen");
    }

    #[test]
    fn test_defaults_to_current_thread() {
        let config = parse(Entry::Test, "").unwrap();
        assert_eq!(config.flavor, Flavor::CurrentThread);
        assert!(config.worker_threads.is_none());
        assert!(config.start_paused.is_none());
        assert_eq!(path(&config), ":: pollen");
    }

    #[test]
    fn flavor_is_parsed() {
        let config = parse(Entry::Main, r#"flavor = "current_thread""#).unwrap();
        assert_eq!(config.flavor, Flavor::CurrentThread);
        let config = parse(Entry::Test, r#"flavor = "multi_thread""#).unwrap();
        assert_eq!(config.flavor, Flavor::MultiThread);
    }

    #[test]
    fn worker_threads_is_parsed() {
        let config = parse(Entry::Main, "worker_threads = 4").unwrap();
        assert_eq!(config.worker_threads.map(|(n, _)| n), Some(4));
        let config = parse(
            Entry::Test,
            r#"flavor = "multi_thread", worker_threads = 2usize,"#,
        )
        .unwrap();
        assert_eq!(config.flavor, Flavor::MultiThread);
        assert_eq!(config.worker_threads.map(|(n, _)| n), Some(2));
    }

    #[test]
    fn start_paused_is_set_only_when_true() {
        let config = parse(Entry::Test, "start_paused = true").unwrap();
        assert!(config.start_paused.is_some());
        let config = parse(Entry::Test, "start_paused = false").unwrap();
        assert!(config.start_paused.is_none());
    }

    #[test]
    fn crate_path_is_parsed() {
        let config = parse(Entry::Main, r#"crate = "my_app::reexports::pollen""#).unwrap();
        assert_eq!(path(&config), "my_app :: reexports :: pollen");
        let config = parse(Entry::Test, r#"crate = "::other""#).unwrap();
        assert_eq!(path(&config), ":: other");
    }

    #[test]
    fn all_arguments_together() {
        let config = parse(
            Entry::Main,
            r#"flavor = "multi_thread", worker_threads = 8, start_paused = true, crate = "x::pollen""#,
        )
        .unwrap();
        assert_eq!(config.flavor, Flavor::MultiThread);
        assert_eq!(config.worker_threads.map(|(n, _)| n), Some(8));
        assert!(config.start_paused.is_some());
        assert_eq!(path(&config), "x :: pollen");
    }

    #[test]
    fn unknown_argument_is_named_and_the_valid_ones_listed() {
        let (message, at) = error(Entry::Main, "flavour = \"multi_thread\"");
        assert_eq!(
            message,
            "unknown argument `flavour`; the arguments are `flavor`, `worker_threads`, \
             `start_paused` or `crate`"
        );
        assert_eq!(at, "flavour");

        let (message, at) = error(Entry::Test, "core_threads = 2");
        assert!(message.starts_with("unknown argument `core_threads`"));
        assert_eq!(at, "core_threads");

        let (message, at) = error(Entry::Test, "a::b = 2");
        assert!(message.starts_with("unknown argument `a::b`"));
        assert_eq!(at, "a::b");
    }

    #[test]
    fn unknown_flavor_lists_the_valid_ones() {
        let (message, at) = error(Entry::Main, r#"flavor = "multi-thread""#);
        assert_eq!(
            message,
            "unknown runtime flavor `multi-thread`; the flavors are `\"current_thread\"` and \
             `\"multi_thread\"`"
        );
        assert_eq!(at, r#""multi-thread""#);
    }

    #[test]
    fn flavor_must_be_a_string() {
        let (message, at) = error(Entry::Main, "flavor = current_thread");
        assert!(message.starts_with("`flavor` takes a string"), "{message}");
        assert_eq!(at, "current_thread");
    }

    #[test]
    fn worker_threads_with_current_thread_is_refused() {
        let (message, at) = error(
            Entry::Main,
            r#"flavor = "current_thread", worker_threads = 2"#,
        );
        assert!(
            message
                .starts_with("`worker_threads` cannot be used with `flavor = \"current_thread\"`"),
            "{message}"
        );
        assert_eq!(at, "worker_threads");
    }

    #[test]
    fn worker_threads_in_a_test_needs_multi_thread() {
        let (message, at) = error(Entry::Test, "worker_threads = 2");
        assert_eq!(
            message,
            "`worker_threads` needs `flavor = \"multi_thread\"`: `#[pollen::test]` uses a \
             current-thread runtime by default"
        );
        assert_eq!(at, "worker_threads");
    }

    #[test]
    fn worker_threads_zero_is_refused() {
        let (message, at) = error(Entry::Main, "worker_threads = 0");
        assert_eq!(message, "`worker_threads` must be at least 1");
        assert_eq!(at, "0");
    }

    #[test]
    fn worker_threads_must_be_an_integer_literal() {
        let (message, at) = error(Entry::Main, "worker_threads = \"4\"");
        assert!(message.starts_with("`worker_threads` takes an integer literal"));
        assert_eq!(at, "\"4\"");

        let (message, at) = error(Entry::Main, "worker_threads = N");
        assert!(message.starts_with("`worker_threads` takes an integer literal"));
        assert_eq!(at, "N");

        let (message, at) = error(Entry::Main, "worker_threads = 4u8");
        assert_eq!(
            message,
            "`worker_threads` is a `usize`; remove the `u8` suffix"
        );
        assert_eq!(at, "4u8");

        let (message, _) = error(Entry::Main, "worker_threads = 99999999999999999999999");
        assert!(message.starts_with("`worker_threads`: "), "{message}");
    }

    #[test]
    fn start_paused_must_be_a_bool() {
        let (message, at) = error(Entry::Test, "start_paused = 1");
        assert_eq!(message, "`start_paused` takes `true` or `false`");
        assert_eq!(at, "1");
        let (message, _) = error(Entry::Test, "start_paused = \"true\"");
        assert_eq!(message, "`start_paused` takes `true` or `false`");
    }

    #[test]
    fn crate_must_be_a_path_in_a_string() {
        let (message, at) = error(Entry::Main, "crate = my_app::pollen");
        assert!(
            message.starts_with("`crate` takes a path in a string"),
            "{message}"
        );
        assert_eq!(at, "my_app::pollen");

        let (message, at) = error(Entry::Main, r#"crate = "not a path""#);
        assert!(
            message.starts_with("`crate` takes a path such as `\"::pollen\"`"),
            "{message}"
        );
        assert!(message.contains("not `not a path`"), "{message}");
        assert_eq!(at, r#""not a path""#);
    }

    #[test]
    fn duplicate_argument_points_at_the_second() {
        let (message, at) = error(
            Entry::Main,
            r#"flavor = "multi_thread", start_paused = true, flavor = "current_thread""#,
        );
        assert_eq!(message, "duplicate argument `flavor`: give it once");
        let column = parse(Entry::Main, r#"flavor = "multi_thread", flavor = "x""#)
            .unwrap_err()
            .span()
            .start()
            .column;
        assert_eq!(column, 25, "the second `flavor`");
        assert_eq!(at, "flavor");
    }

    #[test]
    fn argument_without_value_shows_how_to_write_it() {
        let (message, at) = error(Entry::Test, "start_paused");
        assert_eq!(
            message,
            "`start_paused` needs a value: `start_paused = true`"
        );
        assert_eq!(at, "start_paused");

        let (message, at) = error(Entry::Main, "worker_threads(4)");
        assert_eq!(
            message,
            "`worker_threads` needs a value: `worker_threads = 4`"
        );
        assert_eq!(at, "worker_threads(4)");
    }

    #[test]
    fn every_mistake_is_reported() {
        let all = errors(
            Entry::Test,
            r#"flavor = "fast", worker_threads = 0, turbo = true, start_paused = 3"#,
        );
        let at: Vec<&str> = all.iter().map(|(_, at)| at.as_str()).collect();
        assert_eq!(at, ["\"fast\"", "0", "turbo", "3"]);
    }

    #[test]
    fn malformed_arguments_are_a_syntax_error() {
        let error = parse(Entry::Main, "flavor = ").unwrap_err();
        assert!(!error.to_string().is_empty());
        let error = parse(Entry::Main, "flavor = \"multi_thread\" worker_threads = 2").unwrap_err();
        assert!(!error.to_string().is_empty());
    }
}
