#!/usr/bin/env bash
# Installs what the test suite needs on a fresh machine; quick when present.
set -euo pipefail
rustup component add rustfmt clippy >/dev/null
rustup target add thumbv7em-none-eabihf thumbv7m-none-eabi >/dev/null
# The firmware example runs under QEMU.
if ! command -v qemu-system-arm >/dev/null; then
  if [ "$(id -u)" = 0 ]; then apt_get=apt-get; else apt_get="sudo apt-get"; fi
  $apt_get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $apt_get install -y -qq qemu-system-arm >/dev/null
fi
if [ "${POLLEN_SKIP_MIRI:-0}" != 1 ]; then
  rustup toolchain install nightly --profile minimal --component miri,rust-src >/dev/null
  cargo +nightly miri setup >/dev/null
fi
