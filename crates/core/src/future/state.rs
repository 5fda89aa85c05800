//! A future's state word: [`FutureState`], one value with a pure function per transition (the
//! table in the parent module's docs), and [`StateWord`], the atomic that holds it. Every
//! transition happens with the future's lock held, so applying one is a load, the pure function
//! and a store ([`StateWord::apply`]); readers load it lock-free with `Acquire`.

use core::fmt;

use super::State;
use crate::sync::{AtomicU8, Ordering};

/// One value of a future's state word.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct FutureState(u8);

/// What [`FutureState::cancel`] decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CancelTransition {
    /// It was pending: now cancelled, wake the waiters.
    Cancelled,
    /// It was cancelled already: nothing changes, and `cancel` reports success.
    AlreadyCancelled,
    /// It runs or has an outcome: nothing changes, and `cancel` reports failure.
    Refused,
}

impl FutureState {
    /// Not started; `cancel` and `set_running_or_notify_cancel` are allowed.
    pub(crate) const PENDING: Self = Self(0);
    /// Claimed by an executor; `cancel` now fails. Only completing (or the executor's own
    /// cancellation) leaves it.
    pub(crate) const RUNNING: Self = Self(1);
    /// Done (cancelled). Waiters and callbacks were notified when it was set.
    pub(crate) const CANCELLED: Self = Self(2);
    /// Done (cancelled) and the executor has dropped the work. Final.
    pub(crate) const CANCELLED_AND_NOTIFIED: Self = Self(3);
    /// Done with an outcome. Stored only after the outcome is written (`Release`), final: the
    /// outcome is immutable from here on and readable by anyone who loaded this with `Acquire`.
    pub(crate) const FINISHED: Self = Self(4);

    /// The public view of it.
    pub(crate) fn public(self) -> State {
        match self {
            Self::PENDING => State::Pending,
            Self::RUNNING => State::Running,
            Self::CANCELLED => State::Cancelled,
            Self::CANCELLED_AND_NOTIFIED => State::CancelledAndNotified,
            _ => State::Finished,
        }
    }

    /// Cancelled, finished, or cancelled and seen by the executor: it never changes again
    /// (but for the executor's `CANCELLED -> CANCELLED_AND_NOTIFIED`).
    pub(crate) fn is_done(self) -> bool {
        self.0 >= Self::CANCELLED.0
    }

    pub(crate) fn is_cancelled(self) -> bool {
        self == Self::CANCELLED || self == Self::CANCELLED_AND_NOTIFIED
    }

    /// The user's `cancel` (Python's): a pending future becomes cancelled.
    pub(crate) fn cancel(self) -> (Option<Self>, CancelTransition) {
        match self {
            Self::PENDING => (Some(Self::CANCELLED), CancelTransition::Cancelled),
            Self::CANCELLED | Self::CANCELLED_AND_NOTIFIED => {
                (None, CancelTransition::AlreadyCancelled)
            }
            _ => (None, CancelTransition::Refused),
        }
    }

    /// An executor claims the future before running its work (`set_running_or_notify_cancel`):
    /// `Ok((next, true))` to run it, `Ok((next, false))` to drop it (it was cancelled), `Err`
    /// if it already runs or has an outcome (nothing changes).
    pub(crate) fn claim(self) -> Result<(Self, bool), Self> {
        match self {
            Self::PENDING => Ok((Self::RUNNING, true)),
            Self::CANCELLED => Ok((Self::CANCELLED_AND_NOTIFIED, false)),
            other => Err(other),
        }
    }

    /// The outcome is being set: `FINISHED` from pending or running; `Err` once done.
    pub(crate) fn complete(self) -> Result<Self, Self> {
        if self.is_done() {
            Err(self)
        } else {
            Ok(Self::FINISHED)
        }
    }

    /// The executor ended a started (or pending) task unrun: cancelled and seen; `None` once
    /// done.
    pub(crate) fn end_cancelled(self) -> Option<Self> {
        (!self.is_done()).then_some(Self::CANCELLED_AND_NOTIFIED)
    }
}

