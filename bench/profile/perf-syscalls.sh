#!/bin/sh
# Counts the minimal echo servers' system calls and CPU time per request,
# natively (no valgrind), with perf's tracepoints: a cross-check of
# callgrind.sh's counts where the machine has no hardware counters for
# `perf stat -e cycles,instructions`.
#
#   bench/profile/perf-syscalls.sh
#
# Environment: SERVERS, SHAPES, CARGO_TARGET_DIR as for callgrind.sh.
# drive.py is the client, slower than the bench's load generator, so the
# server waits for it more often (fewer events per epoll_wait).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
servers=${SERVERS:-echo-pollen echo-tokio echo-mio}
shapes=${SHAPES:-50x2000 1x20000}
events=task-clock,raw_syscalls:sys_enter,syscalls:sys_enter_epoll_wait
events=$events,syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendto,syscalls:sys_enter_write

cd "$here/../.."
target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
bins=""
for server in $servers; do bins="$bins --bin $server"; done
# shellcheck disable=SC2086 # one word per flag
cargo build --release -p pollen-bench $bins
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for shape in $shapes; do
    connections=${shape%x*} trips=${shape#*x}
    requests=$((connections * trips))
    echo "$connections connections x $trips round trips: per request"
    for server in $servers; do
        "$target_dir/release/$server" --addr 127.0.0.1:0 >"$tmp/stdout" &
        pid=$!
        addr=""
        for _ in $(seq 50); do
            addr=$(sed -n 's/.*listening on //p' "$tmp/stdout")
            [ -n "$addr" ] && break
            sleep 0.1
        done
        perf stat -x, -e "$events" -p "$pid" -o "$tmp/perf" &
        perf=$!
        sleep 0.5
        python3 "$here/drive.py" "$addr" --connections "$connections" --round-trips "$trips" \
            2>/dev/null
        sleep 0.2
        kill -INT "$perf"
        wait "$perf" || true
        kill -TERM "$pid"
        wait "$pid" 2>/dev/null || true
        awk -F, -v server="$server" -v n="$requests" '
            /^#/ || NF < 3 { next }
            { name = $3; sub(/^(raw_)?syscalls:sys_enter_?/, "", name); if (name == "") name = "syscalls"
              if ($3 == "task-clock") out = out sprintf("  task-clock %.2f us", $1 * 1000 / n)
              else out = out sprintf("  %s %.3f", name, $1 / n) }
            END { printf "  %-12s%s\n", server, out }' "$tmp/perf"
    done
done
