//! Results you can own: the last handle of a done future moves its value out (no copy), by a
//! method or by awaiting the future by value; while other handles (or done callbacks) may read
//! it, it stays in place.
#![cfg(not(feature = "loom"))]

mod common;
use common::watchdog::within;
use common::{block_workers, pool};

use std::sync::mpsc;

use betterconcurrent::{Error, Future};

const MIB: usize = 1 << 20;

#[test]
fn a_1_mib_result_is_taken_out_without_copying() {
    within(60, || {
        let pool = pool(2);
        let (pointer_tx, pointer_rx) = mpsc::channel::<usize>();
        let future = pool
            .submit(move || {
                let bytes = vec![7u8; MIB];
                pointer_tx.send(bytes.as_ptr() as usize).unwrap();
                bytes
            })
            .unwrap();
        let bytes = future.into_result().unwrap();
        assert_eq!(bytes.len(), MIB);
        assert_eq!(bytes.as_ptr() as usize, pointer_rx.recv().unwrap());
    });
}

#[test]
fn awaiting_a_future_by_value_moves_its_result_out() {
    within(60, || {
        let pool = pool(1);
        let executor = pool.executor();
        let (pointer_tx, pointer_rx) = mpsc::channel::<usize>();
        let parent = pool
            .submit_async(async move {
                let child = executor
                    .submit(move || {
                        let bytes = vec![1u8; MIB];
                        pointer_tx.send(bytes.as_ptr() as usize).unwrap();
                        bytes
                    })
                    .unwrap();
                let bytes: Vec<u8> = child.await.unwrap();
                bytes.as_ptr() as usize
            })
            .unwrap();
        assert_eq!(*parent.result().unwrap(), pointer_rx.recv().unwrap());
    });
}

#[test]
fn with_other_handles_the_value_stays_and_an_owned_result_is_a_clone() {
    let future = Future::new();
    let other = future.clone();
    future.set_result(vec![3u8; 16]).unwrap();
    let future = future.into_outcome().unwrap_err();
    // `other` still reads the value in place.
    assert_eq!(other.try_result().unwrap().unwrap(), &vec![3u8; 16]);
    let in_place = other.try_result().unwrap().unwrap().as_ptr();
    let cloned = future.into_result().unwrap();
    assert_ne!(
        cloned.as_ptr(),
        in_place,
        "a clone, since `other` still holds it"
    );
    assert_eq!(cloned, vec![3u8; 16]);
    // Now `other` is the last handle: it takes the original buffer.
    let taken = other.into_outcome().unwrap().unwrap();
    assert_eq!(taken.as_ptr(), in_place);
}

#[test]
fn a_pending_future_keeps_its_handle_and_a_cancelled_one_gives_cancelled() {
    let pending = Future::<u8>::new();
    let pending = pending.into_outcome().unwrap_err();
    assert!(pending.cancel());
    assert!(matches!(pending.into_outcome(), Ok(Err(Error::Cancelled))));
    let failed = Future::<u8>::new();
    failed.set_exception("no").unwrap();
    assert!(matches!(
        failed.into_outcome(),
        Ok(Err(Error::Exception(_)))
    ));
}

#[test]
fn a_running_done_callback_keeps_the_value_from_being_taken() {
    within(60, || {
        let pool = pool(1);
        // The worker is held until the callback is registered, so the callback runs on the
        // worker when the task completes (not at once on this thread).
        let (release_worker, _blockers) = block_workers(&pool, 1);
        let future = pool.submit(|| vec![9u8; 64]).unwrap();
        let (running_tx, running_rx) = mpsc::channel::<()>();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (read_tx, read_rx) = mpsc::channel::<usize>();
        future.add_done_callback(move |done| {
            running_tx.send(()).unwrap();
            release_rx.recv().unwrap();
            // Still readable: nobody took it while this ran.
            read_tx
                .send(done.try_result().unwrap().unwrap().len())
                .unwrap();
        });
        drop(release_worker);
        running_rx.recv().unwrap();
        // The only user handle, and the future is done, but the callback is reading it.
        let future = future.into_outcome().unwrap_err();
        release_tx.send(()).unwrap();
        assert_eq!(read_rx.recv().unwrap(), 64);
        // Once the callback ran, the last handle takes the value.
        assert_eq!(future.into_result().unwrap(), vec![9u8; 64]);
    });
}

#[test]
fn map_moves_each_value_out_in_order() {
    within(60, || {
        let pool = pool(2);
        let lengths: Vec<usize> = pool
            .map(|n: usize| vec![0u8; n * 1024], 1..=8)
            .unwrap()
            .map(|bytes| bytes.unwrap().len())
            .collect();
        assert_eq!(lengths, (1..=8).map(|n| n * 1024).collect::<Vec<_>>());
    });
}

#[test]
fn a_caught_panic_keeps_its_payload_to_resume() {
    within(60, || {
        let pool = pool(1);
        let future = pool
            .submit(|| -> u8 { std::panic::panic_any(42u32) })
            .unwrap();
        let Err(Error::Panicked(panic)) = future.into_result() else {
            panic!("the task panicked");
        };
        let again = panic.clone();
        // Resumed on this thread, with the original payload (not a message).
        let resumed = std::panic::catch_unwind(move || panic.resume()).unwrap_err();
        assert_eq!(resumed.downcast_ref::<u32>(), Some(&42));
        // One caller takes the payload; clones see it taken.
        assert!(again.take_payload().is_none());
        let described = pool.submit(|| -> u8 { panic!("bad input") }).unwrap();
        let Err(Error::Panicked(panic)) = described.into_result() else {
            panic!("the task panicked");
        };
        assert_eq!(panic.message(), "bad input");
        let payload = panic.take_payload().unwrap();
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"bad input"));
    });
}
