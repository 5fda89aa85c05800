//! Lost wakes and races in the async waits: completions racing the call and the first poll
//! (from other threads, many times over), re-polling with a different waker each time (only the
//! latest must be needed), a waker that itself completes another watched future (re-entrant
//! wake), thousands of futures in one wait, many tasks waiting on the same futures, and the
//! blocking forms under the same races. Each scenario runs under a watchdog: a lost wake fails
//! instead of hanging.
#![cfg(not(feature = "loom"))]

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use betterconcurrent::{
    as_completed, as_completed_async, wait, wait_async, yield_until_done_timeout, Executor, Future,
    ReturnWhen,
};
use std::future::Future as _;

use futures::{Stream, StreamExt as _};

mod common;
use common::watchdog::within;

/// A waker that counts its wakes.
struct Counting(AtomicUsize);

impl Wake for Counting {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting() -> (Arc<Counting>, Waker) {
    let c = Arc::new(Counting(AtomicUsize::new(0)));
    (c.clone(), Waker::from(c))
}

/// A tiny xorshift for shuffles without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

#[test]
fn completions_racing_the_call_and_the_first_poll_are_never_lost() {
    within(60, || {
        let mut rng = Rng(0x9e3779b97f4a7c15);
        for round in 0..1500 {
            let n = 1 + (round % 7);
            let fs: Vec<Future<u32>> = (0..n).map(|_| Future::new()).collect();
            let mut order: Vec<usize> = (0..n).collect();
            rng.shuffle(&mut order);
            let barrier = Arc::new(Barrier::new(2));
            let completer = {
                let fs = fs.clone();
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    for i in order {
                        fs[i].set_result(i as u32).unwrap();
                    }
                })
            };
            let mode = match round % 3 {
                0 => ReturnWhen::FirstCompleted,
                1 => ReturnWhen::FirstException,
                _ => ReturnWhen::AllCompleted,
            };
            barrier.wait();
            let w = match round % 4 {
                0 | 1 => futures::executor::block_on(wait_async(&fs, None, mode)),
                2 => {
                    // Call before the race, poll after.
                    let waiting = wait_async(&fs, None, mode);
                    futures::executor::block_on(waiting)
                }
                _ => wait(&fs, None, mode),
            };
            completer.join().unwrap();
            assert_eq!(w.done.len() + w.not_done.len(), n, "round {round}");
            match mode {
                ReturnWhen::FirstCompleted => assert!(!w.done.is_empty(), "round {round}"),
                _ => assert_eq!(w.done.len(), n, "round {round}"),
            }
            // Every future listed once.
            for f in &fs {
                let count = w.done.iter().chain(&w.not_done).filter(|g| *g == f).count();
                assert_eq!(count, 1, "round {round}");
            }
            // A done future is never in not_done... unless it completed after the return; so
            // only check: everything in done is done.
            assert!(w.done.iter().all(Future::done));
        }
    });
}

#[test]
fn stream_under_racing_completions_from_many_threads_yields_each_once() {
    within(60, || {
        for round in 0..300 {
            let n = 16;
            let fs: Vec<Future<usize>> = (0..n).map(|_| Future::new()).collect();
            let barrier = Arc::new(Barrier::new(5));
            let threads: Vec<_> = (0..4)
                .map(|t| {
                    let fs = fs.clone();
                    let barrier = barrier.clone();
                    std::thread::spawn(move || {
                        barrier.wait();
                        for i in (t..n).step_by(4) {
                            fs[i].set_result(i).unwrap();
                        }
                    })
                })
                .collect();
            barrier.wait();
            let items: Vec<usize> = if round % 2 == 0 {
                futures::executor::block_on(
                    as_completed_async(&fs, None)
                        .map(|r| *r.unwrap().try_result().unwrap().unwrap())
                        .collect::<Vec<_>>(),
                )
            } else {
                as_completed(&fs, None)
                    .map(|r| *r.unwrap().try_result().unwrap().unwrap())
                    .collect()
            };
            for t in threads {
                t.join().unwrap();
            }
            let mut sorted = items.clone();
            sorted.sort();
            assert_eq!(
                sorted,
                (0..n).collect::<Vec<_>>(),
                "round {round}: {items:?}"
            );
        }
    });
}

