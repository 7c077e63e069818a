//! The tables the bench prints: one function per suite, and the helpers
//! that lay their cells out.

use crate::channels::ChannelReport;
use crate::chat::ChatReport;
use crate::echo::EchoReport;
use crate::harness::{Flavour, Stats, WorkloadResult};
use crate::mt::MtReport;
use crate::timers::{Lateness, LatenessReport, TimerReport};
use crate::{Report, echo, jobs};

pub(crate) fn print_tables(report: &Report) {
    // A blank line between tables.
    let mut printed = false;
    let mut next_table = || {
        if std::mem::replace(&mut printed, true) {
            println!();
        }
    };
    if !report.workloads.is_empty() {
        next_table();
        print_task_table(report);
    }
    if let Some(timers) = &report.timers {
        next_table();
        print_timer_tables(timers);
    }
    if let Some(channels) = &report.channels {
        next_table();
        print_channel_table(channels);
    }
    if let Some(mt) = &report.mt {
        next_table();
        print_mt_tables(mt);
    }
    if let Some(echo) = &report.echo {
        next_table();
        print_echo_tables(echo);
    }
    if let Some(chat) = &report.chat {
        next_table();
        print_chat_table(chat);
    }
    if let Some(jobs) = &report.jobs {
        next_table();
        jobs::print(jobs);
    }
}

fn print_task_table(report: &Report) {
    println!(
        "pollen bench: {} tasks, {} runs, median (min) ns/task",
        report.tasks, report.runs
    );
    print_workloads(&report.workloads, |w| w.workload.to_owned());
    println!(
        "task header: {} bytes (target <= {}); whole task for a no-op future: {} bytes \
         (join workload's future: {} bytes)",
        report.task_header_bytes,
        report.task_header_target_bytes,
        report.noop_task_bytes,
        report.join_task_bytes,
    );
}

fn print_timer_tables(report: &TimerReport) {
    println!(
        "pollen timer bench: {} timers firing after {}-{} ms (seed {:#x}), {} arm+cancel \
         of {} ms timers, {} runs, median (min)",
        report.timers,
        report.min_delay_ms,
        report.max_delay_ms,
        report.seed,
        report.cancels,
        report.cancel_after_ms,
        report.runs,
    );
    print_workloads(&report.workloads, |w| {
        format!("{} ({})", w.workload, w.unit)
    });
    if let (Some(peer), Some(ratio)) = (
        report.arm_cancel_fastest_peer,
        report.arm_cancel_pollen_over_fastest,
    ) {
        println!("arm+cancel: pollen / fastest peer ({peer}) = {ratio:.2} (target <= 1.00)");
    }
    println!();
    println!("lateness of fired timers, µs (actual wake - deadline, all timed runs)");
    print_row(["runtime", "p50", "p99", "max", "timers", ""]);
    println!("{} timers (the arm+fire batch above)", report.timers);
    print_lateness(&report.lateness_us);
    println!("{} timers (light load)", report.light_timers);
    print_lateness(&report.light_lateness_us);
}

fn print_channel_table(report: &ChannelReport) {
    println!(
        "pollen channel bench: {} messages through mpsc({}) from 1 and {} producers, \
         {} oneshots, {} pairs x {} oneshot round trips (smol's oneshot: {}), {} runs, \
         median (min)",
        report.messages,
        report.capacity,
        report.producers,
        report.oneshots,
        report.pairs,
        report.round_trips,
        report.smol_oneshot,
        report.runs,
    );
    print_workloads(&report.workloads, |w| {
        format!("{} ({})", w.workload, w.unit)
    });
    if let Some(slowest) = report.slowest {
        println!(
            "slowest pollen/fastest-peer ratio: {:.2} ({}, fastest peer {}; target <= 1.00)",
            slowest.pollen_over_fastest_peer, slowest.workload, slowest.fastest_peer,
        );
    }
}

fn print_mt_tables(report: &MtReport) {
    println!(
        "pollen multi-thread bench: {} worker threads per runtime; {} tasks spawned, \
         {} tasks x {} yields, {} ping-pongs, a chain of {} spawns; {} runs, median (min)",
        report.workers,
        report.spawns,
        report.yield_tasks,
        report.yields,
        report.pings,
        report.chain_depth,
        report.runs,
    );
    print_workloads(&report.workloads, |w| {
        format!("{} ({})", w.workload, w.unit)
    });
    println!();
    match &report.memory_skipped {
        Some(why) => println!("memory per parked task: skipped ({why})"),
        None => {
            println!(
                "memory per parked task: {} tasks parked, each runtime in its own process; \
                 {} runs, median (min) per task",
                report.parked, report.memory_runs,
            );
            print_workloads(&report.memory, |w| w.workload.to_owned());
        }
    }
    println!();
    let t = &report.targets;
    for time in &t.times {
        println!(
            "target: {}: pollen / fastest peer ({}) = {:.2} (target <= {:.2}){}",
            time.workload,
            time.fastest_peer,
            time.pollen_over_fastest_peer,
            t.time_ratio,
            if time.met { "" } else { "  MISSED" },
        );
    }
    let bytes = |b: Option<f64>, target: f64| match b {
        Some(b) => format!(
            "{b:.0} B (target <= {target:.0}){}",
            if b <= target { "" } else { "  MISSED" }
        ),
        None => format!("- (target <= {target:.0})"),
    };
    println!(
        "target: pollen per pending() task: heap {}, RSS {}",
        bytes(t.pollen_pending_heap_bytes, t.pending_heap_bytes),
        bytes(t.pollen_pending_rss_bytes, t.pending_rss_bytes),
    );
    println!("note: {}", report.reference);
}

