//! Models of the park protocol with the poller modelled by a token under a
//! lock: `wake_poller` sets it, a blocking poll waits for it and clears it.
//! A lost wake-up shows up as a driver blocked for ever, which loom reports
//! as a deadlock (and a plain test run as a hang).

use super::{ParkState, WakePoller};
use crate::loom::atomic::{AtomicUsize, Ordering};
use crate::loom::model;
use crate::loom::model_sync::{Arc, Condvar, Mutex, thread};

#[derive(Default)]
struct ModelPoller {
    token: Mutex<bool>,
    condvar: Condvar,
}

impl WakePoller for Arc<ModelPoller> {
    fn wake_poller(&self) {
        *self.token.lock().unwrap() = true;
        self.condvar.notify_one();
    }
}

impl ModelPoller {
    /// A poll: waits for the token if `block`, and clears it either way.
    fn poll(&self, block: bool) {
        let mut token = self.token.lock().unwrap();
        while block && !*token {
            token = self.condvar.wait(token).unwrap();
        }
        *token = false;
    }
}

/// The driver's loop until it has seen `expected` items of work, which
/// other threads publish with relaxed stores: only the protocol orders them.
fn drive(
    park: &ParkState<Arc<ModelPoller>>,
    poller: &ModelPoller,
    work: &AtomicUsize,
    expected: usize,
) {
    loop {
        park.reset();
        if work.load(Ordering::Relaxed) == expected {
            return;
        }
        let block = park.try_park();
        poller.poll(block);
        park.unparked();
    }
}

#[test]
fn work_from_another_thread_wakes_a_parking_driver() {
    model(|| {
        let poller = Arc::new(ModelPoller::default());
        let park = Arc::new(ParkState::new(poller.clone()));
        let work = Arc::new(AtomicUsize::new(0));

        let pusher = {
            let (park, work) = (park.clone(), work.clone());
            thread::spawn(move || {
                work.store(1, Ordering::Relaxed);
                park.unpark();
            })
        };
        drive(&park, &poller, &work, 1);
        pusher.join().unwrap();
    });
}

#[test]
fn two_pushers_racing_a_parking_driver_are_both_seen() {
    model(|| {
        let poller = Arc::new(ModelPoller::default());
        let park = Arc::new(ParkState::new(poller.clone()));
        let work = Arc::new(AtomicUsize::new(0));

        let pushers: Vec<_> = (0..2)
            .map(|_| {
                let (park, work) = (park.clone(), work.clone());
                thread::spawn(move || {
                    work.fetch_add(1, Ordering::Relaxed);
                    park.unpark();
                })
            })
            .collect();
        drive(&park, &poller, &work, 2);
        for pusher in pushers {
            pusher.join().unwrap();
        }
    });
}

#[test]
fn a_wake_from_the_driving_thread_costs_no_poller_wake() {
    // No other thread: the driver hands itself work (a task waking another)
    // and the poller is never woken, so no system call is made.
    model(|| {
        let poller = Arc::new(ModelPoller::default());
        let park = ParkState::new(poller.clone());
        park.reset();
        park.unpark();
        assert!(
            !park.try_park(),
            "a pending notification must stop the park"
        );
        park.unparked();
        assert!(!*poller.token.lock().unwrap());
    });
}
