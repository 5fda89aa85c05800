//! The async task's state word (the table in the [`task`](super) module docs): a [`Snapshot`]
//! is one value of it, whose transitions are pure functions, and [`StateWord`] is the atomic
//! that applies them, all through one compare-and-swap loop, so every transition is a
//! read-modify-write in the word's single modification order.

use core::fmt;

use super::TaskPhase;
use crate::sync::{AtomicUsize, Ordering};

/// In a run queue (or being handed to one).
const SCHEDULED: usize = 1 << 0;
/// Being polled; only the thread that set it touches the body.
const RUNNING: usize = 1 << 1;
/// Woken while being polled: the poller re-queues the task when the poll returns `Pending`.
const NOTIFIED: usize = 1 << 2;
/// Finished, panicked or dropped unrun. Once set, never unset; wakes are ignored.
const COMPLETE: usize = 1 << 3;
/// Polled at least once (its future was claimed). Once set, never unset.
const STARTED: usize = 1 << 4;
/// Aborted by the executor: the next holder of the run right ends the task instead of polling
/// it. Once set, it stays until the task is complete.
const ABORT: usize = 1 << 5;

/// The bits by name, for `Debug`.
const NAMES: [(usize, &str); 6] = [
    (SCHEDULED, "SCHEDULED"),
    (RUNNING, "RUNNING"),
    (NOTIFIED, "NOTIFIED"),
    (COMPLETE, "COMPLETE"),
    (STARTED, "STARTED"),
    (ABORT, "ABORT"),
];

/// One value of the state word.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct Snapshot(usize);

/// What a transition decided: move the word to a new value and tell the caller `R`, or leave
/// the word as it is.
enum Next<R> {
    To(Snapshot, R),
    Stay(R),
}

/// What a wake found.
#[must_use]
pub(super) enum WakeTransition {
    /// The task was idle and is now `SCHEDULED`: the caller must hand it to the scheduler.
    Schedule,
    /// Nothing to do: already scheduled, marked `NOTIFIED`, or complete.
    Done,
}

/// What an abort found.
#[must_use]
pub(super) enum AbortTransition {
    /// The task was idle and is now `SCHEDULED` (and `ABORT`): the caller must hand it to the
    /// scheduler, whose next run ends it.
    Schedule,
    /// Queued or running: marked `ABORT`, so whoever holds the run right next ends it (unless
    /// the poll running now completes it).
    Marked,
    /// Complete: nothing to abort.
    Complete,
}

/// What the end of a `Pending` poll found.
#[must_use]
pub(super) enum IdleTransition {
    /// Woken during the poll: now `SCHEDULED` again, and the poller must queue it.
    Requeue,
    /// Now idle: its waker will schedule it.
    Suspended,
    /// Aborted during the poll: still `RUNNING`, and the poller must end it.
    Aborted,
}

/// What the start of a poll found.
#[must_use]
pub(super) enum PollTransition {
    /// Now `RUNNING`: poll it; `first` if this is the first poll (it must claim the future).
    Poll { first: bool },
    /// Aborted: now `RUNNING`, and the caller must end it instead of polling.
    Aborted,
    /// Already complete: it must not be touched.
    Complete,
}

impl Snapshot {
    #[inline]
    fn has(self, bits: usize) -> bool {
        self.0 & bits != 0
    }

    /// `SCHEDULED` -> `RUNNING | STARTED` (keeping `ABORT`); a complete task stays as it is.
    #[inline]
    fn start_poll(self) -> Next<PollTransition> {
        if self.has(COMPLETE) {
            return Next::Stay(PollTransition::Complete);
        }
        debug_assert!(self.has(SCHEDULED) && !self.has(RUNNING), "{self:?}");
        let next = Snapshot((self.0 & !SCHEDULED) | RUNNING | STARTED);
        if self.has(ABORT) {
            Next::To(next, PollTransition::Aborted)
        } else {
            Next::To(
                next,
                PollTransition::Poll {
                    first: !self.has(STARTED),
                },
            )
        }
    }

    /// After a `Pending` poll: `RUNNING` -> idle, or `RUNNING | NOTIFIED` -> `SCHEDULED`; if
    /// `ABORT` was set meanwhile, nothing changes (the poller keeps the run right to end it).
    #[inline]
    fn end_poll(self) -> Next<IdleTransition> {
        debug_assert!(self.has(RUNNING), "{self:?}");
        if self.has(ABORT) {
            // The load that saw the bit is ordered after the abort's read-modify-write (the
            // word's modification order), and nothing else clears `RUNNING`.
            Next::Stay(IdleTransition::Aborted)
        } else if self.has(NOTIFIED) {
            Next::To(Snapshot(SCHEDULED | STARTED), IdleTransition::Requeue)
        } else {
            Next::To(Snapshot(STARTED), IdleTransition::Suspended)
        }
    }

