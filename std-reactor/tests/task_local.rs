//! Task-locals: set only while their scope is polled, nested scopes restore
//! the outer value, not inherited by spawned tasks, every value dropped once.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use pollen::executor::{Executor, StdPark};
use pollen::future::yield_now;
use pollen::task::{AccessError, LocalKey, TaskLocalFuture};

pollen::task_local! {
    /// A documented key.
    pub static NUMBER: u32;

    #[allow(dead_code)]
    pub(crate) static NAME: String;
    static COUNTED: Counted;
}

// Also reachable through the `task` module.
pollen::task::task_local! {
    static VIA_MODULE: u8
}

/// A value that counts its drops in the counter it points at.
struct Counted(&'static AtomicUsize);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn number() -> Result<u32, AccessError> {
    NUMBER.try_with(|n| *n)
}

fn poll_once<F: Future>(future: Pin<&mut F>) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(Waker::noop()))
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn value_is_visible_inside_a_scope_and_absent_outside() {
    static EXECUTOR: Executor = Executor::new();
    static PARK: StdPark = StdPark::new();

    assert!(number().is_err());
    assert_eq!(NUMBER.sync_scope(3, number), Ok(3));
    assert_eq!(NUMBER.sync_scope(4, || NUMBER.get()), 4);
    assert!(number().is_err());

    let seen = EXECUTOR.block_on(
        &PARK,
        NUMBER.scope(5, async {
            let first = NUMBER.get();
            yield_now().await;
            (first, NUMBER.with(|n| *n))
        }),
    );
    assert_eq!(seen, (5, 5));
    assert!(number().is_err());
    assert_eq!(VIA_MODULE.sync_scope(1, || VIA_MODULE.get()), 1);

    // Between polls the key is not set.
    let mut scoped = pin!(NUMBER.scope(6, async {
        yield_now().await;
        number()
    }));
    assert!(poll_once(scoped.as_mut()).is_pending());
    assert!(number().is_err());
    assert_eq!(poll_once(scoped.as_mut()), Poll::Ready(Ok(6)));
    assert!(number().is_err());
}

#[test]
fn with_panics_with_the_key_name_when_not_set() {
    let payload = catch_unwind(|| NUMBER.with(|n| *n)).unwrap_err();
    let message = panic_message(&*payload);
    assert!(message.contains("`NUMBER` is not set"), "{message}");

    let err = number().unwrap_err();
    assert_eq!(err.to_string(), "task-local value not set");
    let _: &dyn std::error::Error = &err;
}

#[test]
fn nested_scopes_restore_the_outer_value_between_polls() {
    static EXECUTOR: Executor = Executor::new();
    static PARK: StdPark = StdPark::new();

    EXECUTOR.block_on(
        &PARK,
        NUMBER.scope(1, async {
            assert_eq!(NUMBER.get(), 1);
            let inner = NUMBER.scope(2, async {
                assert_eq!(NUMBER.get(), 2);
                yield_now().await;
                assert_eq!(NUMBER.get(), 2);
                NUMBER.scope(3, yield_now()).await;
                assert_eq!(NUMBER.get(), 2);
                NUMBER.get()
            });
            assert_eq!(inner.await, 2);
            yield_now().await;
            assert_eq!(NUMBER.get(), 1);
        }),
    );

    // The same, polled by hand: after every poll of the inner scope the
    // outer value is back.
    NUMBER.sync_scope(10, || {
        let mut inner = pin!(NUMBER.scope(20, async {
            for _ in 0..3 {
                assert_eq!(NUMBER.get(), 20);
                yield_now().await;
            }
            NUMBER.get()
        }));
        let mut polls = 0;
        let output = loop {
            polls += 1;
            let poll = poll_once(inner.as_mut());
            assert_eq!(NUMBER.get(), 10, "outer value back after poll {polls}");
            if let Poll::Ready(output) = poll {
                break output;
            }
        };
        assert_eq!((output, polls), (20, 4));
    });
    assert!(number().is_err());
}

#[test]
fn interleaving_tasks_each_see_their_own_value() {
    static EXECUTOR: Executor = Executor::new();
    static PARK: StdPark = StdPark::new();
    static LOG: Mutex<Vec<(u32, u32)>> = Mutex::new(Vec::new());

    EXECUTOR.block_on(&PARK, async {
        let handles: Vec<_> = (1..=2)
            .map(|task| {
                EXECUTOR.spawn(NUMBER.scope(task, async move {
                    for step in 0..4 {
                        assert_eq!(NUMBER.get(), task);
                        LOG.lock().unwrap().push((task, step));
                        yield_now().await;
                    }
                }))
            })
            .collect();
        for handle in handles {
            handle.await.unwrap();
        }
    });

    let log = LOG.lock().unwrap().clone();
    assert_eq!(log.len(), 8);
    // The tasks really took turns on the one thread.
    let order: Vec<u32> = log.iter().map(|&(task, _)| task).collect();
    assert_eq!(order, [1, 2, 1, 2, 1, 2, 1, 2]);
    assert!(number().is_err());
}

