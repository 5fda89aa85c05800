//! Review 19: threads and pending entries do not grow (one test: it counts the process's threads).

mod common;

use std::time::{Duration, Instant};

use betterconcurrent::ThreadPoolExecutor;
use betterconcurrent_celery::{Client, RemoteException, Signature, Worker};
use common::Redis;

const WAIT: Duration = Duration::from_secs(30);

fn threads_named(prefix: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with(prefix))
        .count()
}

fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn no_thread_or_pending_entry_outlives_its_owner() {
    let redis = Redis::start();
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .build()
        .unwrap();
    for round in 0..5 {
        let worker = Worker::builder(&redis.url())
            .task("rust.add", |(x, y): (i64, i64)| {
                Ok::<_, RemoteException>(x + y)
            })
            .start(pool.executor())
            .unwrap();
        eventually("one consumer", || threads_named("celery-consumer") == 1);
        let clients: Vec<_> = (0..10)
            .map(|_| Client::connect(&redis.url()).unwrap())
            .collect();
        eventually("ten listeners", || threads_named("celery-result-l") == 10);
        let mut kept = Vec::new();
        for (i, client) in clients.iter().enumerate() {
            for j in 0..20i64 {
                let f = client.send_task::<i64>("rust.add", (i as i64, j)).unwrap();
                if j % 2 == 0 {
                    kept.push(f);
                }
            }
            // one that never completes, to be Closed
            kept.push(
                client
                    .send(Signature::new("rust.add").args((0, 0)).queue("nobody"))
                    .unwrap(),
            );
        }
        eventually("pending back to 1 per client", || {
            clients.iter().all(|c| c.pending() == 1)
        });
        if round % 2 == 0 {
            drop(worker);
        } else {
            worker.shutdown();
        }
        drop(clients);
        assert_eq!(threads_named("celery-result-l"), 0, "round {round}");
        assert_eq!(threads_named("celery-consumer"), 0, "round {round}");
        assert_eq!(threads_named("celery-storer"), 0, "round {round}");
        assert!(kept.iter().all(|f| f.done()));
    }
}
