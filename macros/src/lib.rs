//! The `#[pollen::main]` and `#[pollen::test]` attributes. Use them through
//! the `pollen` crate, which re-exports them.