#[test]
fn spawned_tasks_do_not_inherit_the_value() {
    static EXECUTOR: Executor = Executor::new();
    static PARK: StdPark = StdPark::new();

    EXECUTOR.block_on(
        &PARK,
        NUMBER.scope(7, async {
            let child = EXECUTOR.spawn(async {
                yield_now().await;
                number()
            });
            assert!(child.await.unwrap().is_err());
            assert_eq!(NUMBER.get(), 7);

            // Also when spawned from a `sync_scope`.
            let child = NUMBER.sync_scope(8, || EXECUTOR.spawn(async { number() }));
            assert!(child.await.unwrap().is_err());
        }),
    );
}

/// Records, when dropped, the value of `NUMBER` it sees.
struct ReadOnDrop(Arc<Mutex<Vec<Result<u32, AccessError>>>>);

impl Drop for ReadOnDrop {
    fn drop(&mut self) {
        self.0.lock().unwrap().push(number());
    }
}

/// A future that is ready at once and holds its `ReadOnDrop` until dropped.
struct ReadyHolding {
    _guard: ReadOnDrop,
}

impl Future for ReadyHolding {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        Poll::Ready(())
    }
}

#[test]
fn the_value_is_set_while_the_inner_future_is_dropped() {
    let seen = Arc::new(Mutex::new(Vec::new()));

    // Dropped mid-way, inside an enclosing scope: the inner value is seen,
    // and the outer value is back afterwards.
    NUMBER.sync_scope(1, || {
        let guard = ReadOnDrop(seen.clone());
        let mut scoped = Box::pin(NUMBER.scope(2, async move {
            let _guard = guard;
            yield_now().await;
        }));
        assert!(poll_once(scoped.as_mut()).is_pending());
        drop(scoped);
        assert_eq!(NUMBER.get(), 1);
    });
    // Dropped before its first poll.
    let guard = ReadOnDrop(seen.clone());
    drop(NUMBER.scope(3, async move {
        let _guard = guard;
    }));
    // Completed: a finished inner future is dropped inside its last poll,
    // even one that keeps its fields until it is dropped.
    let mut scoped = pin!(NUMBER.scope(
        4,
        ReadyHolding {
            _guard: ReadOnDrop(seen.clone())
        }
    ));
    assert!(poll_once(scoped.as_mut()).is_ready());
    assert_eq!(seen.lock().unwrap().len(), 3);
    assert!(number().is_err());

    assert_eq!(*seen.lock().unwrap(), [Ok(2), Ok(3), Ok(4)]);
    assert!(number().is_err());
}

#[test]
fn take_value_returns_the_value_then_none() {
    // Mid-way: the inner future runs on without the value.
    let mut scoped = pin!(NUMBER.scope(5, async {
        let before = number();
        yield_now().await;
        (before, number())
    }));
    assert!(poll_once(scoped.as_mut()).is_pending());
    assert_eq!(scoped.as_mut().take_value(), Some(5));
    assert_eq!(scoped.as_mut().take_value(), None);
    assert!(number().is_err());
    let output = poll_once(scoped.as_mut());
    assert!(matches!(output, Poll::Ready((Ok(5), Err(_)))));

    // After completion.
    let mut scoped = pin!(NAME.scope("pollen".to_string(), async { NAME.get() }));
    assert_eq!(
        poll_once(scoped.as_mut()),
        Poll::Ready("pollen".to_string())
    );
    assert_eq!(scoped.as_mut().take_value().as_deref(), Some("pollen"));
    assert_eq!(scoped.as_mut().take_value(), None);
}

#[test]
fn a_panic_in_the_scoped_future_leaves_the_key_as_it_was() {
    let mut scoped = pin!(NUMBER.scope(1, async {
        yield_now().await;
        panic!("boom");
    }));
    assert!(poll_once(scoped.as_mut()).is_pending());
    let payload = catch_unwind(AssertUnwindSafe(|| poll_once(scoped.as_mut()))).unwrap_err();
    assert_eq!(panic_message(&*payload), "boom");
    assert!(number().is_err(), "key unset after the panic");

    // Inside an enclosing scope the outer value is back.
    NUMBER.sync_scope(2, || {
        let mut scoped = pin!(NUMBER.scope(3, async { panic!("boom") }));
        let result = catch_unwind(AssertUnwindSafe(|| poll_once(scoped.as_mut())));
        assert!(result.is_err());
        assert_eq!(NUMBER.get(), 2);

        let result = catch_unwind(|| NUMBER.sync_scope(4, || panic!("boom")));
        assert!(result.is_err());
        assert_eq!(NUMBER.get(), 2);
    });
    assert!(number().is_err());
}

