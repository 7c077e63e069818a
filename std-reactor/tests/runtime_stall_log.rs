//! With a logger installed, a stall report is a warning to it (target
//! `pollen::stall`), not a line on standard error. A test binary of its
//! own: the logger is process-wide.
#![cfg(feature = "log")]

use std::sync::Mutex;
use std::thread;
use std::time::Duration;

use pollen::runtime::Builder;

/// Keeps every record it is given.
struct Recorder(Mutex<Vec<(log::Level, String, String)>>);

impl log::Log for Recorder {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let entry = (
            record.level(),
            record.target().to_string(),
            record.args().to_string(),
        );
        self.0.lock().unwrap().push(entry);
    }

    fn flush(&self) {}
}

static RECORDER: Recorder = Recorder(Mutex::new(Vec::new()));

#[test]
fn a_stall_is_logged_as_a_warning_when_a_logger_is_installed() {
    log::set_logger(&RECORDER).unwrap();
    log::set_max_level(log::LevelFilter::Warn);
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .stall_threshold(Some(Duration::from_millis(30)))
        .build()
        .unwrap();
    rt.block_on(async {
        pollen::task::Builder::new()
            .name("logged blocker")
            .spawn(async { thread::sleep(Duration::from_millis(300)) })
            .await
            .unwrap();
    });
    drop(rt);
    let records = RECORDER.0.lock().unwrap();
    let stalls: Vec<_> = records
        .iter()
        .filter(|(_, target, _)| target == "pollen::stall")
        .collect();
    assert_eq!(stalls.len(), 1, "one report: {records:?}");
    let (level, _, message) = stalls[0];
    assert_eq!(*level, log::Level::Warn);
    assert!(message.contains("(\"logged blocker\")"), "{message}");
    assert!(message.contains("runtime_stall_log.rs:"), "{message}");
}
