//! Every public type is `Send`/`Sync` where it should be.

use pollen_core::executor::{Executor, Spawner, SpinPark};
use pollen_core::sync::blocking_mutex::Mutex;
use pollen_core::sync::{NoopRawMutex, SpinRawMutex};
use pollen_core::task::{
    AbortHandle, JoinError, JoinHandle, Runnable, SpawnError, TaskArena, TaskPool, TaskStorage,
};

fn send<T: Send>() {}
fn sync<T: Sync>() {}

type Fut = core::future::Ready<u32>;

#[test]
fn public_types_are_send_and_sync() {
    send::<Executor>();
    sync::<Executor>();
    send::<Spawner>();
    sync::<Spawner>();
    sync::<SpinPark>();
    send::<JoinHandle<u32>>();
    sync::<JoinHandle<u32>>();
    send::<AbortHandle>();
    sync::<AbortHandle>();
    send::<Runnable>();
    send::<JoinError>();
    sync::<JoinError>();
    send::<SpawnError>();
    sync::<SpawnError>();
    sync::<TaskStorage<Fut>>();
    sync::<TaskPool<Fut, 4>>();
    sync::<TaskArena<64, 4>>();
    #[cfg(feature = "std")]
    sync::<pollen_core::executor::StdPark>();
    send::<NoopRawMutex>();
    send::<SpinRawMutex>();
    sync::<SpinRawMutex>();
    send::<Mutex<NoopRawMutex, u32>>();
    send::<Mutex<SpinRawMutex, u32>>();
    sync::<Mutex<SpinRawMutex, u32>>();
    // `T: Send` is enough: no `&T` is ever shared.
    sync::<Mutex<SpinRawMutex, core::cell::Cell<u32>>>();
    {
        use pollen_core::sync::{
            Acquire, AcquireError, Notified, Notify, Semaphore, SemaphorePermit, TryAcquireError,
        };
        send::<Notify>();
        sync::<Notify>();
        send::<Notified<'static>>();
        sync::<Notified<'static>>();
        send::<Semaphore>();
        sync::<Semaphore>();
        send::<Acquire<'static>>();
        sync::<Acquire<'static>>();
        send::<SemaphorePermit<'static>>();
        sync::<SemaphorePermit<'static>>();
        send::<AcquireError>();
        sync::<TryAcquireError>();
        use pollen_core::sync::{Lock, Mutex as AsyncMutex, MutexGuard, TryLockError};
        send::<AsyncMutex<u32>>();
        sync::<AsyncMutex<u32>>();
        // `T: Send` is enough for the mutex, as for `std::sync::Mutex`.
        sync::<AsyncMutex<core::cell::Cell<u32>>>();
        send::<Lock<'static, u32>>();
        send::<MutexGuard<'static, u32>>();
        sync::<MutexGuard<'static, u32>>();
        send::<TryLockError>();
        sync::<TryLockError>();
        #[cfg(feature = "alloc")]
        {
            use pollen_core::sync::{
                CancellationToken, DropGuard, OwnedMutexGuard, OwnedSemaphorePermit,
            };
            send::<OwnedSemaphorePermit>();
            sync::<OwnedSemaphorePermit>();
            send::<OwnedMutexGuard<u32>>();
            sync::<OwnedMutexGuard<u32>>();
            use pollen_core::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard};
            send::<OwnedRwLockReadGuard<u32>>();
            sync::<OwnedRwLockReadGuard<u32>>();
            send::<OwnedRwLockWriteGuard<u32>>();
            sync::<OwnedRwLockWriteGuard<u32>>();
            send::<CancellationToken>();
            sync::<CancellationToken>();
            send::<DropGuard>();
            sync::<DropGuard>();
        }
        use pollen_core::sync::{Barrier, BarrierWaitResult, OnceCell, SetError};
        send::<Barrier>();
        sync::<Barrier>();
        send::<BarrierWaitResult>();
        send::<OnceCell<u32>>();
        sync::<OnceCell<u32>>();
        send::<SetError<u32>>();
        use pollen_core::sync::{Read, RwLock, RwLockReadGuard, RwLockWriteGuard, Write};
        send::<RwLock<u32>>();
        sync::<RwLock<u32>>();
        send::<Read<'static, u32>>();
        send::<Write<'static, u32>>();
        send::<RwLockReadGuard<'static, u32>>();
        sync::<RwLockReadGuard<'static, u32>>();
        send::<RwLockWriteGuard<'static, u32>>();
        sync::<RwLockWriteGuard<'static, u32>>();
    }
    {
        use pollen_core::channel::oneshot::{Channel, Receiver, RecvError, Sender, TryRecvError};
        send::<Channel<u32>>();
        sync::<Channel<u32>>();
        // `T: Send` is enough: the value moves, it is never shared.
        sync::<Channel<core::cell::Cell<u32>>>();
        send::<Sender<'static, u32>>();
        sync::<Sender<'static, u32>>();
        send::<Receiver<'static, u32>>();
        sync::<Receiver<'static, u32>>();
        send::<RecvError>();
        sync::<TryRecvError>();
    }
    {
        use pollen_core::channel::broadcast::{
            Channel, Receiver, RecvError, SendError, Sender, TryRecvError,
        };
        send::<Channel<u32, 4>>();
        sync::<Channel<u32, 4>>();
        send::<Sender<'static, u32>>();
        sync::<Sender<'static, u32>>();
        send::<Receiver<'static, u32>>();
        sync::<Receiver<'static, u32>>();
        send::<RecvError>();
        sync::<TryRecvError>();
        sync::<SendError<u32>>();
    }
    {
        use pollen_core::channel::watch::{Channel, Receiver, RecvError, Ref, SendError, Sender};
        send::<Ref<u32>>();
        sync::<Ref<u32>>();
        send::<Channel<u32>>();
        sync::<Channel<u32>>();
        send::<Sender<'static, u32>>();
        sync::<Sender<'static, u32>>();
        send::<Receiver<'static, u32>>();
        sync::<Receiver<'static, u32>>();
        send::<RecvError>();
        sync::<SendError<u32>>();
    }
    {
        use pollen_core::channel::mpsc::{
            Channel, Permit, Receiver, Reserve, SendError, Sender, TryRecvError, TrySendError,
        };
        send::<Channel<u32, 4>>();
        sync::<Channel<u32, 4>>();
        sync::<Channel<core::cell::Cell<u32>, 4>>();
        send::<Sender<'static, u32>>();
        sync::<Sender<'static, u32>>();
        send::<Receiver<'static, u32>>();
        sync::<Receiver<'static, u32>>();
        send::<Permit<'static, u32>>();
        send::<Reserve<'static, u32>>();
        send::<SendError<u32>>();
        sync::<TrySendError<u32>>();
        sync::<TryRecvError>();
        #[cfg(feature = "alloc")]
        {
            use pollen_core::channel::mpsc::{UnboundedReceiver, UnboundedSender};
            send::<UnboundedSender<u32>>();
            sync::<UnboundedSender<u32>>();
            send::<UnboundedReceiver<u32>>();
            sync::<UnboundedReceiver<u32>>();
        }
    }
    {
        use pollen_core::time::*;
        send::<Instant>();
        sync::<Instant>();
        send::<Elapsed>();
        sync::<Elapsed>();
        send::<Sleep>();
        sync::<Sleep>();
        send::<Timeout<Fut>>();
        sync::<Timeout<Fut>>();
        send::<Interval>();
        sync::<Interval>();
        send::<Tick<'static>>();
        send::<ManualClock>();
        sync::<ManualClock>();
        send::<PausableClock<ManualClock>>();
        sync::<PausableClock<ManualClock>>();
        sync::<Timer<ManualClock, SpinRawMutex>>();
        sync::<TimerPark<ManualClock, SpinRawMutex, SpinPark>>();
    }
    #[cfg(feature = "std")]
    {
        send::<pollen_core::sync::StdRawMutex>();
        sync::<pollen_core::sync::StdRawMutex>();
        sync::<Mutex<pollen_core::sync::StdRawMutex, u32>>();
    }
}