/// Poll with waker A, then with waker B, then complete: B must be woken (the contract: only the
/// waker of the latest poll has to be woken).
#[test]
fn repolling_with_a_new_waker_moves_the_wake_to_it() {
    within(30, || {
        // wait_async
        for mode in [
            ReturnWhen::FirstCompleted,
            ReturnWhen::FirstException,
            ReturnWhen::AllCompleted,
        ] {
            let fs: Vec<Future<u32>> = (0..3).map(|_| Future::new()).collect();
            let mut w = Box::pin(wait_async(&fs, None, mode));
            let (a, wa) = counting();
            let (b, wb) = counting();
            assert!(w.as_mut().poll(&mut Context::from_waker(&wa)).is_pending());
            assert!(w.as_mut().poll(&mut Context::from_waker(&wb)).is_pending());
            let before_a = a.0.load(Ordering::SeqCst);
            fs[1].set_exception("x").unwrap();
            if !matches!(mode, ReturnWhen::AllCompleted) {
                assert!(
                    b.0.load(Ordering::SeqCst) >= 1,
                    "{mode:?}: the latest waker was not woken"
                );
                let Poll::Ready(r) = w.as_mut().poll(&mut Context::from_waker(&wb)) else {
                    panic!("{mode:?}: woken but not ready")
                };
                assert_eq!(r.done.len(), 1);
            } else {
                // Move to a third waker between completions.
                let (c, wc) = counting();
                assert!(w.as_mut().poll(&mut Context::from_waker(&wc)).is_pending());
                fs[0].set_result(0).unwrap();
                assert!(w.as_mut().poll(&mut Context::from_waker(&wa)).is_pending());
                fs[2].set_result(2).unwrap();
                assert!(
                    a.0.load(Ordering::SeqCst) > before_a,
                    "the latest waker (A again) was not woken"
                );
                let _ = c;
                let Poll::Ready(r) = w.as_mut().poll(&mut Context::from_waker(&wa)) else {
                    panic!("all done but not ready")
                };
                assert_eq!(r.done.len(), 3);
            }
        }
        // The stream.
        let fs: Vec<Future<u32>> = (0..3).map(|_| Future::new()).collect();
        let mut s = as_completed_async(&fs, Some(Duration::from_secs(60)));
        let (_a, wa) = counting();
        let (b, wb) = counting();
        assert!(Pin::new(&mut s)
            .poll_next(&mut Context::from_waker(&wa))
            .is_pending());
        assert!(Pin::new(&mut s)
            .poll_next(&mut Context::from_waker(&wb))
            .is_pending());
        fs[2].set_result(2).unwrap();
        assert!(
            b.0.load(Ordering::SeqCst) >= 1,
            "stream: the latest waker was not woken"
        );
        match Pin::new(&mut s).poll_next(&mut Context::from_waker(&wb)) {
            Poll::Ready(Some(Ok(f))) => assert!(f == fs[2]),
            other => panic!("stream: {other:?}"),
        }
        // Next item with yet another waker.
        let (c, wc) = counting();
        assert!(Pin::new(&mut s)
            .poll_next(&mut Context::from_waker(&wc))
            .is_pending());
        fs[0].set_result(0).unwrap();
        assert!(
            c.0.load(Ordering::SeqCst) >= 1,
            "stream: second item's waker was not woken"
        );
        // yield_until_done_timeout
        let fs: Vec<Future<u32>> = (0..2).map(|_| Future::new()).collect();
        let mut y = Box::pin(yield_until_done_timeout(&fs, Some(Duration::from_secs(60))));
        let (_a, wa) = counting();
        let (b, wb) = counting();
        assert!(y.as_mut().poll(&mut Context::from_waker(&wa)).is_pending());
        assert!(y.as_mut().poll(&mut Context::from_waker(&wb)).is_pending());
        fs[0].set_result(0).unwrap();
        fs[1].set_result(1).unwrap();
        assert!(
            b.0.load(Ordering::SeqCst) >= 1,
            "yield_until_done_timeout: latest waker not woken"
        );
        assert_eq!(
            y.as_mut().poll(&mut Context::from_waker(&wb)),
            Poll::Ready(true)
        );
    });
}