fn print_echo_tables(report: &EchoReport) {
    println!(
        "pollen echo bench: {}-byte messages over loopback, closed loop; {} runs of {:.1} s \
         (after {} ms warm-up) per point, median of the runs; load generator: {} thread(s) \
         in the bench process, sharing the machine's {} cores with the server; {}",
        report.message_bytes,
        report.runs,
        report.window_ms as f64 / 1000.0,
        report.warmup_ms,
        report.client_threads,
        report.cores,
        match report.pin {
            echo::Pin::None => "not pinned",
            echo::Pin::Split => "pinned: load generator on the first CPU, server on the second",
            echo::Pin::Shared => "pinned: load generator and server on the first CPU",
        },
    );
    for skipped in &report.skipped {
        println!("{}: {}", skipped.server, skipped.why);
    }
    const WIDTHS: [usize; 9] = [12, 10, 9, 9, 22, 9, 11, 9, 10];
    let ratio = |r: Option<f64>| r.map_or_else(|| "-".to_owned(), |r| format!("{r:.2}"));
    for point in &report.points {
        println!();
        let plural = if point.connections == 1 { "" } else { "s" };
        println!("{} connection{plural}", point.connections);
        print_cells(
            &WIDTHS,
            &[
                "server",
                "req/s",
                "p50 µs",
                "p99 µs",
                "CPU µs/req (min-max)",
                "srv CPU",
                "req/s÷mio",
                "CPU÷mio",
                "CPU÷tokio",
            ]
            .map(str::to_owned),
        );
        for row in &point.rows {
            let cpu = row.cpu_us_per_request;
            print_cells(
                &WIDTHS,
                &[
                    row.server.to_owned(),
                    format!("{:.0}", row.requests_per_sec.median),
                    format!("{:.1}", row.p50_us.median),
                    format!("{:.1}", row.p99_us.median),
                    format!("{:.2} ({:.2}-{:.2})", cpu.median, cpu.min, cpu.max),
                    format!("{:.2}", row.server_cpu_share.median),
                    ratio(row.requests_over_mio),
                    ratio(row.cpu_over_mio),
                    ratio(row.cpu_over_tokio),
                ],
            );
        }
    }
    if let Some(idle) = &report.idle {
        println!();
        println!(
            "memory per idle connection: {} connections held open, each after one echo \
             (RSS less RSS with none, over the connections)",
            idle.connections
        );
        const WIDTHS: [usize; 7] = [12, 14, 10, 10, 11, 13, 10];
        print_cells(
            &WIDTHS,
            &[
                "server",
                "base RSS KiB",
                "RSS KiB",
                "peak KiB",
                "bytes/conn",
                "peak b/conn",
                "peak÷tokio",
            ]
            .map(str::to_owned),
        );
        for row in &idle.rows {
            let s = &row.sample;
            print_cells(
                &WIDTHS,
                &[
                    row.server.to_owned(),
                    s.baseline.rss_kib.to_string(),
                    s.held.rss_kib.to_string(),
                    s.held.hwm_kib.to_string(),
                    format!("{:.0}", s.bytes_per_connection),
                    format!("{:.0}", s.peak_bytes_per_connection),
                    ratio(row.peak_over_tokio),
                ],
            );
        }
    }
    println!();
    let t = &report.targets;
    for server in &t.servers {
        let cpu: Vec<String> = server
            .cpu_over_mio
            .iter()
            .map(|(connections, r)| format!("{connections} conn {}", ratio(*r)))
            .collect();
        println!(
            "target: {} CPU per request / mio-loop: {} (target <= {:.2})",
            server.server,
            cpu.join(", "),
            t.cpu_target
        );
    }
    for server in &t.servers {
        println!(
            "target: {} peak bytes per idle connection / tokio-ct: {} (target <= {:.2})",
            server.server,
            ratio(server.idle_peak_over_tokio),
            t.idle_target
        );
    }
    println!(
        "note: a shared, noisy machine; the load generator competes with the server for the \
         cores, so req/s and latency are the pair's. CPU per request is the server's own \
         (/proc, 10 ms ticks)."
    );
    match report.pin {
        echo::Pin::None | echo::Pin::Split => println!(
            "note: srv CPU well below 1.00 means the clients, not the server, were the limit. \
             With one connection most of the server's CPU per request is the cross-core \
             wake-up, the same for every server; `--echo-pin shared` measures without it."
        ),
        echo::Pin::Shared => println!(
            "note: server and clients take turns on one CPU, so srv CPU near 0.50 is full \
             load; req/s is what one CPU does for both."
        ),
    }
}