#[test]
fn polling_after_completion_panics() {
    let mut scoped = pin!(NUMBER.scope(1, async {}));
    assert!(poll_once(scoped.as_mut()).is_ready());
    let payload = catch_unwind(AssertUnwindSafe(|| poll_once(scoped.as_mut()))).unwrap_err();
    assert!(panic_message(&*payload).contains("polled after completion"));
    assert!(number().is_err());
}

#[test]
fn every_value_is_dropped_exactly_once() {
    static EXECUTOR: Executor = Executor::new();
    static PARK: StdPark = StdPark::new();

    // Completed, then dropped.
    static COMPLETED: AtomicUsize = AtomicUsize::new(0);
    EXECUTOR.block_on(
        &PARK,
        COUNTED.scope(Counted(&COMPLETED), async {
            yield_now().await;
            assert!(COUNTED.with(|c| std::ptr::eq(c.0, &COMPLETED)));
        }),
    );
    assert_eq!(COMPLETED.load(Ordering::SeqCst), 1);

    // Dropped before its first poll, and mid-way.
    static UNPOLLED: AtomicUsize = AtomicUsize::new(0);
    drop(COUNTED.scope(Counted(&UNPOLLED), async {}));
    assert_eq!(UNPOLLED.load(Ordering::SeqCst), 1);
    static MIDWAY: AtomicUsize = AtomicUsize::new(0);
    let mut scoped = Box::pin(COUNTED.scope(Counted(&MIDWAY), yield_now()));
    assert!(poll_once(scoped.as_mut()).is_pending());
    assert_eq!(MIDWAY.load(Ordering::SeqCst), 0);
    drop(scoped);
    assert_eq!(MIDWAY.load(Ordering::SeqCst), 1);

    // Taken out: dropped by the taker, not again by the future.
    static TAKEN: AtomicUsize = AtomicUsize::new(0);
    let mut scoped = Box::pin(COUNTED.scope(Counted(&TAKEN), async {}));
    assert!(poll_once(scoped.as_mut()).is_ready());
    let value = scoped.as_mut().take_value();
    drop(scoped);
    assert_eq!(TAKEN.load(Ordering::SeqCst), 0);
    drop(value);
    assert_eq!(TAKEN.load(Ordering::SeqCst), 1);

    // `sync_scope`, and a panicking poll.
    static SYNC: AtomicUsize = AtomicUsize::new(0);
    COUNTED.sync_scope(Counted(&SYNC), || {
        assert_eq!(SYNC.load(Ordering::SeqCst), 0);
    });
    assert_eq!(SYNC.load(Ordering::SeqCst), 1);
    static PANICKED: AtomicUsize = AtomicUsize::new(0);
    let mut scoped = Box::pin(COUNTED.scope(Counted(&PANICKED), async { panic!("boom") }));
    assert!(catch_unwind(AssertUnwindSafe(|| poll_once(scoped.as_mut()))).is_err());
    assert_eq!(PANICKED.load(Ordering::SeqCst), 0);
    drop(scoped);
    assert_eq!(PANICKED.load(Ordering::SeqCst), 1);

    assert!(COUNTED.try_with(|_| ()).is_err());
}

#[test]
fn reading_inside_with_is_fine_entering_a_scope_panics() {
    NUMBER.sync_scope(1, || {
        let sum = NUMBER.with(|a| NUMBER.with(|b| a + b));
        assert_eq!(sum, 2);

        let payload = catch_unwind(|| NUMBER.with(|_| NUMBER.sync_scope(2, || ()))).unwrap_err();
        let message = panic_message(&*payload);
        assert!(
            message.contains("`NUMBER` while its value is borrowed"),
            "{message}"
        );

        let payload = catch_unwind(|| {
            NUMBER.with(|_| {
                let mut scoped = pin!(NUMBER.scope(3, async {}));
                poll_once(scoped.as_mut())
            })
        })
        .unwrap_err();
        assert!(panic_message(&*payload).contains("borrowed"));

        // Nothing changed.
        assert_eq!(NUMBER.get(), 1);
    });
    assert!(number().is_err());
}

#[test]
fn debug_output_does_not_need_a_debug_value() {
    struct Opaque;
    pollen::task_local! {
        static OPAQUE: Opaque;
    }

    assert_eq!(
        format!("{:?}", &OPAQUE),
        "LocalKey { name: \"OPAQUE\", .. }"
    );
    let scoped = OPAQUE.scope(Opaque, async {});
    assert_eq!(
        format!("{scoped:?}"),
        "TaskLocalFuture { local: LocalKey { name: \"OPAQUE\", .. }, has_value: true, \
         completed: false }"
    );
    assert_eq!(format!("{:?}", number().unwrap_err()), "AccessError { .. }");
}

#[test]
fn keys_and_futures_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<LocalKey<u32>>();
    send_sync::<TaskLocalFuture<u32, std::future::Ready<()>>>();
    send_sync::<AccessError>();
}
