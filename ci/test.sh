#!/usr/bin/env bash
# The whole test suite: formatting, lints, docs, unit + integration + doc tests,
# the no_std build, the examples, the firmware under QEMU, loom models and
# Miri. CI runs exactly this.
#
#   ./ci/test.sh                  everything
#   POLLEN_SKIP_MIRI=1 ./ci/test.sh   without Miri (no nightly needed)
#   LOOM_MAX_PREEMPTIONS=3 ./ci/test.sh   deeper loom search (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
step() { printf '\n==> %s (%ss)\n' "$*" "$((SECONDS - started))"; }

step setup
./ci/setup.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy -p pollen-core --no-default-features --all-targets -- -D warnings
cargo clippy -p pollen --no-default-features --all-targets -- -D warnings

step "cargo doc -D warnings (broken links, private items)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -p pollen-core -p pollen -p pollen-macros -p pollen-load -p pollen-jobs

step "tests (default features)"
cargo test --workspace
step "tests (pollen-core, std: panics caught)"
cargo test -p pollen-core --features std
step "tests (pollen-core, no alloc)"
cargo test -p pollen-core --no-default-features --tests

step "no_std, no alloc build for thumbv7em-none-eabihf"
cargo build -p pollen-core --no-default-features --target thumbv7em-none-eabihf

step "example: no_heap"
cargo run -q -p pollen-core --example no_heap

step "examples: the async patterns (each runs to its end)"
# Their tests ran above (`test = true` in std-reactor/Cargo.toml); this runs
# each program as a user would, briefly.
cargo run -q -p pollen --example task_per_connection
cargo run -q -p pollen --example bank
cargo run -q -p pollen --example log_analyzer
cargo run -q -p pollen --example fetcher
cargo run -q -p pollen --example supervisor
cargo run -q -p pollen --example dashboard -- --seconds 1

# The README's run command, pollen-chat, is checked end to end by its own
# integration tests above (the real binary: banner, two clients, Ctrl-C).
step "pollen-echo self-test"
cargo run -q -p pollen-echo -- test

step "firmware on a Cortex-M3 under QEMU (apps/firmware)"
(
  cd apps/firmware
  cargo fmt -- --check
  cargo clippy -q --release -- -D warnings
  timeout 300 cargo run -q --release
)

step "loom models (LOOM_MAX_PREEMPTIONS=${LOOM_MAX_PREEMPTIONS:-2})"
# Internal models live in pollen-core's unit tests, public-API ones in
# loom-tests/. (Core's integration tests use `static` executors, which loom's
# non-const atomics cannot build.)
# Release builds for speed, with debug assertions on: the state machine's
# invariants are `debug_assert!`s, and loom should check them too.
export LOOM_MAX_PREEMPTIONS=${LOOM_MAX_PREEMPTIONS:-2}
export CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=true
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test --release -p pollen-core --lib
# StdPark's protocol (feature std): an unpark racing the parker's sleep.
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test --release -p pollen-core --features std --lib executor::park
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test --release -p pollen-loom-tests
# The std runtime's park protocol (a cross-thread wake racing the reactor's
# sleep), with the poller modelled, and the blocking pool's hand-off (spawns
# racing a worker going idle, each other, a retiring worker and shutdown),
# with its queue and keep-alive clock modelled; the multi-thread
# scheduler's hand-offs (a steal racing a wake, a thief taking the LIFO
# slot, a worker parking while work is pushed, shutdown racing a wake),
# with its queues modelled.
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test --release -p pollen --lib -- io::park blocking::loom_tests runtime::multi_thread runtime::pages

if [ "${POLLEN_SKIP_MIRI:-0}" != 1 ]; then
  step "miri (pollen-core)"
  MIRIFLAGS="${MIRIFLAGS:--Zmiri-strict-provenance}" cargo +nightly miri test -p pollen-core --features std --lib --tests
  step "miri (pollen: the task registry's and task pages' unsafe, which need no system calls)"
  MIRIFLAGS="${MIRIFLAGS:--Zmiri-strict-provenance}" cargo +nightly miri test -p pollen --lib -- runtime::tasks runtime::pages
fi

step "all passed"
