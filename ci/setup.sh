#!/usr/bin/env bash
# Installs what the test suite needs on a fresh machine; quick when present.
set -euo pipefail
rustup component add rustfmt clippy >/dev/null
rustup target add thumbv7em-none-eabihf >/dev/null
if [ "${POLLEN_SKIP_MIRI:-0}" != 1 ]; then
  rustup toolchain install nightly --profile minimal --component miri,rust-src >/dev/null
  cargo +nightly miri setup >/dev/null
fi
