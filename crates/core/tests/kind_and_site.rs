//! `KindAndSite`, the packed pair an executor's worker loop keeps about a task it runs: every
//! kind with every site bit pattern comes back as it went in, its bits stay below
//! `KindAndSite::BITS` and are never 0, bits it never gives are refused, and a task's
//! `facts()` agree with its `kind()` and `site()`.
#![cfg(not(feature = "loom"))]

use betterconcurrent_core::executor::{KindAndSite, Task, TaskKind};
use betterconcurrent_core::SubmitSite;

#[test]
fn every_kind_and_site_round_trips_through_bits_below_the_bound_and_never_zero() {
    for kind in [TaskKind::Closure, TaskKind::Async, TaskKind::Detached] {
        for bits in [0u16, 1, 2, 0x00ff, 0x1234, 0x8000, u16::MAX - 1, u16::MAX] {
            let site = SubmitSite::from_bits(bits);
            let pair = KindAndSite::new(kind, site);
            assert_eq!((pair.kind(), pair.site()), (kind, site));
            let packed = pair.to_bits();
            assert_ne!(packed, 0);
            assert_eq!(packed >> KindAndSite::BITS, 0, "{packed:#x}");
            assert_eq!(KindAndSite::from_bits(packed), Some(pair));
        }
    }
}

#[test]
fn bits_never_given_are_refused() {
    assert_eq!(KindAndSite::from_bits(0), None);
    // The kind's code is never 0.
    assert_eq!(KindAndSite::from_bits(0b100), None);
    // Nothing above the bound.
    assert_eq!(KindAndSite::from_bits(1 << KindAndSite::BITS | 1), None);
    assert_eq!(KindAndSite::from_bits(u32::MAX), None);
}

#[test]
fn a_tasks_facts_agree_with_its_kind_and_site() {
    let (task, future) = Task::from_closure(|| 7, None);
    let facts = task.facts();
    assert_eq!(facts.kind_and_site.kind(), task.kind());
    assert_eq!(facts.kind_and_site.kind(), TaskKind::Closure);
    assert_eq!(facts.kind_and_site.site(), task.site());
    assert!(facts.registration.is_none());
    drop(task);
    drop(future);
    let detached = Task::detached(|| {});
    let facts = detached.facts();
    assert_eq!(facts.kind_and_site.kind(), TaskKind::Detached);
    assert_eq!(facts.kind_and_site.site(), detached.site());
}
