//! Every public type is `Send`/`Sync` where it should be.

use pollen_core::executor::{Executor, Spawner, SpinPark};
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
