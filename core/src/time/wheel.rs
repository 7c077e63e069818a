//! The hierarchical timing wheel: where armed timers wait, sorted by the
//! tick they are due.
//!
//! Six levels of 64 slots. A slot of level `L` spans `64^L` ticks, so level
//! 0 holds timers due in the current 64-tick block, one tick per slot, level
//! 1 those due in the current 4096-tick block, 64 ticks per slot, and so on
//! up to level 5, whose slots span 2^30 ticks each and whose whole rotation
//! is [`RANGE`] = 2^36 ticks. A timer goes to the lowest level whose block it
//! shares with the wheel's current time (`elapsed`). When time reaches a slot
//! of a higher level, its timers *cascade*: each is placed again, now lower.
//! Timers further out than one top-level rotation go to the top level's slot
//! for their deadline modulo the rotation, come round early, and are placed
//! again: they still fire on time.
//!
//! Each slot is an intrusive doubly linked list of [`Node`]s that live
//! inside the timers themselves (pinned futures), plus one bit per slot in a
//! per-level occupancy word. So: insert and remove are O(1) with no
//! allocation; finding the next due slot is a rotate and a trailing-zeros
//! per level; firing costs O(1) per timer plus O(levels) per cascade.
//!
//! The wheel is a plain data structure: not thread-safe, it is used under
//! the timer's lock. It knows ticks only; `Timer` maps a clock's time to
//! ticks.
//!
//! # Order
//!
//! [`poll`](Wheel::poll) hands out due timers in deadline order; timers due
//! on the same tick come out in no particular order.

use core::fmt;
use core::marker::PhantomPinned;
use core::ptr::NonNull;

use crate::loom::UnsafeCell;

/// Bits of a tick that index one level's slots.
const SLOT_BITS: u32 = 6;
/// Slots per level.
const SLOTS: usize = 1 << SLOT_BITS;
/// Levels in the wheel.
const LEVELS: usize = 6;
/// Ticks in one rotation of the top level: timers further out than this go
/// round the top level more than once.
pub(crate) const RANGE: u64 = 1 << (SLOT_BITS as usize * LEVELS);

/// The wheel's part of a timer: its deadline and its links. Lives inside the
/// timer, which is pinned while the node is in a wheel.
pub(crate) struct Node {
    /// # Safety
    ///
    /// Only touched by the wheel the node is in (or is being put in), under
    /// that wheel's lock: the wheel holds a pointer to the node, and the
    /// node's owner reaches the fields only through the wheel's methods.
    links: UnsafeCell<Links>,
    /// The wheel keeps pointers to the node.
    _pinned: PhantomPinned,
}

struct Links {
    prev: Option<NonNull<Node>>,
    next: Option<NonNull<Node>>,
    /// The tick the timer is due.
    when: u64,
    /// Which list holds the node.
    place: Place,
}

/// Where a node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    /// In no list of a wheel.
    Unlinked,
    /// In slot `slot` of level `level`.
    Slot { level: u8, slot: u8 },
    /// Due, waiting in the wheel's pending list to be handed out by `poll`.
    Pending,
}

/// An intrusive FIFO of nodes.
struct List {
    head: Option<NonNull<Node>>,
    tail: Option<NonNull<Node>>,
}

/// One level: 64 slots and a bit per occupied one.
struct Level {
    occupied: u64,
    slots: [List; SLOTS],
}

/// The next slot time reaches: a level, a slot, and the tick it starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Expiration {
    level: usize,
    slot: usize,
    deadline: u64,
}

/// A hierarchical timing wheel of [`Node`]s.
pub(crate) struct Wheel {
    /// The wheel's current time: every tick up to it has been processed.
    elapsed: u64,
    levels: [Level; LEVELS],
    /// Due timers not handed out yet, in deadline order.
    pending: List,
}

// SAFETY: the wheel holds pointers to nodes whose owners only reach them
// through the wheel, under the lock that guards the wheel: moving the wheel
// (or a reference to it) to another thread moves that access along with it.
unsafe impl Send for Wheel {}

