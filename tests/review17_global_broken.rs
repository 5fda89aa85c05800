//! Review 17: the global pool built by `build_global` with an initializer that fails: the free
//! functions return typed errors (`SubmitError::Broken`), never panic. A process of its own.
#![cfg(not(feature = "loom"))]

use betterconcurrent::ThreadPoolExecutor;

/// `build_global` with an initializer that fails: the global pool is broken, and the free
/// functions return typed errors rather than panicking.
#[test]
fn a_broken_global_pool_refuses_with_typed_errors() {
    ThreadPoolExecutor::builder()
        .max_workers(1)
        .initializer(|| Err::<(), _>("the global initializer failed"))
        .build_global()
        .unwrap();
    let first = betterconcurrent::submit(|| 1);
    if let Ok(first) = first {
        let error = first.result().unwrap_err();
        assert!(
            error.to_string().contains("the global initializer failed"),
            "{error}"
        );
    }
    // Once broken, every door refuses with `Broken`.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match betterconcurrent::submit(|| 2) {
            Err(betterconcurrent::SubmitError::Broken(reason)) => {
                assert!(reason.contains("the global initializer failed"));
                break;
            }
            Err(other) => panic!("{other:?}"),
            Ok(f) => {
                assert!(f.result().is_err());
                assert!(std::time::Instant::now() < deadline);
            }
        }
    }
    assert!(matches!(
        betterconcurrent::spawn(|_| ()),
        Err(betterconcurrent::SubmitError::Broken(_))
    ));
    assert!(matches!(
        betterconcurrent::submit_async(async {}),
        Err(betterconcurrent::SubmitError::Broken(_))
    ));
}