impl fmt::Debug for FutureState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::PENDING => f.write_str("PENDING"),
            Self::RUNNING => f.write_str("RUNNING"),
            Self::CANCELLED => f.write_str("CANCELLED"),
            Self::CANCELLED_AND_NOTIFIED => f.write_str("CANCELLED_AND_NOTIFIED"),
            Self::FINISHED => f.write_str("FINISHED"),
            Self(other) => write!(f, "FutureState({other})"),
        }
    }
}

/// The atomic holding a [`FutureState`]: written only with the future's lock held, read
/// lock-free.
#[derive(Debug)]
pub(crate) struct StateWord(AtomicU8);

impl StateWord {
    pub(crate) fn new() -> Self {
        Self(AtomicU8::new(FutureState::PENDING.0))
    }

    /// The state, for a reader without the lock (`Acquire`: a `FINISHED` seen here makes the
    /// outcome written before it visible).
    #[inline]
    pub(crate) fn load(&self) -> FutureState {
        FutureState(self.0.load(Ordering::Acquire))
    }

    /// Apply `transition` to the current state and store what it returns, if anything
    /// (`Release`). The caller holds the future's lock (`_locked` is its guard), so no other
    /// transition runs in between: this is the one place a state is written.
    #[inline]
    pub(crate) fn apply<G, R>(
        &self,
        _locked: &G,
        transition: impl FnOnce(FutureState) -> (Option<FutureState>, R),
    ) -> R {
        let (next, returned) = transition(FutureState(self.0.load(Ordering::Relaxed)));
        if let Some(next) = next {
            self.0.store(next.0, Ordering::Release);
        }
        returned
    }
}

#[cfg(test)]
mod tests {
    use super::{CancelTransition, FutureState as S};
    use alloc::format;
    use alloc::vec::Vec;

    const ALL: [S; 5] = [
        S::PENDING,
        S::RUNNING,
        S::CANCELLED,
        S::CANCELLED_AND_NOTIFIED,
        S::FINISHED,
    ];

    #[test]
    fn cancel_moves_only_a_pending_future() {
        assert_eq!(
            S::PENDING.cancel(),
            (Some(S::CANCELLED), CancelTransition::Cancelled)
        );
        for cancelled in [S::CANCELLED, S::CANCELLED_AND_NOTIFIED] {
            assert_eq!(
                cancelled.cancel(),
                (None, CancelTransition::AlreadyCancelled)
            );
        }
        for refused in [S::RUNNING, S::FINISHED] {
            assert_eq!(refused.cancel(), (None, CancelTransition::Refused));
        }
    }

    #[test]
    fn claim_runs_a_pending_future_and_notifies_a_cancelled_one() {
        assert_eq!(S::PENDING.claim(), Ok((S::RUNNING, true)));
        assert_eq!(S::CANCELLED.claim(), Ok((S::CANCELLED_AND_NOTIFIED, false)));
        for refused in [S::RUNNING, S::CANCELLED_AND_NOTIFIED, S::FINISHED] {
            assert_eq!(refused.claim(), Err(refused));
        }
    }

    #[test]
    fn complete_and_end_cancelled_apply_until_done() {
        for state in ALL {
            if state.is_done() {
                assert_eq!(state.complete(), Err(state));
                assert_eq!(state.end_cancelled(), None);
            } else {
                assert_eq!(state.complete(), Ok(S::FINISHED));
                assert_eq!(state.end_cancelled(), Some(S::CANCELLED_AND_NOTIFIED));
            }
        }
    }

    #[test]
    fn done_states_never_go_back() {
        for state in ALL.into_iter().filter(|state| state.is_done()) {
            assert!(state.cancel().0.is_none());
            assert!(state.complete().is_err());
            assert!(state.end_cancelled().is_none());
            if let Ok((next, _)) = state.claim() {
                assert!(next.is_done(), "{state:?} -> {next:?}");
            }
        }
    }

    #[test]
    fn debug_names_each_state() {
        let names: Vec<_> = ALL.iter().map(|state| format!("{state:?}")).collect();
        assert_eq!(
            names,
            [
                "PENDING",
                "RUNNING",
                "CANCELLED",
                "CANCELLED_AND_NOTIFIED",
                "FINISHED"
            ]
        );
        assert_eq!(format!("{:?}", S(9)), "FutureState(9)");
    }
}