/// Runs `f` on the node's links.
///
/// # Safety
///
/// - `node` is valid (its owner keeps it alive, pinned, while linked);
/// - the caller has the exclusive access the field's docs describe, and `f`
///   does not reach the same node's links again.
#[inline]
unsafe fn with_links<R>(node: NonNull<Node>, f: impl FnOnce(&mut Links) -> R) -> R {
    // SAFETY: the caller guarantees the node is live.
    let node = unsafe { node.as_ref() };
    // SAFETY: the caller guarantees the access is exclusive.
    node.links.with_mut(|links| f(unsafe { &mut *links }))
}

// === impl Node ===

impl Node {
    /// A node in no wheel.
    #[cfg(not(loom))]
    pub(crate) const fn new() -> Node {
        Node {
            links: UnsafeCell::new(Links::new()),
            _pinned: PhantomPinned,
        }
    }

    /// A node in no wheel.
    #[cfg(loom)]
    pub(crate) fn new() -> Node {
        Node {
            links: UnsafeCell::new(Links::new()),
            _pinned: PhantomPinned,
        }
    }
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The links belong to the wheel's lock: not read here.
        f.debug_struct("Node").finish_non_exhaustive()
    }
}

impl Links {
    const fn new() -> Links {
        Links {
            prev: None,
            next: None,
            when: 0,
            place: Place::Unlinked,
        }
    }
}

// === impl List ===

impl List {
    const EMPTY: List = List {
        head: None,
        tail: None,
    };

    fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    /// Appends `node`, which is in no list.
    ///
    /// # Safety
    ///
    /// As [`with_links`], for `node` and the list's tail.
    unsafe fn push_back(&mut self, node: NonNull<Node>, place: Place) {
        let tail = self.tail;
        // SAFETY: forwarded from the caller.
        unsafe {
            with_links(node, |l| {
                debug_assert_eq!(l.place, Place::Unlinked);
                l.prev = tail;
                l.next = None;
                l.place = place;
            });
        }
        match tail {
            // SAFETY: forwarded from the caller; `tail` is another node.
            Some(tail) => unsafe { with_links(tail, |l| l.next = Some(node)) },
            None => self.head = Some(node),
        }
        self.tail = Some(node);
    }

    /// Removes and returns the first node, now unlinked.
    ///
    /// # Safety
    ///
    /// As [`with_links`], for the list's nodes.
    unsafe fn pop_front(&mut self) -> Option<NonNull<Node>> {
        let node = self.head?;
        // SAFETY: forwarded from the caller.
        unsafe { self.remove(node) };
        Some(node)
    }

    /// Unlinks `node`, which is in this list.
    ///
    /// # Safety
    ///
    /// As [`with_links`], for `node` and its neighbours; `node` is in this
    /// list.
    unsafe fn remove(&mut self, node: NonNull<Node>) {
        // SAFETY: forwarded from the caller.
        let (prev, next) = unsafe {
            with_links(node, |l| {
                l.place = Place::Unlinked;
                (l.prev.take(), l.next.take())
            })
        };
        match prev {
            // SAFETY: forwarded from the caller; `prev` is another node.
            Some(prev) => unsafe { with_links(prev, |l| l.next = next) },
            None => {
                debug_assert_eq!(self.head, Some(node));
                self.head = next;
            }
        }
        match next {
            // SAFETY: as above.
            Some(next) => unsafe { with_links(next, |l| l.prev = prev) },
            None => {
                debug_assert_eq!(self.tail, Some(node));
                self.tail = prev;
            }
        }
    }

    /// Takes the whole list, leaving this one empty.
    fn take(&mut self) -> List {
        List {
            head: self.head.take(),
            tail: self.tail.take(),
        }
    }
}

// === impl Level ===

impl Level {
    const EMPTY: Level = Level {
        occupied: 0,
        slots: [List::EMPTY; SLOTS],
    };

