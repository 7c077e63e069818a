//! Code generation: turns an `async fn` and its [`Config`] into a plain `fn` that builds a
//! runtime and blocks on the body.
//!
//! For `#[pollen::test(start_paused = true)] async fn t() -> R { body }` the output is
//!
//! ```text
//! #[::core::prelude::v1::test]
//! fn t() -> R {
//!     #[allow(clippy::expect_used, /* and the other lints generated code trips */)]
//!     {
//!         let runtime = ::pollen::runtime::Builder::new_current_thread()
//!             .enable_all()
//!             .start_paused(true)
//!             .build()
//!             .expect("pollen: failed to build the runtime");
//!         return runtime.block_on(async move { body });
//!     }
//! }
//! ```
//!
//! The body's tokens are passed through untouched, so errors in it point at the user's code.
//! `runtime.block_on(..)` is located at the body's last statement, so a value of the wrong type
//! is reported there rather than at the attribute; the builder chain keeps the attribute's
//! location, and a wrong `crate = "..."` path is reported at that string.
//!
//! When the attribute or the function is wrong, the output is the function made synchronous,
//! without parameters, with a body that is only the `compile_error!`s: the errors appear at
//! their own spans and nothing else (no "`main` cannot be async", no "cannot find function")
//! piles on.

use proc_macro2::{Ident, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::{AttrStyle, Attribute, ItemFn};

use crate::config::{Config, Entry, Errors, Flavor};

/// Expands `#[pollen::main]` or `#[pollen::test]` (`entry`) with arguments `args` on `item`.
///
/// Never fails: problems become `compile_error!`s in the output.
pub(crate) fn entry(entry: Entry, args: TokenStream, item: TokenStream) -> TokenStream {
    let function: ItemFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        Err(_) => {
            let error = syn::Error::new_spanned(
                &item,
                format!(
                    "`{}` can only be applied to an `async fn`",
                    entry.attribute()
                ),
            )
            .into_compile_error();
            return quote!(#error #item);
        }
    };

    match (Config::parse(entry, args), check_function(entry, &function)) {
        (Ok(config), Ok(())) => expand(entry, &config, function),
        (Err(error), Ok(())) | (Ok(_), Err(error)) => fallback(entry, function, &error),
        (Err(mut error), Err(function_error)) => {
            error.combine(function_error);
            fallback(entry, function, &error)
        }
    }
}

/// Checks what the attribute needs of the function itself.
fn check_function(entry: Entry, function: &ItemFn) -> syn::Result<()> {
    let mut errors = Errors::default();
    let sig = &function.sig;
    if sig.asyncness.is_none() {
        errors.push(syn::Error::new_spanned(
            sig.fn_token,
            format!(
                "the `async` keyword is missing from the function declaration: `{}` runs an \
                 `async fn`",
                entry.attribute()
            ),
        ));
    }
    if !sig.inputs.is_empty() || sig.variadic.is_some() {
        let message = match entry {
            Entry::Main => "the function under `#[pollen::main]` cannot take parameters",
            Entry::Test => "test functions cannot take parameters",
        };
        errors.push(syn::Error::new_spanned(&sig.inputs, message));
    }
    if entry == Entry::Test {
        for attribute in outer(&function.attrs).filter(|a| is_test_attribute(a)) {
            errors.push(syn::Error::new_spanned(
                attribute,
                "second test attribute: `#[pollen::test]` already makes the function a test; \
                 remove this attribute",
            ));
        }
    }
    errors.finish()
}

/// Whether `attribute` makes its function a test (`#[test]`, `#[core::prelude::v1::test]`,
/// another crate's `#[x::test]`), which would register the function twice.
fn is_test_attribute(attribute: &Attribute) -> bool {
    attribute
        .path()
        .segments
        .last()
        .is_some_and(|segment| segment.ident == "test")
}

/// The outer attributes of a function (syn also files the body's `#![...]` under `attrs`).
fn outer(attributes: &[Attribute]) -> impl Iterator<Item = &Attribute> {
    attributes
        .iter()
        .filter(|a| matches!(a.style, AttrStyle::Outer))
}

/// The inner attributes of a function: `#![...]` at the top of its body.
fn inner(attributes: &[Attribute]) -> impl Iterator<Item = &Attribute> {
    attributes
        .iter()
        .filter(|a| matches!(a.style, AttrStyle::Inner(_)))
}

/// The `#[test]` attribute to add, if `entry` is a test.
fn test_attribute(entry: Entry) -> TokenStream {
    match entry {
        Entry::Main => TokenStream::new(),
        Entry::Test => quote!(#[::core::prelude::v1::test]),
    }
}

/// The function rewritten to run its body on a runtime built from `config`.
fn expand(entry: Entry, config: &Config, function: ItemFn) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        mut sig,
        block,
    } = function;
    sig.asyncness = None;
    let outer_attributes = outer(&attrs);
    let inner_attributes = inner(&attrs);
    let test_attribute = test_attribute(entry);

    let crate_path = &config.crate_path;
    let mut builder = match config.flavor {
        Flavor::CurrentThread => quote!(#crate_path::runtime::Builder::new_current_thread()),
        Flavor::MultiThread => quote!(#crate_path::runtime::Builder::new_multi_thread()),
    };
    if let Some((threads, span)) = config.worker_threads {
        let mut threads = proc_macro2::Literal::usize_unsuffixed(threads);
        threads.set_span(span);
        builder.extend(quote!(.worker_threads(#threads)));
    }
    builder.extend(quote!(.enable_all()));
    if let Some(span) = config.start_paused {
        let paused = quote_spanned!(span=> true);
        builder.extend(quote!(.start_paused(#paused)));
    }

    // `runtime.block_on(body)` is located at the body's last statement, so that a body whose
    // value does not match the return type is reported there rather than at the attribute. Its
    // tokens keep the hygiene of the macro call, so lints treat them as generated code, and
    // `runtime` is hygienic (mixed-site), so the body cannot see it or have its own
    // `runtime` shadowed.
    let (first, last) = last_statement_spans(&block);
    let runtime = Ident::new("runtime", Span::mixed_site().located_at(first));
    let last = Span::call_site().located_at(last);
    // The explicit `return` makes a body that diverges (`-> !`) or ends in a statement behave
    // as it did in the `async fn`.
    let run = quote_spanned!(last=> return #runtime.block_on(async move #block););

    let body = quote! {
        #[allow(
            clippy::expect_used,
            clippy::diverging_sub_expression,
            clippy::needless_return,
            clippy::unwrap_in_result
        )]
        {
            let #runtime = #builder
                .build()
                .expect("pollen: failed to build the runtime");
            #run
        }
    };

    quote! {
        #(#outer_attributes)*
        #test_attribute
        #vis #sig {
            #(#inner_attributes)*
            #body
        }
    }
}

/// The spans of the first and last tokens of the body's last statement, or of the braces when
/// the body is empty.
fn last_statement_spans(block: &syn::Block) -> (Span, Span) {
    let Some(statement) = block.stmts.last() else {
        let braces = block.brace_token.span;
        return (braces.open(), braces.close());
    };
    let mut tokens = statement.to_token_stream().into_iter();
    let first = tokens.next().map_or_else(Span::call_site, |t| t.span());
    let last = tokens.last().map_or(first, |t: TokenTree| t.span());
    (first, last)
}

/// The function as it would be after a successful expansion, but with `error` for a body.
fn fallback(entry: Entry, function: ItemFn, error: &syn::Error) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        mut sig,
        ..
    } = function;
    sig.asyncness = None;
    // The parameters are either empty or the error: keeping them would only add "`main` has
    // the wrong type" or "tests cannot take arguments".
    sig.inputs.clear();
    sig.variadic = None;
    // A second test attribute is one of the possible errors: dropping it and adding ours
    // leaves exactly one, as the user meant.
    let outer_attributes = outer(&attrs).filter(|a| entry == Entry::Main || !is_test_attribute(a));
    let test_attribute = test_attribute(entry);
    let error = error.to_compile_error();
    quote! {
        #(#outer_attributes)*
        #test_attribute
        #vis #sig {
            #error
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expands `item` (Rust source) under `entry` with `args`, as a string.
    fn expand(entry: Entry, args: &str, item: &str) -> String {
        super::entry(entry, args.parse().unwrap(), item.parse().unwrap()).to_string()
    }

    /// `tokens` as a string, for comparing with an expansion.
    fn tokens(tokens: TokenStream) -> String {
        tokens.to_string()
    }

    /// Asserts that two token strings are equal up to whitespace (how `>>` and friends are
    /// spaced depends on whether they went through syn).
    #[track_caller]
    fn assert_same(expanded: &str, expected: &str) {
        let squeeze = |s: &str| s.split_whitespace().collect::<String>();
        assert_eq!(squeeze(expanded), squeeze(expected));
    }

    /// The generated body for a builder chain (up to `.build()`) and the user's block.
    fn body(builder: TokenStream, block: TokenStream) -> TokenStream {
        quote! {
            #[allow(
                clippy::expect_used,
                clippy::diverging_sub_expression,
                clippy::needless_return,
                clippy::unwrap_in_result
            )]
            {
                let runtime = #builder
                    .build()
                    .expect("pollen: failed to build the runtime");
                return runtime.block_on(async move #block);
            }
        }
    }

    /// The `compile_error!` messages in an expansion.
    fn messages(expansion: &str) -> Vec<String> {
        let tokens: TokenStream = expansion.parse().unwrap();
        let mut found = Vec::new();
        collect_messages(tokens, &mut found);
        found
    }

    fn collect_messages(tokens: TokenStream, found: &mut Vec<String>) {
        let mut after_compile_error = false;
        for token in tokens {
            match token {
                TokenTree::Ident(ident) => after_compile_error = ident == "compile_error",
                TokenTree::Group(group) if after_compile_error => {
                    let literal: syn::LitStr = syn::parse2(group.stream()).unwrap();
                    found.push(literal.value());
                    after_compile_error = false;
                }
                TokenTree::Group(group) => collect_messages(group.stream(), found),
                TokenTree::Punct(ref p) if p.as_char() == '!' => {}
                _ => after_compile_error = false,
            }
        }
    }

    #[test]
    fn main_defaults_to_multi_thread() {
        let expanded = expand(Entry::Main, "", "async fn main() { println!(\"hi\"); }");
        let body = body(
            quote!(::pollen::runtime::Builder::new_multi_thread().enable_all()),
            quote!({
                println!("hi");
            }),
        );
        let expected = quote! {
            fn main() {
                #body
            }
        };
        assert_same(&expanded, &tokens(expected));
    }

    #[test]
    fn test_defaults_to_current_thread_and_adds_test() {
        let expanded = expand(Entry::Test, "", "async fn works() { assert!(true); }");
        let body = body(
            quote!(::pollen::runtime::Builder::new_current_thread().enable_all()),
            quote!({
                assert!(true);
            }),
        );
        let expected = quote! {
            #[::core::prelude::v1::test]
            fn works() {
                #body
            }
        };
        assert_same(&expanded, &tokens(expected));
    }

    #[test]
    fn test_with_start_paused() {
        let expanded = expand(
            Entry::Test,
            "start_paused = true",
            "async fn paused() { sleep().await; }",
        );
        let body = body(
            quote!(
                ::pollen::runtime::Builder::new_current_thread()
                    .enable_all()
                    .start_paused(true)
            ),
            quote!({
                sleep().await;
            }),
        );
        let expected = quote! {
            #[::core::prelude::v1::test]
            fn paused() {
                #body
            }
        };
        assert_same(&expanded, &tokens(expected));
    }

    #[test]
    fn start_paused_appears_only_when_asked() {
        let item = "async fn t() {}";
        for args in ["", "start_paused = false", r#"flavor = "multi_thread""#] {
            assert!(
                !expand(Entry::Test, args, item).contains("start_paused"),
                "{args}"
            );
            assert!(
                !expand(Entry::Main, args, item).contains("start_paused"),
                "{args}"
            );
        }
        assert!(expand(Entry::Main, "start_paused = true", item).contains(". start_paused (true)"));
    }

    #[test]
    fn flavors_and_worker_threads() {
        let item = "async fn main() {}";
        let expanded = expand(Entry::Main, r#"flavor = "current_thread""#, item);
        assert!(expanded.contains(
            ":: pollen :: runtime :: Builder :: new_current_thread () . enable_all () . build ()"
        ));
        let expanded = expand(Entry::Test, r#"flavor = "multi_thread""#, item);
        assert!(expanded.contains(
            ":: pollen :: runtime :: Builder :: new_multi_thread () . enable_all () . build ()"
        ));
        let expanded = expand(Entry::Main, "worker_threads = 3usize", item);
        assert!(expanded.contains(
            ":: pollen :: runtime :: Builder :: new_multi_thread () . worker_threads (3) . \
             enable_all () . build ()"
        ));
        let expanded = expand(
            Entry::Test,
            r#"flavor = "multi_thread", worker_threads = 2, start_paused = true"#,
            item,
        );
        assert!(expanded.contains(
            "new_multi_thread () . worker_threads (2) . enable_all () . start_paused (true) . \
             build ()"
        ));
    }

    #[test]
    fn crate_path_replaces_pollen() {
        let expanded = expand(
            Entry::Main,
            r#"crate = "my_app::reexports::pollen""#,
            "async fn main() {}",
        );
        assert!(expanded.contains("my_app :: reexports :: pollen :: runtime :: Builder"));
        assert!(!expanded.contains("return :: pollen"));
    }

    #[test]
    fn return_type_attributes_and_visibility_are_kept() {
        let expanded = expand(
            Entry::Main,
            "",
            "/// Runs the server.\n\
             #[inline(never)]\n\
             pub(crate) async fn run() -> Result<(), Box<dyn std::error::Error>> {\n\
                 #![allow(unused_variables)]\n\
                 let x = load()?;\n\
                 Ok(())\n\
             }",
        );
        let body = body(
            quote!(::pollen::runtime::Builder::new_multi_thread().enable_all()),
            quote!({
                let x = load()?;
                Ok(())
            }),
        );
        let expected = quote! {
            #[doc = " Runs the server."]
            #[inline(never)]
            pub(crate) fn run() -> Result<(), Box<dyn std::error::Error>> {
                #![allow(unused_variables)]
                #body
            }
        };
        assert_same(&expanded, &tokens(expected));
    }

    #[test]
    fn test_attributes_are_kept_and_test_added_after_them() {
        let expanded = expand(
            Entry::Test,
            "",
            "#[should_panic(expected = \"boom\")] #[cfg_attr(miri, ignore)] async fn boom() -> u8 { panic!(\"boom\") }",
        );
        let start = expanded.find("fn boom () -> u8").unwrap();
        assert_eq!(
            &expanded[..start],
            tokens(quote! {
                #[should_panic(expected = "boom")]
                #[cfg_attr(miri, ignore)]
                #[::core::prelude::v1::test]
            }) + " "
        );
    }

    #[test]
    fn generics_where_clauses_and_unsafe_pass_through() {
        let expanded = expand(Entry::Main, "", "async unsafe fn f() -> impl Sized { 1 }");
        assert!(
            expanded.starts_with("unsafe fn f () -> impl Sized {"),
            "{expanded}"
        );
    }

    #[test]
    fn missing_async_is_an_error_at_fn() {
        let expanded = expand(Entry::Main, "", "fn main() {}");
        assert_eq!(
            messages(&expanded),
            [
                "the `async` keyword is missing from the function declaration: \
              `#[pollen::main]` runs an `async fn`"
            ]
        );
        let expanded = expand(Entry::Test, "", "fn t() {}");
        assert_eq!(
            messages(&expanded),
            [
                "the `async` keyword is missing from the function declaration: \
              `#[pollen::test]` runs an `async fn`"
            ]
        );
    }

    #[test]
    fn parameters_are_an_error() {
        let expanded = expand(Entry::Main, "", "async fn main(args: Vec<String>) {}");
        assert_eq!(
            messages(&expanded),
            ["the function under `#[pollen::main]` cannot take parameters"]
        );
        let expanded = expand(Entry::Test, "", "async fn t(x: u8) {}");
        assert_eq!(
            messages(&expanded),
            ["test functions cannot take parameters"]
        );
    }

    #[test]
    fn second_test_attribute_is_an_error() {
        for attribute in ["#[test]", "#[::core::prelude::v1::test]", "#[pollen::test]"] {
            let item = format!("{attribute} async fn t() {{}}");
            let expanded = expand(Entry::Test, "", &item);
            assert_eq!(
                messages(&expanded),
                [
                    "second test attribute: `#[pollen::test]` already makes the function a \
                  test; remove this attribute"
                ],
                "{attribute}"
            );
            // The fallback has exactly one test attribute, so nothing else is reported.
            assert!(
                expanded.starts_with("# [:: core :: prelude :: v1 :: test] fn t ()"),
                "{expanded}"
            );
        }
        // `cfg(test)` and friends are not tests.
        assert!(messages(&expand(Entry::Test, "", "#[cfg(test)] async fn t() {}")).is_empty());
    }

    #[test]
    fn argument_errors_are_reported_with_function_errors() {
        let expanded = expand(
            Entry::Test,
            "worker_threads = 0, speed = 2",
            "fn t(x: u8) {}",
        );
        assert_eq!(
            messages(&expanded),
            [
                "`worker_threads` must be at least 1",
                "unknown argument `speed`; the arguments are `flavor`, `worker_threads`, \
                 `start_paused` or `crate`",
                "the `async` keyword is missing from the function declaration: \
                 `#[pollen::test]` runs an `async fn`",
                "test functions cannot take parameters",
            ]
        );
    }

    #[test]
    fn fallback_is_the_function_made_sync_with_an_error_body() {
        let expanded = expand(
            Entry::Main,
            "flavor = \"fast\"",
            "/// Docs.\npub async fn main(x: u8) -> Result<(), E> { let y = 1; Ok(()) }",
        );
        let message = "unknown runtime flavor `fast`; the flavors are `\"current_thread\"` and \
                       `\"multi_thread\"`";
        let message2 = "the function under `#[pollen::main]` cannot take parameters";
        let expected = quote! {
            #[doc = " Docs."]
            pub fn main() -> Result<(), E> {
                ::core::compile_error! { #message }
                ::core::compile_error! { #message2 }
            }
        };
        assert_same(&expanded, &tokens(expected));

        let expanded = expand(Entry::Test, "worker_threads = 2", "async fn t() {}");
        assert!(
            expanded.starts_with(
                "# [:: core :: prelude :: v1 :: test] fn t () { :: core :: compile_error !"
            ),
            "{expanded}"
        );
    }

    #[test]
    fn not_a_function_is_an_error_and_the_item_is_kept() {
        let expanded = expand(Entry::Main, "", "struct S;");
        assert_eq!(
            messages(&expanded),
            ["`#[pollen::main]` can only be applied to an `async fn`"]
        );
        assert!(expanded.ends_with("struct S ;"), "{expanded}");
    }

    #[test]
    fn body_tokens_keep_their_spans() {
        let item: TokenStream = "async fn main() {\n    let value = compute();\n    value\n}"
            .parse()
            .unwrap();
        let expanded = super::entry(Entry::Main, TokenStream::new(), item);
        let found = find_ident(expanded, "compute");
        let start = found[0].start();
        assert_eq!((start.line, start.column), (2, 16));
    }

    /// The spans of every `name` in `tokens`, in order.
    fn find_ident(tokens: TokenStream, name: &str) -> Vec<Span> {
        let mut found = Vec::new();
        for token in tokens {
            match token {
                TokenTree::Ident(ident) if ident == name => found.push(ident.span()),
                TokenTree::Group(group) => found.extend(find_ident(group.stream(), name)),
                _ => {}
            }
        }
        found
    }

    #[test]
    fn block_on_is_located_at_the_last_statement() {
        let item: TokenStream = "async fn main() -> u8 {\n    let a = 1;\n    a + 1\n}"
            .parse()
            .unwrap();
        let expanded = super::entry(Entry::Main, TokenStream::new(), item);
        let block_on = find_ident(expanded.clone(), "block_on")[0].start();
        // `1`, the last token of `a + 1`.
        assert_eq!((block_on.line, block_on.column), (3, 8));
        // `let runtime`, the `runtime` of `::pollen::runtime::Builder`, `return runtime`.
        let runtime: Vec<_> = find_ident(expanded.clone(), "runtime")
            .iter()
            .map(|span| (span.start().line, span.start().column))
            .collect();
        assert_eq!(runtime.len(), 3);
        // The variable is at `a`, the first token of `a + 1`.
        assert_eq!((runtime[0], runtime[2]), ((3, 4), (3, 4)));
        // The builder is not moved: it is the macro's own code.
        assert_ne!(runtime[1].0, 3);
        let builder = find_ident(expanded, "new_multi_thread")[0].start();
        assert_ne!(builder.line, 3);
    }

    #[test]
    fn error_spans_point_at_the_offending_tokens() {
        let item: TokenStream = "fn t(x: u8) {}".parse().unwrap();
        let function: ItemFn = syn::parse2(item).unwrap();
        let error = check_function(Entry::Test, &function).unwrap_err();
        let at: Vec<String> = error
            .into_iter()
            .map(|e| e.span().source_text().unwrap())
            .collect();
        assert_eq!(at, ["fn", "x: u8"]);

        let item: TokenStream = "#[test]\nasync fn t() {}".parse().unwrap();
        let function: ItemFn = syn::parse2(item).unwrap();
        let error = check_function(Entry::Test, &function).unwrap_err();
        assert_eq!(error.span().source_text().unwrap(), "#[test]");
    }
}
