#!/usr/bin/env python3
"""Instructions per request from callgrind.sh's files.

    report.py [--dir DIR] [--connections 50] [--round-trips 2000]
              [--top 30] [--top-others 15] SERVER...

For each server, reads DIR/SERVER.C.1.callgrind (the baseline: one round
trip per connection) and DIR/SERVER.C.R.callgrind (R round trips per
connection) and prints, over the C * (R - 1) extra round trips:

- instructions (Ir) and system calls per request (callgrind counts user
  space only: the kernel's instructions are in neither figure);
- the exclusive cost per request summed into groups (where the code comes
  from: syscall wrappers, reactor, executor, ...), all functions counted;
- the top functions by inclusive and by exclusive cost per request
  (`--top` for the first server, `--top-others` for the rest), functions
  merged over the source files their inlined code comes from.

The differences cancel start-up, accepts, closes and exit. The costs are
read from the callgrind files directly (`callgrind_annotate` 3.19 lists a
function's inclusive cost once per source file its inlined code comes
from, which sums to more than the whole program).
"""

import argparse
import re
from collections import defaultdict

# Groups. A function named in FUNCTIONS is one concern whatever it inlines;
# other instructions belong to the source file they come from (FILES), or,
# for files of generic helpers (core, alloc, readiness bits), to the
# function they were inlined into (MODULES). First match wins.
LIBC = "syscall wrappers: libc"
WRAPPERS = "syscall wrappers: std, mio, io::Error"
DRIVER = "reactor: driver turn (events -> readiness -> wake)"
READINESS = "reactor: registration, readiness (poll_io / poll_ready)"
WAKERS = "wakers (task wakers, AtomicWaker)"
TASK = "task: poll, state, schedule"
EXECUTOR = "executor: tick, run queue, task registry, context"
PARK = "runtime: park"
POLLER_WAKE = "runtime: poller wake-up (eventfd write)"
CLOCK = "clock reads (Instant::now, tokio's metrics)"
FUTURES = "I/O futures: futures-lite/futures-io, tokio io-util"
APP = "the server's own code"
FUNCTIONS = [
    (CLOCK, r"^clock_gettime|std::time::Instant|Timespec|tokio::runtime::metrics"),
    (LIBC, r"^(recv|send|read|write|epoll_wait|__errno_location)$"),
    (WRAPPERS, r"std::net::tcp::TcpStream as std::io|mio::net::tcp::stream::TcpStream as std::io"
               r"|std::io::error::Error"),
    ("std: malloc/free", r"^(malloc|free|realloc|_int_malloc|_int_free|cfree)"),
    (WAKERS, r"pollen_core::task::waker::|atomic_waker::|tokio::runtime::task::waker::"),
    (PARK, r"Shared::park|Shared::block|current_thread::Context::park|CoreGuard::park"),
    (POLLER_WAKE, r"mio::waker::|mio::sys::unix::waker::|&std::fs::File as std::io::Write|PollerWaker"),
    # The driver's list of wakers to wake, drained after each poll (no
    # other `Vec::drain` runs per request in these servers).
    (DRIVER, r"alloc::vec::drain::Drain"),
]
FILES = [
    (APP, r"bench/src/bin/"),
    (FUTURES, r"futures-(lite|io)-|tokio-[\d.]+/src/io/(util|read_buf|async_read|async_write)"),
    (DRIVER, r"std-reactor/src/io/driver|tokio-[\d.]+/src/runtime/io/driver"
             r"|mio-[\d.]+/src/(poll|event|sys/unix/selector/epoll)"),
    (PARK, r"std-reactor/src/io/park|tokio-[\d.]+/src/runtime/driver\.rs"),
    (READINESS, r"std-reactor/src/(io/(registration|scheduled_io)|net/)"
                r"|tokio-[\d.]+/src/(runtime/io/|io/poll_evented|net/|task/coop)"),
    (WAKERS, r"core/src/task/waker|atomic-waker-|tokio-[\d.]+/src/(runtime/task/waker|util/wake)"),
    (TASK, r"(^|/)core/src/task/|tokio-[\d.]+/src/runtime/task/"),
    (EXECUTOR, r"(^|/)core/src/executor/|std-reactor/src/runtime/"
               r"|tokio-[\d.]+/src/runtime/(scheduler|context)"),
    ("timer", r"/src/time|/runtime/time/"),
    ("std: mutex, thread-locals", r"library/std/src/(sync|sys/sync|sys/thread_local)"),
    (WRAPPERS, r"library/std/src/(net|sys/net|sys/pal|sys/io|io/error)"
               r"|mio-[\d.]+/src/(net|sys/unix/selector/stateless)"),
]
MODULES = [
    (APP, r"^echo_"),
    (FUTURES, r"futures_lite::|tokio::io::util"),
    (DRIVER, r"pollen::io::driver|tokio::runtime::io::driver|mio::poll"),
    (READINESS, r"pollen::io::(registration|scheduled_io)|pollen::net::|tokio::runtime::io"
                r"|tokio::io::poll_evented|tokio::net::"),
    (TASK, r"pollen_core::task|tokio::runtime::task"),
    (EXECUTOR, r"pollen_core::executor|pollen::runtime|tokio::runtime::(scheduler|context)"),
]
HELPER_FILES = re.compile(
    r"library/(core|alloc)/|std-reactor/src/io/ready\.rs|tokio-[\d.]+/src/(io/ready|util/bit)\.rs"
)
FUNCTIONS, FILES, MODULES = (
    [(name, re.compile(pattern)) for name, pattern in rules]
    for rules in (FUNCTIONS, FILES, MODULES)
)