    /// The next occupied slot of level `level` at or after `elapsed`, and the
    /// tick it starts.
    fn next_expiration(&self, level: usize, elapsed: u64) -> Option<Expiration> {
        if self.occupied == 0 {
            return None;
        }
        let shift = SLOT_BITS as usize * level;
        let slot_ticks = 1u64 << shift;
        let level_ticks = slot_ticks << SLOT_BITS;
        let now_slot = (elapsed >> shift) as usize % SLOTS;
        // Rotate so that bit 0 is the slot after the current one: the lowest
        // set bit is then the next occupied slot, going round, and the
        // current slot itself comes last.
        let first = (now_slot + 1) % SLOTS;
        let ahead = self.occupied.rotate_right(first as u32).trailing_zeros() as usize;
        let slot = (first + ahead) % SLOTS;
        let level_start = elapsed & !(level_ticks - 1);
        let mut deadline = level_start + slot as u64 * slot_ticks;
        if deadline <= elapsed {
            // Only the top level's slots can be "behind" the current time
            // (the current slot or one before it): they hold timers more
            // than a rotation away, which wrap round. That slot comes round
            // again one rotation on. A lower level never has an occupied
            // slot behind its time: it was processed when time reached it.
            debug_assert_eq!(level, LEVELS - 1, "a slot behind the wheel's time");
            deadline += level_ticks;
        }
        Some(Expiration {
            level,
            slot,
            deadline,
        })
    }
}

/// The level a timer due at `when` goes to while the wheel is at `elapsed`:
/// the one for the highest 6-bit group in which the two differ.
fn level_for(elapsed: u64, when: u64) -> usize {
    // At least level 0; at most the top level, whose slots wrap round.
    let differing = ((elapsed ^ when) | (SLOTS as u64 - 1)).min(RANGE - 1);
    let top_bit = 63 - differing.leading_zeros() as usize;
    top_bit / SLOT_BITS as usize
}

/// The slot of level `level` for a timer due at `when`.
fn slot_for(when: u64, level: usize) -> usize {
    (when >> (SLOT_BITS as usize * level)) as usize % SLOTS
}

// === impl Wheel ===

impl Wheel {
    /// An empty wheel at tick 0.
    pub(crate) const fn new() -> Wheel {
        Wheel {
            elapsed: 0,
            levels: [Level::EMPTY; LEVELS],
            pending: List::EMPTY,
        }
    }

    /// The wheel's current time: every tick up to this one is processed.
    #[cfg(all(test, not(loom), feature = "alloc"))]
    pub(crate) fn elapsed(&self) -> u64 {
        self.elapsed
    }

    /// Arms `node` for tick `when`. Returns `false`, leaving the node out,
    /// if that tick has already been processed (`when <= elapsed()`): the
    /// timer is due now, and the caller completes it itself.
    ///
    /// # Safety
    ///
    /// - `node` is in no wheel, and stays valid and pinned until it leaves
    ///   this one (through [`poll`](Self::poll) or [`remove`](Self::remove));
    /// - its links are only reached through this wheel from now on.
    pub(crate) unsafe fn insert(&mut self, node: NonNull<Node>, when: u64) -> bool {
        if when <= self.elapsed {
            return false;
        }
        // SAFETY: forwarded from the caller.
        unsafe {
            with_links(node, |l| l.when = when);
            self.place(node, when);
        }
        true
    }

    /// Puts `node` (in no list, due at `when > elapsed`) in its slot.
    ///
    /// # Safety
    ///
    /// As [`insert`](Self::insert).
    unsafe fn place(&mut self, node: NonNull<Node>, when: u64) {
        debug_assert!(when > self.elapsed);
        let level = level_for(self.elapsed, when);
        let slot = slot_for(when, level);
        let lvl = &mut self.levels[level];
        let place = Place::Slot {
            level: level as u8,
            slot: slot as u8,
        };
        // SAFETY: forwarded from the caller.
        unsafe { lvl.slots[slot].push_back(node, place) };
        lvl.occupied |= 1 << slot;
    }

