//! Shared by the `time_*` tests: a virtual-time runtime per test.
#![allow(dead_code, unused_macros, unused_imports)] // each test file uses a part

pub use pollen_core::executor::{Executor, StdPark};
pub use pollen_core::sync::SpinRawMutex;
pub use pollen_core::time::{ManualClock, Timer, TimerPark};

/// A timer on a manual clock (auto-advancing: virtual time).
pub type VirtualTimer = Timer<ManualClock, SpinRawMutex>;
/// The park that drives it for an executor.
pub type VirtualPark = TimerPark<ManualClock, SpinRawMutex, StdPark>;

/// A fresh executor, virtual timer and park for one test (tests run in
/// parallel, each with its own statics): `(&EX, &TIMER, &PARK)`.
macro_rules! runtime {
    () => {{
        use $crate::time_support::{Executor, ManualClock, StdPark, Timer, TimerPark};
        static EX: Executor = Executor::new();
        static TIMER: $crate::time_support::VirtualTimer = Timer::new(ManualClock::new());
        static THREAD: StdPark = StdPark::new();
        static PARK: $crate::time_support::VirtualPark = TimerPark::new(&TIMER, &THREAD);
        (&EX, &TIMER, &PARK)
    }};
}
pub(crate) use runtime;
