//! Review of issue 18's round trip (a helper that had not seen the change): the idle workers'
//! spinning searchers (up to two) lose no wake-up when work arrives at any point of their
//! spin-then-sleep cycle. Random busy pauses (not sleeps: they place each submit in a phase of
//! the searchers' cycle, they synchronise nothing) put the submits everywhere in it; a timeout
//! of 5 s on a trivial task means a lost wake-up.
#![cfg(not(feature = "loom"))]

mod common;
use betterconcurrent::*;
use common::watchdog::within;
use std::sync::{mpsc, Arc, Barrier};
use std::time::{Duration, Instant};

/// Busy-wait for about `d`, without sleeping.
fn spin_for(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// xorshift: the pauses, reproducible from a seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x % n
    }
}

/// Submit from outside after a random pause (0-300 µs: inside the searchers' spin, as they give
/// up, or after they sleep), wait with a generous timeout: a Timeout means a lost wake-up.
fn outside_submits(workers: usize, rounds: u32, seed: u64) {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(workers)
        .build()
        .unwrap();
    let mut rng = Rng(seed);
    for i in 0..rounds {
        spin_for(Duration::from_nanos(rng.below(300_000)));
        let f = pool.submit(move || i).unwrap();
        match f.result_timeout(Duration::from_secs(5)) {
            Ok(v) => assert_eq!(*v, i),
            Err(e) => panic!("round {i}: {e:?} (lost wake-up?) stats {:?}", pool.stats()),
        }
    }
}

#[test]
fn outside_submit_after_random_idle_1() {
    within(60, || outside_submits(1, 20_000, 1))
}
#[test]
fn outside_submit_after_random_idle_2() {
    within(60, || outside_submits(2, 20_000, 2))
}
#[test]
fn outside_submit_after_random_idle_4() {
    within(60, || outside_submits(4, 20_000, 3))
}
#[test]
fn outside_submit_after_random_idle_8() {
    within(60, || outside_submits(8, 20_000, 4))
}

/// A task submits a child, then waits for it by means the pool cannot see (a channel): the
/// README promises an idle worker is woken to take the child. Random pauses put the submit at
/// every phase of the other workers' search.
#[test]
fn child_waited_by_channel() {
    within(60, || {
        for workers in [2usize, 3, 4] {
            let pool = ThreadPoolExecutor::builder()
                .max_workers(workers)
                .build()
                .unwrap();
            let mut rng = Rng(workers as u64 * 17);
            for i in 0..3_000u32 {
                let pause = Duration::from_nanos(rng.below(200_000));
                let pause2 = Duration::from_nanos(rng.below(50_000));
                let f = pool
                    .submit(move || {
                        spin_for(pause);
                        let ex = Executor::current().unwrap();
                        let (tx, rx) = mpsc::channel();
                        ex.submit(move || {
                            spin_for(pause2);
                            tx.send(i).unwrap()
                        })
                        .unwrap();
                        rx.recv_timeout(Duration::from_secs(5))
                            .map_err(|_| "child never ran")
                    })
                    .unwrap();
                assert_eq!(*f.result().unwrap(), Ok(i), "workers {workers} round {i}");
            }
        }
    });
}

/// Fire-and-forget trees started after random idle periods, then join(): converge every time.
#[test]
fn spawn_trees_after_idle() {
    within(60, || {
        fn tree(ex: &Executor, n: Arc<std::sync::atomic::AtomicU32>, depth: u32) {
            n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if depth > 0 {
                for _ in 0..2 {
                    let n = n.clone();
                    ex.spawn(move |ex| tree(ex, n, depth - 1)).unwrap();
                }
            }
        }
        let mut rng = Rng(55);
        for _ in 0..1_000 {
            let pool = ThreadPoolExecutor::builder()
                .max_workers(1 + rng.below(4) as usize)
                .build()
                .unwrap();
            let n = Arc::new(std::sync::atomic::AtomicU32::new(0));
            spin_for(Duration::from_nanos(rng.below(100_000)));
            let n2 = n.clone();
            pool.spawn(move |ex| tree(ex, n2, 5)).unwrap();
            spin_for(Duration::from_nanos(rng.below(100_000)));
            pool.join_timeout(Duration::from_secs(5)).unwrap();
            assert_eq!(n.load(std::sync::atomic::Ordering::Relaxed), 63);
        }
    });
}

/// Bursts from several outside threads released together after idle periods, on pools of
/// several sizes: every task runs (no submit lost to a searcher going to sleep).
#[test]
fn synchronized_bursts_after_idle() {
    within(60, || {
        let pool = Arc::new(
            ThreadPoolExecutor::builder()
                .max_workers(4)
                .build()
                .unwrap(),
        );
        let barrier = Arc::new(Barrier::new(4));
        let hs: Vec<_> = (0..4u64)
            .map(|k| {
                let (pool, barrier) = (pool.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let mut rng = Rng(k + 100);
                    for r in 0..2_000u64 {
                        barrier.wait();
                        spin_for(Duration::from_nanos(rng.below(150_000)));
                        let fs: Vec<_> = (0..(1 + rng.below(4)))
                            .map(|j| pool.submit(move || r * 10 + j).unwrap())
                            .collect();
                        for (j, f) in fs.iter().enumerate() {
                            let v = f
                                .result_timeout(Duration::from_secs(5))
                                .expect("lost wake-up");
                            assert_eq!(*v, r * 10 + j as u64);
                        }
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    });
}

/// Two pools side by side, submitting to each other: one pool's searchers never take or hide the
/// other's work.
#[test]
fn two_pools_ping_pong() {
    within(60, || {
        let a = ThreadPoolExecutor::builder()
            .max_workers(2)
            .build()
            .unwrap();
        let b = ThreadPoolExecutor::builder()
            .max_workers(2)
            .build()
            .unwrap();
        let (ea, eb) = (a.executor(), b.executor());
        let mut rng = Rng(9);
        for i in 0..10_000u32 {
            let pause = Duration::from_nanos(rng.below(100_000));
            let eb2 = eb.clone();
            let f = ea
                .submit(move || {
                    let g = eb2
                        .submit(move || {
                            spin_for(pause);
                            i + 1
                        })
                        .unwrap();
                    *g.result().unwrap() + 1
                })
                .unwrap();
            assert_eq!(
                *f.result_timeout(Duration::from_secs(5))
                    .expect("lost wake-up"),
                i + 2
            );
        }
    });
}