    /// Takes `node` out of the wheel if it is in it (armed, or due but not
    /// handed out yet). Returns whether it was.
    ///
    /// # Safety
    ///
    /// `node` is valid, and in this wheel or in none.
    pub(crate) unsafe fn remove(&mut self, node: NonNull<Node>) -> bool {
        // SAFETY: forwarded from the caller.
        let place = unsafe { with_links(node, |l| l.place) };
        match place {
            Place::Unlinked => false,
            Place::Pending => {
                // SAFETY: the node is in the pending list.
                unsafe { self.pending.remove(node) };
                true
            }
            Place::Slot { level, slot } => {
                let lvl = &mut self.levels[level as usize];
                let list = &mut lvl.slots[slot as usize];
                // SAFETY: the node is in this slot's list.
                unsafe { list.remove(node) };
                if list.is_empty() {
                    lvl.occupied &= !(1 << slot);
                }
                true
            }
        }
    }

    /// The tick by which the wheel next needs [`poll`](Self::poll)ing: the
    /// current one if a due timer waits to be handed out, else the start of
    /// the next occupied slot (for a higher level that is a cascade, which
    /// may fire nothing yet: it is never later than the first deadline).
    /// `None` if no timer is armed.
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        if !self.pending.is_empty() {
            return Some(self.elapsed);
        }
        self.next_expiration().map(|e| e.deadline)
    }

    fn next_expiration(&self) -> Option<Expiration> {
        // A timer sits at the lowest level whose block it shares with
        // `elapsed`, so every slot of a lower level comes before every
        // occupied slot of a higher one.
        self.levels
            .iter()
            .enumerate()
            .find_map(|(level, lvl)| lvl.next_expiration(level, self.elapsed))
    }

    /// Hands out the next timer due at or before tick `now`, unlinked, or
    /// `None` when there is none; then the wheel's time is `now`. Call it
    /// until `None` to fire everything due, in deadline order.
    ///
    /// # Safety
    ///
    /// Every node in the wheel is valid (as [`insert`](Self::insert)
    /// requires).
    pub(crate) unsafe fn poll(&mut self, now: u64) -> Option<NonNull<Node>> {
        loop {
            // SAFETY: forwarded from the caller.
            if let Some(node) = unsafe { self.pending.pop_front() } {
                return Some(node);
            }
            match self.next_expiration() {
                Some(exp) if exp.deadline <= now => {
                    // SAFETY: forwarded from the caller.
                    unsafe { self.process(exp) }
                }
                _ => {
                    self.elapsed = self.elapsed.max(now);
                    return None;
                }
            }
        }
    }

    /// Time reaches the slot of `exp`: its timers are due (level 0) or
    /// cascade to lower levels.
    ///
    /// # Safety
    ///
    /// As [`poll`](Self::poll).
    unsafe fn process(&mut self, exp: Expiration) {
        let lvl = &mut self.levels[exp.level];
        let mut list = lvl.slots[exp.slot].take();
        lvl.occupied &= !(1 << exp.slot);
        debug_assert!(exp.deadline >= self.elapsed);
        self.elapsed = exp.deadline;
        // SAFETY: forwarded from the caller; `list` holds this wheel's nodes.
        while let Some(node) = unsafe { list.pop_front() } {
            // SAFETY: as above.
            let when = unsafe { with_links(node, |l| l.when) };
            if when <= self.elapsed {
                // SAFETY: as above; the node was just unlinked.
                unsafe { self.pending.push_back(node, Place::Pending) };
            } else {
                // SAFETY: as above.
                unsafe { self.place(node, when) };
            }
        }
    }
}

impl fmt::Debug for Wheel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wheel")
            .field("elapsed", &self.elapsed)
            .field("next_deadline", &self.next_deadline())
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom), feature = "alloc"))]
mod tests;