/// A waker that, when woken, completes the next future of a list (a re-entrant completion
/// inside the wake of the wait's own future): must neither deadlock nor lose the second wake.
struct Chaining {
    wakes: AtomicUsize,
    next: Mutex<Vec<Future<u32>>>,
}

impl Wake for Chaining {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
        let next = self.next.lock().unwrap().pop();
        if let Some(f) = next {
            f.set_result(7).unwrap();
        }
    }
}

#[test]
fn a_waker_that_completes_another_watched_future_inside_its_wake() {
    within(30, || {
        let fs: Vec<Future<u32>> = (0..4).map(|_| Future::new()).collect();
        let chaining = Arc::new(Chaining {
            wakes: AtomicUsize::new(0),
            next: Mutex::new(vec![fs[3].clone(), fs[2].clone(), fs[1].clone()]),
        });
        let waker = Waker::from(chaining.clone());
        let mut w = Box::pin(wait_async(&fs, None, ReturnWhen::AllCompleted));
        assert!(w
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
        fs[0].set_result(0).unwrap();
        // Each wake completes the next future from inside itself. A waker is woken once per
        // registration (a completion while it is already woken only queues its index), so the
        // chain can stall between polls: then the test wakes it as any other event would. No
        // deadlock, and every completion is reported.
        let mut poll_or_wake = || match w.as_mut().poll(&mut Context::from_waker(&waker)) {
            Poll::Ready(r) => Some(r),
            Poll::Pending => {
                waker.wake_by_ref();
                None
            }
        };
        let r = (0..10)
            .find_map(|_| poll_or_wake())
            .expect("ready once the chain has completed every future");
        assert!(fs.iter().all(Future::done));
        assert_eq!(r.done.len(), 4);
        assert!(r.done[0] == fs[0], "AllCompleted lists done in input order");

        // The stream, likewise.
        let fs: Vec<Future<u32>> = (0..4).map(|_| Future::new()).collect();
        let chaining = Arc::new(Chaining {
            wakes: AtomicUsize::new(0),
            next: Mutex::new(vec![fs[0].clone(), fs[1].clone(), fs[2].clone()]),
        });
        let waker = Waker::from(chaining.clone());
        let mut s = as_completed_async(&fs, None);
        let mut got = Vec::new();
        assert!(Pin::new(&mut s)
            .poll_next(&mut Context::from_waker(&waker))
            .is_pending());
        fs[3].set_result(3).unwrap();
        // As above: where the chain stalls between polls, the test wakes it.
        for _ in 0..20 {
            match Pin::new(&mut s).poll_next(&mut Context::from_waker(&waker)) {
                Poll::Ready(Some(Ok(f))) => got.push(fs.iter().position(|g| *g == f).unwrap()),
                Poll::Ready(Some(Err(e))) => panic!("{e:?}"),
                Poll::Ready(None) => break,
                Poll::Pending => waker.wake_by_ref(),
            }
        }
        got.sort();
        assert_eq!(got, [0, 1, 2, 3]);
    });
}

#[test]
fn thousands_of_futures_in_one_wait_and_one_stream_on_one_worker() {
    within(60, || {
        let pool = common::pool(1);
        let n = 5000usize;
        let parent = pool
            .submit_async(async move {
                let executor = Executor::current().unwrap();
                let fs: Vec<Future<usize>> = (0..n)
                    .map(|i| executor.submit(move || i).unwrap())
                    .collect();
                // The same futures many times over, too.
                let repeated: Vec<&Future<usize>> = fs.iter().chain(&fs).chain(&fs).collect();
                let first =
                    wait_async(repeated.iter().copied(), None, ReturnWhen::FirstCompleted).await;
                let first_total = first.done.len() + first.not_done.len();
                let all =
                    wait_async(repeated.iter().copied(), None, ReturnWhen::AllCompleted).await;
                let fs2: Vec<Future<usize>> = (0..n)
                    .map(|i| executor.submit(move || i).unwrap())
                    .collect();
                let mut seen = vec![false; n];
                let mut stream = as_completed_async(fs2.iter().chain(&fs2), None);
                let mut count = 0;
                while let Some(item) = stream.next().await {
                    let v = *item.unwrap().try_result().unwrap().unwrap();
                    assert!(!seen[v], "{v} twice");
                    seen[v] = true;
                    count += 1;
                }
                (first_total, all.done.len(), all.not_done.len(), count)
            })
            .unwrap();
        assert_eq!(parent.into_result().unwrap(), (n, n, 0, n));
        pool.join().unwrap();
    });
}

/// Many tasks on a 2-worker pool each wait (FirstCompleted / stream / all) on the same shared
/// futures, which outside threads complete in a race with the waits' registration.
#[test]
fn many_tasks_wait_on_the_same_futures() {
    within(60, || {
        let pool = common::pool(2);
        for round in 0..40 {
            let shared: Vec<Future<u32>> = (0..8).map(|_| Future::new()).collect();
            let waiters: Vec<Future<usize>> = (0..30)
                .map(|k| {
                    let shared = shared.clone();
                    pool.submit_async(async move {
                        match k % 3 {
                            0 => wait_async(&shared, None, ReturnWhen::FirstCompleted)
                                .await
                                .done
                                .len()
                                .min(1),
                            1 => as_completed_async(&shared, None).count().await,
                            _ => wait_async(&shared, None, ReturnWhen::AllCompleted)
                                .await
                                .done
                                .len(),
                        }
                    })
                    .unwrap()
                })
                .collect();
            let completers: Vec<_> = (0..2)
                .map(|t| {
                    let shared = shared.clone();
                    std::thread::spawn(move || {
                        for i in (t..8).step_by(2) {
                            shared[i].set_result(i as u32).unwrap();
                        }
                    })
                })
                .collect();
            for c in completers {
                c.join().unwrap();
            }
            for (k, w) in waiters.iter().enumerate() {
                let want = if k % 3 == 0 { 1 } else { 8 };
                assert_eq!(*w.result().unwrap(), want, "round {round}, waiter {k}");
            }
            // No waiter left behind on the shared futures.
            for f in &shared {
                assert_eq!(f.waiter_count(), 0, "round {round}");
            }
        }
        pool.join().unwrap();
    });
}

/// A wait on a pool thread, woken by a pool task that completes the future from another
/// worker while the waiting task is being polled (2 workers, racing hard).
#[test]
fn subtask_completions_race_the_waiting_tasks_polls() {
    within(60, || {
        let pool = common::pool(2);
        let parent = pool
            .submit_async(async move {
                let executor = Executor::current().unwrap();
                let mut total = 0usize;
                for round in 0..500usize {
                    let kids: Vec<Future<usize>> = (0..3)
                        .map(|i| executor.submit(move || round * 3 + i).unwrap())
                        .collect();
                    let w = wait_async(&kids, None, ReturnWhen::FirstCompleted).await;
                    assert!(!w.done.is_empty());
                    let rest = wait_async(&w.not_done, None, ReturnWhen::AllCompleted).await;
                    total += w.done.len() + rest.done.len();
                    let ok = yield_until_done_timeout(&kids, None).await;
                    assert!(ok);
                }
                total
            })
            .unwrap();
        assert_eq!(*parent.result().unwrap(), 1500);
        pool.join().unwrap();
    });
}
