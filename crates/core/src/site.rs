//! Where a task was submitted ([`SubmitSite`]), for the dumps that name a stuck task by its
//! source line.
//!
//! A task records its submit site in two of the three bytes its cell had as padding (between
//! the future's state byte and its handle count), so a future's cell does not grow: the site is
//! an index into one process-wide table of the `Location`s seen, not the 8-byte reference
//! itself. Submitting looks the caller's
//! `Location` up in that table: a hash of its address and, after the first submit from that line,
//! one load that finds it (the table is written once per source line and then only read, so
//! threads that submit from the same line share its cache line unmodified). The table holds
//! [`SITES`] lines; a program that submits from more than that many (or from lines whose probe
//! sequence is full) records the rest as unknown rather than evicting anything, so a recorded
//! site never changes. Without the `locations` feature nothing is looked up and every site is
//! unknown. The table is diagnostic state, not a protocol: it uses the platform's atomics
//! directly (not the loom shim), and on targets without compare-and-swap every site is unknown.

use core::panic::Location;
#[cfg(all(feature = "locations", target_has_atomic = "ptr"))]
use core::sync::atomic::{AtomicPtr, Ordering};

/// How many distinct source lines the table records (a site is a `u16`: at most 65,535).
pub const SITES: usize = 4096;

/// Slots looked at for one line before it is recorded as unknown.
#[cfg(all(feature = "locations", target_has_atomic = "ptr"))]
const PROBES: usize = 16;

#[cfg(all(feature = "locations", target_has_atomic = "ptr"))]
static TABLE: [AtomicPtr<Location<'static>>; SITES] =
    [const { AtomicPtr::new(core::ptr::null_mut()) }; SITES];

/// Where a task was submitted: a source location, interned (see the module docs). Two bytes;
/// [`location`](SubmitSite::location) gives the `Location` back.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SubmitSite(u16);

impl SubmitSite {
    /// A site not recorded (the `locations` feature is off, or the table is full).
    pub const UNKNOWN: SubmitSite = SubmitSite(0);

    /// The site of the caller (through every `#[track_caller]` function above it).
    #[track_caller]
    #[inline]
    pub fn caller() -> SubmitSite {
        SubmitSite::of(Location::caller())
    }

    /// The site of `location`.
    #[inline]
    pub fn of(location: &'static Location<'static>) -> SubmitSite {
        #[cfg(all(feature = "locations", target_has_atomic = "ptr"))]
        {
            // Inlined: the look that finds a line already recorded at its home slot (every
            // submit from that line after its first, unless its home is taken by another).
            let wanted = core::ptr::from_ref(location).cast_mut();
            let slot = home(wanted);
            if TABLE[slot].load(Ordering::Acquire) == wanted {
                return SubmitSite(slot as u16 + 1);
            }
            SubmitSite::probe(wanted, slot)
        }
        #[cfg(not(all(feature = "locations", target_has_atomic = "ptr")))]
        {
            let _ = location;
            SubmitSite::UNKNOWN
        }
    }

    /// `of`'s probe from `slot` on: finds `wanted`, records it in the first free slot, or gives
    /// up after [`PROBES`] slots.
    #[cfg(all(feature = "locations", target_has_atomic = "ptr"))]
    #[inline(never)]
    fn probe(wanted: *mut Location<'static>, mut slot: usize) -> SubmitSite {
        for _ in 0..PROBES {
            let held = TABLE[slot].load(Ordering::Acquire);
            if held == wanted {
                return SubmitSite(slot as u16 + 1);
            }
            if held.is_null() {
                match TABLE[slot].compare_exchange(
                    core::ptr::null_mut(),
                    wanted,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => return SubmitSite(slot as u16 + 1),
                    // Another line took the slot just now, or this same line did.
                    Err(now) if now == wanted => return SubmitSite(slot as u16 + 1),
                    Err(_) => {}
                }
            }
            slot = (slot + 1) % SITES;
        }
        SubmitSite::UNKNOWN
    }

    /// The site as a number (for an executor that keeps it in an atomic); `from_bits` gives
    /// it back.
    pub const fn to_bits(self) -> u16 {
        self.0
    }

    /// The site `to_bits` gave; any other number is a site that may read as unknown.
    pub fn from_bits(bits: u16) -> SubmitSite {
        SubmitSite(bits)
    }

    /// The source location, if it was recorded.
    pub fn location(self) -> Option<&'static Location<'static>> {
        lookup((self.0 as usize).checked_sub(1)?)
    }
}

/// The location in `slot`, if one was recorded there.
#[cfg(all(feature = "locations", target_has_atomic = "ptr"))]
fn lookup(slot: usize) -> Option<&'static Location<'static>> {
    let held = TABLE.get(slot)?.load(Ordering::Acquire);
    // SAFETY: a slot is only ever written once, from null to a pointer made from a
    // `&'static Location<'static>` (`SubmitSite::of`), and this `Acquire` load pairs with that
    // write's release, so a non-null pointer read here is such a reference.
    unsafe { held.as_ref() }
}

#[cfg(not(all(feature = "locations", target_has_atomic = "ptr")))]
fn lookup(_slot: usize) -> Option<&'static Location<'static>> {
    None
}

/// The first slot looked at for the location at `address` (Fibonacci hashing of the address).
#[cfg(all(feature = "locations", target_has_atomic = "ptr"))]
#[inline(always)]
fn home(address: *mut Location<'static>) -> usize {
    const SHIFT: u32 = u64::BITS - SITES.trailing_zeros();
    let hashed = (address as usize as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (hashed >> SHIFT) as usize
}

impl core::fmt::Debug for SubmitSite {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.location() {
            Some(location) => write!(f, "SubmitSite({location})"),
            None => f.write_str("SubmitSite(unknown)"),
        }
    }
}

impl core::fmt::Display for SubmitSite {
    /// `file:line:column`, or `an unrecorded place`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.location() {
            Some(location) => write!(f, "{location}"),
            None => f.write_str("an unrecorded place"),
        }
    }
}
