//! The async waits outside this library's pools and across threads: `Send` (the waits and the
//! stream can be spawned on tokio's multi-thread runtime and live in pool tasks), waits driven
//! by tokio (multi-thread and current-thread, with timeouts on the library's timer) and by
//! `futures::executor::block_on` / `LocalPool` / `FuturesUnordered`, a stream moved to another
//! thread between items (its later items wake the new thread's waker), `futures::select!` over
//! a wait and a stream, and waits on futures of several pools at once.
#![cfg(not(feature = "loom"))]

use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use betterconcurrent::{
    as_completed_async, wait_async, yield_until_done_timeout, AsCompletedStream, Executor, Future,
    ReturnWhen, Waited,
};
use futures::stream::FuturesUnordered;
use futures::{FutureExt as _, StreamExt as _};

mod common;
use common::watchdog::within;

fn assert_send<S: Send>(s: S) -> S {
    s
}

fn assert_send_static<S: Send + 'static>(s: S) -> S {
    s
}

#[test]
fn the_waits_and_the_stream_are_send_and_static() {
    // T: Send + Sync, including a T that is not Clone.
    struct NotClone(#[allow(dead_code)] Mutex<u32>);
    let fs: Vec<Future<NotClone>> = (0..2).map(|_| Future::new()).collect();
    // (`wait_async` and `yield_until_done_timeout` return `impl Future` types that capture the
    // input iterator's type, so with `&fs` they borrow `fs` although they own clones: they are
    // `Send` but not `'static`; the stream is both.)
    let w = assert_send(wait_async(&fs, None, ReturnWhen::AllCompleted));
    let s: AsCompletedStream<NotClone> = assert_send_static(as_completed_async(&fs, None));
    let y = assert_send(yield_until_done_timeout(&fs, None));
    // Inside an async block held across an await, too (what a pool task needs).
    let held = assert_send(async move {
        let mut s = s;
        let _ = s.next().await;
        let _: Waited<NotClone> = w.await;
        y.await
    });
    drop(held);
    fn is_sync<S: Sync>(_: &S) {}
    let s = as_completed_async(&fs, None);
    is_sync(&s);
    fn is_unpin<S: Unpin>(_: &S) {}
    is_unpin(&s);
}

#[test]
fn tokio_multi_thread_tasks_wait_on_pool_futures() {
    within(30, || {
        let pool = common::pool(2);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .build()
            .unwrap();
        let gate = Future::<()>::new();
        let fs: Vec<Future<u32>> = (0..20u32)
            .map(|i| {
                let gate = gate.clone();
                pool.submit_async(async move {
                    (&gate).await.unwrap();
                    i
                })
                .unwrap()
            })
            .collect();
        let fs2 = fs.clone();
        let a = rt.spawn(async move {
            wait_async(&fs2, None, ReturnWhen::AllCompleted)
                .await
                .done
                .len()
        });
        let fs3 = fs.clone();
        let b = rt.spawn(async move {
            let mut s = as_completed_async(&fs3, Some(Duration::from_secs(20)));
            let mut n = 0;
            while let Some(item) = s.next().await {
                item.unwrap();
                n += 1;
                tokio::task::yield_now().await;
            }
            n
        });
        let fs4 = fs.clone();
        let c = rt.spawn(async move {
            // Times out first on the library's timer under tokio.
            let timed = yield_until_done_timeout(&fs4, Some(Duration::from_millis(10))).await;
            let w = wait_async(
                &fs4,
                Some(Duration::from_millis(10)),
                ReturnWhen::FirstCompleted,
            )
            .await;
            (timed, w.done.len())
        });
        let (timed, first_done) = rt.block_on(c).unwrap();
        assert_eq!((timed, first_done), (false, 0));
        gate.set_result(()).unwrap();
        assert_eq!(rt.block_on(a).unwrap(), 20);
        assert_eq!(rt.block_on(b).unwrap(), 20);
        pool.join().unwrap();
    });
}

#[test]
fn tokio_current_thread_with_timeouts_and_select() {
    within(30, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            let never = Future::<u32>::new();
            let soon = Future::<u32>::new();
            let s2 = soon.clone();
            // A tokio task completes `soon` after a tokio sleep.
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                s2.set_result(5).unwrap();
            });
            let w = wait_async([&never, &soon], Some(Duration::from_secs(20)), ReturnWhen::FirstCompleted).await;
            assert_eq!(w.done.len(), 1);
            assert!(w.done[0] == soon);
            let start = Instant::now();
            let w = wait_async([&never], Some(Duration::from_millis(20)), ReturnWhen::AllCompleted).await;
            assert_eq!(w.not_done.len(), 1);
            assert!(start.elapsed() >= Duration::from_millis(20));
            // select! between a wait and a tokio sleep: the wait wins when its future completes.
            let late = Future::<u32>::new();
            let l2 = late.clone();
            tokio::spawn(async move { l2.set_result(1).unwrap() });
            tokio::select! {
                w = wait_async([&late, &never], None, ReturnWhen::FirstCompleted) => {
                    assert_eq!(w.done.len(), 1);
                }
                _ = tokio::time::sleep(Duration::from_secs(20)) => panic!("the wait lost a wake under tokio"),
            }
            assert_eq!(never.waiter_count(), 0);
        });
    });
}

