#!/bin/sh
# Counts pollen-chat's and chat-tokio's instructions for the chat load test
# under callgrind: the same broker design on both runtimes, one worker
# thread each, so the counts compare the code, not the scheduling.
#
#   bench/profile/chat-callgrind.sh [OUT_DIR]
#
# Environment: CLIENTS (default 100), MESSAGES (default 20),
# CARGO_TARGET_DIR. Builds both servers (release profile, with line
# tables), runs each under callgrind with 1024-line inboxes, drives it with
# chat_drive.py (every client sends MESSAGES lines at once and reads the
# others'), stops it with SIGTERM and prints its instruction total.
# OUT_DIR (default: profile/ in the target directory) keeps the callgrind
# files, SERVER.chat.callgrind, for callgrind_annotate.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
clients=${CLIENTS:-100}
messages=${MESSAGES:-20}

cd "$here/../.."
target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
out=${1:-$target_dir/profile}
mkdir -p "$out"
cargo build --release -p pollen-chat -p pollen-bench --bin pollen-chat --bin chat-tokio

for server in pollen-chat chat-tokio; do
    name=$out/$server.chat
    # pollen-chat logs joins and departures unless told not to; chat-tokio
    # logs nothing.
    quiet=""
    [ "$server" = pollen-chat ] && quiet=--quiet
    rm -f "$name.callgrind" "$name.stdout"
    valgrind --tool=callgrind --callgrind-out-file="$name.callgrind" \
        "$target_dir/release/$server" --addr 127.0.0.1:0 --threads 1 --inbox 1024 $quiet \
        >"$name.stdout" 2>"$name.valgrind.log" &
    pid=$!
    addr=""
    for _ in $(seq 100); do
        addr=$(sed -n 's/.*listening on //p' "$name.stdout")
        [ -n "$addr" ] && break
        sleep 0.1
    done
    if [ -z "$addr" ]; then
        kill -TERM "$pid"
        echo "$server printed no address; see $name.valgrind.log" >&2
        exit 1
    fi
    python3 "$here/chat_drive.py" "$addr" --clients "$clients" --messages "$messages"
    kill -TERM "$pid"
    wait "$pid" || true
    total=$(sed -n 's/.*Collected : //p' "$name.valgrind.log")
    deliveries=$((clients * (clients - 1) * messages))
    echo "$server: $total instructions, $((total / deliveries)) per delivery ($deliveries deliveries, start-up and joins included)"
done
