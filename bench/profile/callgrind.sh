#!/bin/sh
# Counts the minimal echo servers' instructions per request under callgrind.
#
#   bench/profile/callgrind.sh [OUT_DIR]
#
# Environment: SERVERS (default "echo-pollen echo-tokio echo-mio"), SHAPES
# (default "50x2000 1x20000": connections x round trips per connection),
# CARGO_TARGET_DIR. Builds the servers (release profile: optimised, with
# line tables), then, for each shape and server, runs the server under
# callgrind twice, driven by drive.py: once with one round trip per
# connection (the baseline: start-up, accepts, closes, exit) and once with
# the shape's round trips; report.py prints the difference over the extra
# round trips. OUT_DIR (default: profile/ in the target directory) keeps
# the callgrind files, named SERVER.CONNECTIONS.ROUND_TRIPS.callgrind, for
# callgrind_annotate.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
servers=${SERVERS:-echo-pollen echo-tokio echo-mio}
shapes=${SHAPES:-50x2000 1x20000}

cd "$here/../.."
target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
out=${1:-$target_dir/profile}
mkdir -p "$out"
bins=""
for server in $servers; do bins="$bins --bin $server"; done
# shellcheck disable=SC2086 # one word per flag
cargo build --release -p pollen-bench $bins

# Runs $1 under callgrind with $2 connections doing $3 round trips each.
profile() {
    # No `local` in POSIX sh: names of their own.
    p_server=$1 p_connections=$2 p_trips=$3
    name=$out/$p_server.$p_connections.$p_trips
    rm -f "$name.callgrind" "$name.stdout"
    # --collect-systime=nsec adds system-call counts (sysCount) and times.
    # The servers handle no signals, so SIGTERM ends them, and callgrind
    # writes its file as they go.
    valgrind --tool=callgrind --collect-systime=nsec \
        --callgrind-out-file="$name.callgrind" \
        "$target_dir/release/$p_server" --addr 127.0.0.1:0 \
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
        echo "$p_server printed no address; see $name.valgrind.log" >&2
        exit 1
    fi
    echo "$p_server: $p_connections connections x $p_trips round trips" >&2
    python3 "$here/drive.py" "$addr" --connections "$p_connections" --round-trips "$p_trips"
    # Let the server see the closes before it stops.
    sleep 0.5
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
    [ -s "$name.callgrind" ] || { echo "callgrind wrote no $name.callgrind" >&2; exit 1; }
}

for shape in $shapes; do
    connections=${shape%x*} trips=${shape#*x}
    for server in $servers; do
        profile "$server" "$connections" 1
        profile "$server" "$connections" "$trips"
    done
done

for shape in $shapes; do
    echo
    # shellcheck disable=SC2086 # one word per server
    python3 "$here/report.py" --dir "$out" --connections "${shape%x*}" \
        --round-trips "${shape#*x}" $servers
done