#[test]
fn block_on_local_pool_and_futures_unordered() {
    within(30, || {
        let fs: Vec<Future<u32>> = (0..10).map(|_| Future::new()).collect();
        let completer = {
            let fs = fs.clone();
            std::thread::spawn(move || {
                // Complete each once some wait watches it.
                for (i, f) in fs.iter().enumerate().rev() {
                    while f.waiter_count() == 0 {
                        std::thread::yield_now();
                    }
                    f.set_result(i as u32).unwrap();
                }
            })
        };
        // Many waits on the same futures inside one FuturesUnordered on one thread.
        let all = FuturesUnordered::new();
        for k in 0..12 {
            let fs = fs.clone();
            all.push(
                async move {
                    match k % 3 {
                        0 => wait_async(&fs, None, ReturnWhen::AllCompleted)
                            .await
                            .done
                            .len(),
                        1 => as_completed_async(&fs, None).count().await,
                        _ => usize::from(yield_until_done_timeout(&fs, None).await) * 10,
                    }
                }
                .boxed(),
            );
        }
        let results: Vec<usize> = futures::executor::block_on(all.collect());
        completer.join().unwrap();
        assert_eq!(results.len(), 12);
        assert!(results.iter().all(|&n| n == 10), "{results:?}");
        // LocalPool with spawned tasks.
        let mut local = futures::executor::LocalPool::new();
        let spawner = local.spawner();
        let g = Future::<u32>::new();
        let (tx, rx) = mpsc::channel();
        {
            let g = g.clone();
            let tx = tx.clone();
            futures::task::LocalSpawnExt::spawn_local(&spawner, async move {
                let w = wait_async([&g], None, ReturnWhen::FirstCompleted).await;
                tx.send(w.done.len()).unwrap();
            })
            .unwrap();
        }
        local.run_until_stalled();
        assert!(rx.try_recv().is_err());
        g.set_result(1).unwrap();
        local.run_until_stalled();
        assert_eq!(rx.try_recv().unwrap(), 1);
    });
}

/// A stream polled on one thread, moved to another between items: the later completions must
/// wake the new thread (the old thread has returned and would never poll again).
#[test]
fn a_stream_moved_between_threads_between_items() {
    within(30, || {
        let fs: Vec<Future<u32>> = (0..6).map(|_| Future::new()).collect();
        let mut s = as_completed_async(&fs, None);
        let mut got = Vec::new();
        for hop in 0..3 {
            let fs2 = fs.clone();
            let (s2, items) = std::thread::spawn(move || {
                let mut s = s;
                futures::executor::block_on(async {
                    // Leave the stream registered with this thread's waker first...
                    let mut first = std::pin::pin!(s.next());
                    assert!(futures::poll!(first.as_mut()).is_pending());
                    // ...then complete two futures from a third thread.
                    let completer = std::thread::spawn(move || {
                        fs2[hop * 2 + 1].set_result((hop * 2 + 1) as u32).unwrap();
                        fs2[hop * 2].set_result((hop * 2) as u32).unwrap();
                    });
                    let a = first.await.unwrap().unwrap();
                    let b = s.next().await.unwrap().unwrap();
                    completer.join().unwrap();
                    let items = vec![
                        *a.try_result().unwrap().unwrap(),
                        *b.try_result().unwrap().unwrap(),
                    ];
                    (s, items)
                })
            })
            .join()
            .unwrap();
            s = s2;
            got.extend(items);
        }
        assert_eq!(got, [1, 0, 3, 2, 5, 4]);
        assert!(futures::executor::block_on(s.next()).is_none());
    });
}

