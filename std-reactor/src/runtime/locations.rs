//! Spawn locations by number, for the task registry: an entry keeps a
//! two-byte number instead of an eight-byte `&'static Location`.
//!
//! A program has few spawn sites, and spawns from each again and again:
//! each thread keeps the numbers of the last few locations it saw, so a
//! spawn takes the process-wide table's lock only the first time its site
//! shows up on its thread (or when another site pushed it out of the
//! thread's eight slots).

use std::cell::Cell;
use std::collections::HashMap;
use std::panic::Location;
use std::sync::{Mutex, MutexGuard, OnceLock};

/// A location's number.
pub(crate) type Number = u16;

/// Number 0: where the numbers ran out (past 65,535 distinct sites), so
/// the site is not known. A program has far fewer.
const UNKNOWN: Number = 0;

/// Slots per thread, a power of two; a site's address picks its slot.
const CACHED: usize = 8;

struct Table {
    /// Locations by number; `list[0]` stands for `UNKNOWN`.
    list: Vec<&'static Location<'static>>,
    /// Numbers by location (by value: the same site may have several
    /// addresses, one per crate that inlined the caller).
    numbers: HashMap<&'static Location<'static>, Number>,
}

thread_local! {
    /// This thread's last locations: the address and its number.
    static RECENT: [Cell<(usize, Number)>; CACHED] =
        const { [const { Cell::new((0, UNKNOWN)) }; CACHED] };
}

fn table() -> MutexGuard<'static, Table> {
    static TABLE: OnceLock<Mutex<Table>> = OnceLock::new();
    TABLE
        .get_or_init(|| {
            Mutex::new(Table {
                list: vec![Location::caller()],
                numbers: HashMap::new(),
            })
        })
        .lock()
        // Nothing in a critical section here panics halfway.
        .unwrap_or_else(|e| e.into_inner())
}

/// The number of `location`.
pub(crate) fn number(location: &'static Location<'static>) -> Number {
    let address = std::ptr::from_ref(location).addr();
    RECENT.with(|recent| {
        let slot = &recent[(address >> 3) % CACHED];
        let (cached, number) = slot.get();
        if cached == address {
            return number;
        }
        let number = intern(location);
        slot.set((address, number));
        number
    })
}

fn intern(location: &'static Location<'static>) -> Number {
    let mut table = table();
    if let Some(&number) = table.numbers.get(location) {
        return number;
    }
    let Ok(number) = Number::try_from(table.list.len()) else {
        return UNKNOWN;
    };
    table.list.push(location);
    table.numbers.insert(location, number);
    number
}

/// Runs `f` with a way to look numbers up (one lock for a whole dump).
pub(crate) fn with_lookup<R>(
    f: impl FnOnce(&dyn Fn(Number) -> &'static Location<'static>) -> R,
) -> R {
    let table = table();
    f(&|number| table.list[usize::from(number)])
}

#[cfg(test)]
mod tests {
    use std::panic::Location;

    use super::{number, with_lookup};

    #[test]
    fn a_location_keeps_its_number_and_is_found_by_it() {
        let here = Location::caller();
        let there: &'static Location<'static> = Location::caller();
        let (a, b) = (number(here), number(there));
        assert_eq!(number(here), a, "the same site, the same number");
        assert_ne!(a, b, "two sites (two lines), two numbers");
        with_lookup(|lookup| {
            assert_eq!(lookup(a), here);
            assert_eq!(lookup(b), there);
        });
        // From another thread (its own cache), the same numbers.
        let (c, d) = std::thread::spawn(move || (number(here), number(there)))
            .join()
            .expect("no panic");
        assert_eq!((c, d), (a, b));
    }
}