    /// A wake: idle -> `SCHEDULED`, `RUNNING` -> `RUNNING | NOTIFIED`, otherwise nothing.
    #[inline]
    fn wake(self) -> Next<WakeTransition> {
        if self.has(COMPLETE | SCHEDULED | NOTIFIED) {
            Next::Stay(WakeTransition::Done)
        } else if self.has(RUNNING) {
            Next::To(Snapshot(self.0 | NOTIFIED), WakeTransition::Done)
        } else {
            Next::To(Snapshot(self.0 | SCHEDULED), WakeTransition::Schedule)
        }
    }

    /// An abort: set `ABORT`, and schedule an idle task so that it is ended even if nothing
    /// wakes it; a complete task is left alone.
    #[inline]
    fn abort(self) -> Next<AbortTransition> {
        if self.has(COMPLETE) {
            Next::Stay(AbortTransition::Complete)
        } else if self.has(SCHEDULED | RUNNING) {
            Next::To(Snapshot(self.0 | ABORT), AbortTransition::Marked)
        } else {
            Next::To(
                Snapshot(self.0 | ABORT | SCHEDULED),
                AbortTransition::Schedule,
            )
        }
    }
}

impl Snapshot {
    /// Where the task is, for a dump: complete, being polled, in a queue, or idle (suspended
    /// at an `.await`, or never queued: a new word is `SCHEDULED`, so idle means suspended).
    #[inline]
    fn phase(self) -> TaskPhase {
        if self.has(COMPLETE) {
            TaskPhase::Complete
        } else if self.has(RUNNING) {
            TaskPhase::Running
        } else if self.has(SCHEDULED) {
            TaskPhase::Queued
        } else {
            TaskPhase::Suspended
        }
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("IDLE");
        }
        let mut names = NAMES.iter().filter(|(bit, _)| self.has(*bit));
        if let Some((_, first)) = names.next() {
            f.write_str(first)?;
        }
        for (_, name) in names {
            write!(f, " | {name}")?;
        }
        Ok(())
    }
}

/// The atomic state word of an async task.
pub(super) struct StateWord(AtomicUsize);

impl StateWord {
    /// A new task's word: `SCHEDULED` (it is about to be queued).
    #[inline]
    pub(super) fn new() -> Self {
        Self(AtomicUsize::new(SCHEDULED))
    }

    /// Apply `next` to the word's current value until the compare-and-swap holds (or `next`
    /// leaves the word alone); Acquire/Release, so each transition hands the run right over.
    #[inline]
    fn transition<R>(&self, next: impl Fn(Snapshot) -> Next<R>) -> R {
        let mut current = Snapshot(self.0.load(Ordering::Acquire));
        loop {
            match next(current) {
                Next::Stay(decided) => return decided,
                Next::To(new, decided) => match self.0.compare_exchange_weak(
                    current.0,
                    new.0,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => return decided,
                    Err(actual) => current = Snapshot(actual),
                },
            }
        }
    }

    /// See [`Snapshot::start_poll`].
    #[inline]
    pub(super) fn start_poll(&self) -> PollTransition {
        self.transition(Snapshot::start_poll)
    }

    /// See [`Snapshot::end_poll`].
    #[inline]
    pub(super) fn end_poll(&self) -> IdleTransition {
        self.transition(Snapshot::end_poll)
    }

    /// See [`Snapshot::wake`].
    #[inline]
    pub(super) fn wake(&self) -> WakeTransition {
        self.transition(Snapshot::wake)
    }

    /// See [`Snapshot::abort`].
    #[inline]
    pub(super) fn abort(&self) -> AbortTransition {
        self.transition(Snapshot::abort)
    }

    /// Mark complete (keeping `STARTED`, dropping the rest): a swap, a read-modify-write like
    /// every other transition, so a wake's compare-and-swap can never land "after" completion.
    #[inline]
    pub(super) fn complete(&self) {
        self.0.swap(COMPLETE | STARTED, Ordering::AcqRel);
    }

    /// Where the task is now (a plain load: a dump's view, which may be stale at once).
    #[inline]
    pub(super) fn phase(&self) -> TaskPhase {
        Snapshot(self.0.load(Ordering::Acquire)).phase()
    }

    /// Whether the task ever completed. A read-modify-write reads the latest value whatever the
    /// calling thread has seen of the thread that completed it (the freeing thread's reference
    /// counts are outside loom's view, so loom needs this).
    #[inline]
    pub(super) fn has_completed(&self) -> bool {
        Snapshot(self.0.fetch_or(0, Ordering::AcqRel)).has(COMPLETE)
    }
}

#[cfg(test)]
mod tests {
    use alloc::format;

    use super::*;

    fn after<R>(next: Next<R>) -> (Option<Snapshot>, R) {
        match next {
            Next::To(state, decided) => (Some(state), decided),
            Next::Stay(decided) => (None, decided),
        }
    }