fn print_chat_table(report: &ChatReport) {
    println!(
        "pollen chat bench: {} clients x {} messages, each delivered to the {} others \
         ({} deliveries per run); each server in its own process with {} worker threads, \
         a fresh process per round, inbox {} per client; load generator: one thread in \
         the bench process, {}; {} runs, median (min)",
        report.clients,
        report.messages,
        report.clients - 1,
        report.deliveries,
        report.workers,
        report
            .inbox
            .map_or_else(|| "the default".to_owned(), |n| format!("{n} lines")),
        report.window.map_or_else(
            || "every client sending all its messages at once".to_owned(),
            |w| format!("at most {w} messages ahead of the slowest reader")
        ),
        report.runs,
    );
    for skipped in &report.skipped {
        println!("{}: {}", skipped.server, skipped.why);
    }
    const WIDTHS: [usize; 5] = [13, 20, 14, 18, 18];
    print_cells(
        &WIDTHS,
        &[
            "server",
            "time ms",
            "messages/s",
            "server CPU ms",
            "load CPU ms",
        ]
        .map(str::to_owned),
    );
    for row in &report.rows {
        print_cells(
            &WIDTHS,
            &[
                row.server.to_owned(),
                format!("{:.0} ({:.0})", row.time_ms.median, row.time_ms.min),
                format!("{:.0}", row.messages_per_sec),
                format!(
                    "{:.0} ({:.0})",
                    row.server_cpu_ms.median, row.server_cpu_ms.min
                ),
                format!("{:.0} ({:.0})", row.load_cpu_ms.median, row.load_cpu_ms.min),
            ],
        );
    }
    let t = &report.targets;
    match t.pollen_over_tokio {
        Some(ratio) => println!(
            "target: pollen-chat time / tokio-mt = {ratio:.2} (target <= {:.2}){}",
            t.time_ratio,
            if ratio <= t.time_ratio {
                ""
            } else {
                "  MISSED"
            },
        ),
        None => println!(
            "target: pollen-chat time / tokio-mt = - (target <= {:.2}; needs both)",
            t.time_ratio
        ),
    }
    println!(
        "note: messages/s is the deliveries over the median time; the load generator \
         (one thread) shares the machine's cores with the server, so the time is the \
         pair's: load CPU close to the time means the load generator was the limit."
    );
    if report.window.is_none() && !report.skipped.is_empty() {
        println!(
            "note: with every client sending at once, a client's inbox (64 lines by \
             default) overflows unless its task keeps up with the broker, and the server \
             disconnects it; `--chat-window 48` keeps every inbox under 49 lines, \
             `--chat-inbox N` makes the inboxes bigger."
        );
    }
}

/// Prints one row of `cells`, each padded to its width (at least one space
/// between cells).
fn print_cells(widths: &[usize], cells: &[String]) {
    let mut line = String::new();
    for (cell, &width) in cells.iter().zip(widths) {
        line.push_str(&format!("{cell:<0$} ", width.saturating_sub(1)));
    }
    println!("{}", line.trim_end());
}

/// Prints one lateness row per runtime that ran.
fn print_lateness(lateness: &LatenessReport) {
    for (name, l) in [
        ("pollen", lateness.pollen),
        ("tokio-ct", lateness.tokio_ct),
        ("smol-local", lateness.smol_local),
    ] {
        let Some(Lateness {
            p50,
            p99,
            max,
            timers,
        }) = l
        else {
            continue;
        };
        print_row([
            &format!("  {name}"),
            &format!("{p50:.1}"),
            &format!("{p99:.1}"),
            &format!("{max:.1}"),
            &timers.to_string(),
            "",
        ]);
    }
}

/// Prints the header and one row per workload, named by `name`; tokio's
/// and smol's columns are named for the rows' [`Flavour`].
fn print_workloads(workloads: &[WorkloadResult], name: impl Fn(&WorkloadResult) -> String) {
    let flavour = workloads
        .first()
        .map_or(Flavour::CurrentThread, |w| w.flavour);
    let [tokio, smol] = flavour.peers();
    print_row([
        "workload",
        "pollen",
        tokio.name,
        smol.name,
        "pollen/tokio",
        "pollen/smol",
    ]);
    let stats = |s: Option<Stats>| match s {
        Some(s) => format!("{:.1} ({:.1})", s.median, s.min),
        None => "-".to_owned(),
    };
    let ratio = |r: Option<f64>| match r {
        Some(r) => format!("{r:.2}"),
        None => "-".to_owned(),
    };
    for w in workloads {
        print_row([
            &name(w),
            &stats(w.pollen),
            &stats(w.tokio),
            &stats(w.smol),
            &ratio(w.pollen_over_tokio),
            &ratio(w.pollen_over_smol),
        ]);
    }
}

/// Prints one table row: the first column 26 wide, the others 16, and at
/// least one space between any two cells.
fn print_row(cells: [&str; 6]) {
    let mut line = String::new();
    for (i, cell) in cells.iter().enumerate() {
        let width = if i == 0 { 26 } else { 16 };
        line.push_str(&format!("{cell:<0$} ", width - 1));
    }
    println!("{}", line.trim_end());
}