/// The same stream passed between pool tasks between items: each item is taken by a new task
/// that suspends on it.
#[test]
fn a_stream_passed_between_pool_tasks() {
    within(30, || {
        let pool = common::pool(1);
        let gates: Vec<Future<()>> = (0..4).map(|_| Future::new()).collect();
        let executor = pool.executor();
        let children: Vec<Future<u32>> = (0..4u32)
            .map(|i| {
                let gate = gates[i as usize].clone();
                executor
                    .submit_async(async move {
                        (&gate).await.unwrap();
                        i
                    })
                    .unwrap()
            })
            .collect();
        let stream = Arc::new(Mutex::new(Some(as_completed_async(&children, None))));
        let mut got = Vec::new();
        for &i in &[2usize, 0, 3, 1] {
            let stream = stream.clone();
            let (reached_tx, reached_rx) = mpsc::channel();
            let taker = pool
                .submit_async(async move {
                    let mut s = stream.lock().unwrap().take().unwrap();
                    let next = s.next();
                    let mut next = std::pin::pin!(next);
                    let first = futures::poll!(next.as_mut());
                    reached_tx.send(()).unwrap();
                    let item = match first {
                        std::task::Poll::Ready(item) => item,
                        std::task::Poll::Pending => next.await,
                    };
                    *stream.lock().unwrap() = Some(s);
                    *item.unwrap().unwrap().try_result().unwrap().unwrap()
                })
                .unwrap();
            reached_rx.recv().unwrap();
            gates[i].set_result(()).unwrap();
            got.push(*taker.result().unwrap());
        }
        assert_eq!(got, [2, 0, 3, 1]);
        let left = stream.lock().unwrap().take().unwrap();
        assert!(futures::executor::block_on(left.collect::<Vec<_>>()).is_empty());
        pool.join().unwrap();
    });
}

#[test]
fn select_over_a_wait_and_a_stream_in_a_pool_task() {
    within(30, || {
        let pool = common::pool(1);
        let parent = pool
            .submit_async(async move {
                let executor = Executor::current().unwrap();
                let never = Future::<u32>::new();
                let kids: Vec<Future<u32>> = (0..5)
                    .map(|i| executor.submit(move || i).unwrap())
                    .collect();
                let mut stream = as_completed_async(&kids, None).fuse();
                let mut wait =
                    std::pin::pin!(wait_async([&never], None, ReturnWhen::AllCompleted).fuse());
                let mut n = 0;
                loop {
                    futures::select! {
                        item = stream.next() => match item {
                            Some(f) => { f.unwrap(); n += 1; }
                            None => break,
                        },
                        _ = wait => panic!("the never-completed wait returned"),
                    }
                }
                n
            })
            .unwrap();
        assert_eq!(*parent.result().unwrap(), 5);
        pool.join().unwrap();
    });
}

#[test]
fn waits_spanning_two_pools_and_free_futures() {
    within(30, || {
        let a = common::pool(1);
        let b = common::pool(1);
        let free = Future::<u32>::new();
        let f2 = free.clone();
        let from_b = b.submit(|| 2).unwrap();
        let parent = a
            .submit_async(async move {
                let executor = Executor::current().unwrap();
                let from_a = executor.submit(|| 1).unwrap();
                let w = wait_async(
                    [&from_a, &from_b, &f2],
                    Some(Duration::from_secs(20)),
                    ReturnWhen::AllCompleted,
                )
                .await;
                let v: u32 = w
                    .done
                    .iter()
                    .map(|f| *f.try_result().unwrap().unwrap())
                    .sum();
                (v, w.not_done.len())
            })
            .unwrap();
        // The free future is completed from the test thread once the task watches it.
        while free.waiter_count() == 0 && !parent.done() {
            std::thread::yield_now();
        }
        free.set_result(3).unwrap();
        assert_eq!(parent.into_result().unwrap(), (6, 0));
        a.join().unwrap();
        b.join().unwrap();
    });
}

/// The blocking iterator moved to another thread between items: the next completion must
/// unpark the thread that now waits, not the one it came from.
#[test]
fn the_blocking_iterator_moved_between_threads() {
    within(30, || {
        let fs: Vec<Future<u32>> = (0..4).map(|_| Future::new()).collect();
        let mut it = betterconcurrent::as_completed(&fs, Some(Duration::from_secs(20)));
        let mut got = Vec::new();
        for hop in 0..2usize {
            let fs2 = fs.clone();
            let (it2, items) = std::thread::spawn(move || {
                let mut it = it;
                let completer = std::thread::spawn(move || {
                    for i in [hop * 2 + 1, hop * 2] {
                        // Once the waiting thread watches (its wakers were registered at the
                        // call, so complete right away).
                        fs2[i].set_result(i as u32).unwrap();
                    }
                });
                let a = it.next().unwrap().unwrap();
                let b = it.next().unwrap().unwrap();
                completer.join().unwrap();
                (
                    it,
                    vec![
                        *a.try_result().unwrap().unwrap(),
                        *b.try_result().unwrap().unwrap(),
                    ],
                )
            })
            .join()
            .unwrap();
            it = it2;
            got.extend(items);
        }
        assert_eq!(got, [1, 0, 3, 2]);
        assert!(it.next().is_none());
    });
}