def parse(path):
    """The file's events and totals, exclusive cost by (source file,
    function) and inclusive cost by function, all per event.

    Exclusive cost is attributed to the file the instructions come from
    (`fi=`/`fe=` for inlined code, else the function's `fl=`); inclusive
    cost is the function's exclusive cost plus what its calls to other
    functions cost (calls to itself are left out, so recursion is not
    counted twice).
    """
    names = {}  # "(id)" -> name, for each kind of compressed name

    def name(kind, value):
        m = re.match(r"\((\d+)\)(?: (.*))?$", value)
        if not m:
            return value
        if m.group(2) is not None:
            names[(kind, m.group(1))] = m.group(2)
        return names[(kind, m.group(1))]

    events, total = [], []
    exclusive = defaultdict(lambda: [0] * len(events))
    inclusive = defaultdict(lambda: [0] * len(events))
    fn = callee = None
    file = fl = "???"
    in_call = False
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            key, _, value = line.partition("=")
            if line.startswith("events:"):
                events = line.split()[1:]
            elif line.startswith("totals:") or line.startswith("summary:"):
                total = [int(x) for x in line.split()[1:]]
            elif key == "fl":
                fl = file = name("fl", value)
            elif key in ("fi", "fe"):
                file = name("fl", value)
            elif key == "fn":
                fn, file = name("fn", value), fl
            elif key in ("cfi", "cfl"):
                name("fl", value)
            elif key == "cfn":
                callee = name("fn", value)
            elif key == "ob" or key == "cob":
                name("ob", value)
            elif key == "calls":
                in_call = True
            elif line[:1].isdigit() or line[:1] in "+-*":
                costs = [int(x) for x in line.split()[1:]]
                costs += [0] * (len(events) - len(costs))
                if in_call:
                    in_call = False
                    if callee != fn:
                        for i, c in enumerate(costs):
                            inclusive[fn][i] += c
                else:
                    for i, c in enumerate(costs):
                        exclusive[(file, fn)][i] += c
                        inclusive[fn][i] += c
    return events, total, exclusive, inclusive


def group(file, function):
    """The group of instructions from `file` in `function`."""
    function = function or ""
    rules = [(FUNCTIONS, function)]
    if not HELPER_FILES.search(file):
        rules.append((FILES, file))
    rules.append((MODULES, function))
    for groups, subject in rules:
        for name, pattern in groups:
            if pattern.search(subject):
                return name
    return "other"


def diff(loaded, base, key, event):
    """Loaded less baseline cost of `event`, summed by `key`."""
    out = defaultdict(int)
    for sign, costs in ((1, loaded), (-1, base)):
        for k, v in costs.items():
            out[key(k)] += sign * v[event]
    return out


def table(title, costs, requests, top):
    print(f"  {title}")
    rows = [(name, cost) for name, cost in costs.items() if abs(cost / requests) >= 0.05]
    for name, cost in sorted(rows, key=lambda kv: -kv[1])[:top]:
        print(f"    {cost / requests:9.1f}  {name}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", default=".")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--round-trips", type=int, default=2000)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--top-others", type=int, default=15)
    parser.add_argument("servers", nargs="+")
    args = parser.parse_args()
    c, r = args.connections, args.round_trips
    requests = c * (r - 1)
    print(f"per request: {c} connections x {r} round trips, less {c} x 1 (the baseline), "
          f"= {requests} requests; user-space instructions only (callgrind does not see "
          f"the kernel's)")
    for i, server in enumerate(args.servers):
        events, base_total, base_exclusive, base_inclusive = parse(
            f"{args.dir}/{server}.{c}.1.callgrind")
        _, total, exclusive, inclusive = parse(f"{args.dir}/{server}.{c}.{r}.callgrind")
        per = {e: (total[j] - base_total[j]) / requests for j, e in enumerate(events)}
        ir = events.index("Ir")
        print()
        line = f"{server}: {per['Ir']:.1f} Ir per request"
        if "sysCount" in per:
            line += f", {per['sysCount']:.3f} system calls per request"
        print(line)
        if "sysCount" in events:
            calls = diff(exclusive, base_exclusive, lambda k: k[1], events.index("sysCount"))
            calls = {f: n / requests for f, n in calls.items() if abs(n / requests) >= 0.0005}
            print("  system calls per request: " + ", ".join(
                f"{f} {n:.3f}" for f, n in sorted(calls.items(), key=lambda kv: -kv[1])))
        groups = diff(exclusive, base_exclusive, lambda k: group(*k), ir)
        table("exclusive Ir per request by group", groups, requests, len(groups))
        top = args.top if i == 0 else args.top_others
        inclusive_ir = diff(inclusive, base_inclusive, lambda k: k, ir)
        # `main` and the runtime's `block_on` hold the whole run: one line.
        # Nameless and duplicate-named frames (`(below main)`) are left out.
        whole = [f for f, v in inclusive_ir.items() if v >= 0.995 * (total[ir] - base_total[ir])]
        inclusive_ir = {f: v for f, v in inclusive_ir.items()
                        if f not in whole and f and not f.startswith(("0x", "(below main)"))}
        print("  the whole run (100%): " + ", ".join(
            sorted(f for f in whole if f and not f.startswith(("0x", "(below main)")))))
        table(f"inclusive Ir per request, top {top}", inclusive_ir, requests, top)
        table(f"exclusive Ir per request, top {top}",
              diff(exclusive, base_exclusive, lambda k: k[1], ir), requests, top)


if __name__ == "__main__":
    main()