    const IDLE: Snapshot = Snapshot(STARTED);

    #[test]
    fn a_first_poll_claims_the_future_and_a_later_one_does_not() {
        let (next, decided) = after(Snapshot(SCHEDULED).start_poll());
        assert_eq!(next, Some(Snapshot(RUNNING | STARTED)));
        assert!(matches!(decided, PollTransition::Poll { first: true }));
        let (next, decided) = after(Snapshot(SCHEDULED | STARTED).start_poll());
        assert_eq!(next, Some(Snapshot(RUNNING | STARTED)));
        assert!(matches!(decided, PollTransition::Poll { first: false }));
    }

    #[test]
    fn a_complete_task_is_never_polled() {
        let (next, decided) = after(Snapshot(COMPLETE | STARTED).start_poll());
        assert_eq!(next, None);
        assert!(matches!(decided, PollTransition::Complete));
    }

    #[test]
    fn an_aborted_task_is_ended_by_its_next_poll_whoever_took_it() {
        let (next, decided) = after(Snapshot(SCHEDULED | ABORT).start_poll());
        assert_eq!(next, Some(Snapshot(RUNNING | STARTED | ABORT)));
        assert!(matches!(decided, PollTransition::Aborted));
        let (next, decided) = after(Snapshot(RUNNING | STARTED | ABORT | NOTIFIED).end_poll());
        assert_eq!(next, None, "the poller keeps the run right");
        assert!(matches!(decided, IdleTransition::Aborted));
    }

    #[test]
    fn a_poll_ends_idle_or_requeued_when_woken_meanwhile() {
        let (next, decided) = after(Snapshot(RUNNING | STARTED).end_poll());
        assert_eq!(next, Some(IDLE));
        assert!(matches!(decided, IdleTransition::Suspended));
        let (next, decided) = after(Snapshot(RUNNING | STARTED | NOTIFIED).end_poll());
        assert_eq!(next, Some(Snapshot(SCHEDULED | STARTED)));
        assert!(matches!(decided, IdleTransition::Requeue));
    }

    #[test]
    fn a_wake_schedules_an_idle_task_notifies_a_running_one_and_is_absorbed_otherwise() {
        let (next, decided) = after(IDLE.wake());
        assert_eq!(next, Some(Snapshot(SCHEDULED | STARTED)));
        assert!(matches!(decided, WakeTransition::Schedule));
        let (next, decided) = after(Snapshot(RUNNING | STARTED).wake());
        assert_eq!(next, Some(Snapshot(RUNNING | STARTED | NOTIFIED)));
        assert!(matches!(decided, WakeTransition::Done));
        for absorbed in [
            Snapshot(SCHEDULED | STARTED),
            Snapshot(RUNNING | STARTED | NOTIFIED),
            Snapshot(COMPLETE | STARTED),
        ] {
            let (next, decided) = after(absorbed.wake());
            assert_eq!(next, None, "{absorbed:?}");
            assert!(matches!(decided, WakeTransition::Done));
        }
    }

    #[test]
    fn an_abort_schedules_an_idle_task_marks_a_held_one_and_leaves_a_complete_one() {
        let (next, decided) = after(IDLE.abort());
        assert_eq!(next, Some(Snapshot(SCHEDULED | STARTED | ABORT)));
        assert!(matches!(decided, AbortTransition::Schedule));
        for held in [Snapshot(SCHEDULED), Snapshot(RUNNING | STARTED)] {
            let (next, decided) = after(held.abort());
            assert_eq!(next, Some(Snapshot(held.0 | ABORT)));
            assert!(matches!(decided, AbortTransition::Marked));
        }
        let (next, decided) = after(Snapshot(COMPLETE | STARTED).abort());
        assert_eq!(next, None);
        assert!(matches!(decided, AbortTransition::Complete));
    }

    #[test]
    fn the_phase_reads_complete_then_running_then_queued_else_suspended() {
        assert_eq!(Snapshot(COMPLETE | STARTED).phase(), TaskPhase::Complete);
        assert_eq!(
            Snapshot(RUNNING | STARTED | NOTIFIED).phase(),
            TaskPhase::Running
        );
        assert_eq!(Snapshot(SCHEDULED).phase(), TaskPhase::Queued);
        assert_eq!(
            Snapshot(SCHEDULED | STARTED | ABORT).phase(),
            TaskPhase::Queued
        );
        assert_eq!(IDLE.phase(), TaskPhase::Suspended);
    }

    #[test]
    fn debug_names_the_bits() {
        assert_eq!(format!("{:?}", Snapshot(0)), "IDLE");
        assert_eq!(
            format!("{:?}", Snapshot(RUNNING | STARTED | ABORT)),
            "RUNNING | STARTED | ABORT"
        );
    }
}
