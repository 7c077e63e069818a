//! `spawn_local`: tasks that are not `Send`.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use pollen::runtime::Builder;
use pollen::task::spawn_local;

fn runtime() -> pollen::runtime::Runtime {
    Builder::new_current_thread().enable_all().build().unwrap()
}

#[test]
fn local_tasks_share_rc_state_and_return_outputs() {
    let rt = runtime();
    let total = rt.block_on(async {
        let counter = Rc::new(Cell::new(0));
        let tasks: Vec<_> = (0..10)
            .map(|i| {
                let counter = counter.clone();
                spawn_local(async move {
                    pollen::future::yield_now().await;
                    counter.set(counter.get() + i);
                    Rc::new(i) // a `!Send` output
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        counter.get()
    });
    assert_eq!(total, 45);
}

#[test]
fn a_local_task_woken_from_another_thread_runs_on_its_own() {
    let rt = runtime();
    rt.block_on(async {
        let (tx, rx) = pollen::channel::oneshot::channel();
        let me = std::thread::current().id();
        let task = spawn_local(async move {
            let not_send = Rc::new(());
            let value = rx.await.unwrap();
            drop(not_send);
            (value, std::thread::current().id())
        });
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(10));
            tx.send(3).unwrap();
        });
        assert_eq!(task.await.unwrap(), (3, me));
    });
}

struct CountDrop(Rc<Cell<usize>>);

impl Drop for CountDrop {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

#[test]
fn dropping_the_runtime_on_its_thread_drops_local_tasks() {
    let drops = Rc::new(Cell::new(0));
    let rt = runtime();
    rt.block_on(async {
        for _ in 0..3 {
            let guard = CountDrop(drops.clone());
            spawn_local(async move {
                let _guard = guard;
                std::future::pending::<()>().await;
            });
        }
        pollen::future::yield_now().await;
    });
    assert_eq!(drops.get(), 0);
    drop(rt);
    assert_eq!(drops.get(), 3);
}

#[test]
#[should_panic(expected = "must be called on a thread that drives a runtime")]
fn spawn_local_outside_a_runtime_panics() {
    spawn_local(async {});
}

#[test]
fn another_thread_cannot_spawn_local_tasks_on_the_same_runtime() {
    let rt = std::sync::Arc::new(runtime());
    rt.block_on(async {
        spawn_local(async {}).await.unwrap();
    });
    let other = {
        let rt = rt.clone();
        std::thread::spawn(move || rt.block_on(async { spawn_local(async {}).await.is_ok() }))
    };
    let error = other.join().unwrap_err();
    let message = error.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("local tasks belong to thread"),
        "{message}"
    );
}