/// `true` when `T: Sync` (inherent impl) and `false` otherwise (trait
/// fallback), checked without failing to compile.
macro_rules! is_sync {
    ($t:ty) => {{
        #[allow(dead_code)]
        trait NotSync {
            fn is_sync() -> bool {
                false
            }
        }
        impl<T> NotSync for T {}
        struct Probe<T>(core::marker::PhantomData<T>);
        impl<T: Sync> Probe<T> {
            #[allow(dead_code)]
            fn is_sync() -> bool {
                true
            }
        }
        <Probe<$t>>::is_sync()
    }};
}

#[test]
fn one_context_locks_are_not_sync() {
    assert!(!is_sync!(NoopRawMutex));
    assert!(!is_sync!(Mutex<NoopRawMutex, u32>));
    // Sharing a `!Send` value behind a lock would move it between threads.
    assert!(!is_sync!(Mutex<SpinRawMutex, std::rc::Rc<u32>>));
    assert!(is_sync!(Mutex<SpinRawMutex, u32>));
}

#[test]
fn join_handle_of_non_send_output_is_not_send() {
    // Compile-time property, checked with a negative-impl probe.
    trait NotSend {
        fn is_send() -> bool {
            false
        }
    }
    impl<T> NotSend for T {}
    struct Probe<T>(core::marker::PhantomData<T>);
    impl<T: Send> Probe<T> {
        #[allow(dead_code)]
        fn is_send() -> bool {
            true
        }
    }
    assert!(Probe::<JoinHandle<u32>>::is_send());
    assert!(!<Probe<JoinHandle<std::rc::Rc<u32>>> as NotSend>::is_send());
}
