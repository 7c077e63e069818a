//! Registries by number: a task's `Tracked` names its registry in two
//! bytes instead of a reference's eight, in every task.
//!
//! Two levels of atomic pointers, so that finding a registry (once per
//! task, when its future is dropped) is two loads and takes no lock. A
//! number is taken at a registry's first reservation and given back once the
//! registry is closed and empty; registries are never freed (they live in
//! runtimes' leaked parts), so an entry never dangles.

use std::ptr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicPtr, Ordering};

use super::TaskRegistry;

/// Numbers per leaf, and leaves.
const FANOUT: usize = 256;

struct Leaf([AtomicPtr<TaskRegistry>; FANOUT]);

static LEAVES: [AtomicPtr<Leaf>; FANOUT] = [const { AtomicPtr::new(ptr::null_mut()) }; FANOUT];

/// Numbers never taken yet start at `next`; `free` holds those given
/// back.
struct Numbers {
    next: usize,
    free: Vec<u16>,
}

static NUMBERS: Mutex<Numbers> = Mutex::new(Numbers {
    next: 0,
    free: Vec::new(),
});

/// A number for `registry`, from now until it is released.
///
/// # Panics
///
/// If 65 536 registries hold numbers at once. Each runtime that has
/// spawned holds one, and one more per thread that has run its local
/// tasks; a registry holds its number until it is closed and empty,
/// and for good if it never is (a runtime leaked with `mem::forget`,
/// the local tasks of a `block_on` thread when the runtime is dropped
/// on another thread).
pub(super) fn assign(registry: &'static TaskRegistry) -> u16 {
    let mut numbers = NUMBERS.lock().unwrap_or_else(|e| e.into_inner());
    let number = match numbers.free.pop() {
        Some(number) => usize::from(number),
        None => {
            let number = numbers.next;
            assert!(
                number < FANOUT * FANOUT,
                "pollen: more than {} task registries (runtimes and their threads) at once",
                FANOUT * FANOUT
            );
            numbers.next += 1;
            number
        }
    };
    let leaf_slot = &LEAVES[number / FANOUT];
    let mut leaf = leaf_slot.load(Ordering::Acquire);
    if leaf.is_null() {
        // Made under `NUMBERS`'s lock: no other thread makes this one.
        leaf = Box::into_raw(Box::new(Leaf(
            [const { AtomicPtr::new(ptr::null_mut()) }; FANOUT],
        )));
        leaf_slot.store(leaf, Ordering::Release);
    }
    // SAFETY: leaves are leaked once made, never freed.
    let entry = unsafe { &(*leaf).0[number % FANOUT] };
    entry.store(ptr::from_ref(registry).cast_mut(), Ordering::Release);
    u16::try_from(number).expect("below 65 536")
}

/// The registry holding `number`.
///
/// # Panics
///
/// If no registry was ever given `number` (a bug).
pub(super) fn get(number: u16) -> &'static TaskRegistry {
    let number = usize::from(number);
    let leaf = LEAVES[number / FANOUT].load(Ordering::Acquire);
    assert!(!leaf.is_null(), "pollen: task registry {number} unknown");
    // SAFETY: leaves are leaked once made, never freed.
    let registry = unsafe { &(*leaf).0[number % FANOUT] }.load(Ordering::Acquire);
    assert!(
        !registry.is_null(),
        "pollen: task registry {number} unknown"
    );
    // SAFETY: entries only ever hold `&'static TaskRegistry`s.
    unsafe { &*registry }
}

/// Gives `number` back. Its entry keeps the old registry until the
/// number is taken again, by which time no task names it.
pub(super) fn release(number: u16) {
    NUMBERS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .free
        .push(number);
}
