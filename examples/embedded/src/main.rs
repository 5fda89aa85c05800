//! Firmware: betterconcurrent's `LocalExecutor` on a Cortex-M, no operating system. It runs on
//! QEMU's lm3s6965evb (Cortex-M3, thumbv7m) and micro:bit (Cortex-M0, thumbv6m: no
//! compare-and-swap, so the core's atomics go through `portable-atomic`'s critical sections).
//!
//! It runs three jobs on one executor driven from `main`, checks each result, prints them over
//! semihosting and exits with a non-zero code if anything is wrong (a panic exits non-zero too):
//! 1. the seed's tree search, fire-and-forget: every node is a task that spawns its children and
//!    never looks at a result; `join` returns once the whole tree has run;
//! 2. a cooperative fan-out: a task spawns workers and awaits them all without blocking;
//! 3. a task that sleeps three ticks on the core's `Timer`, whose clock is the count of SysTick
//!    interrupts: the handler only advances the count, and the executor's idle hook fires the
//!    sleeps that are due (the timer's lock is never taken in the interrupt handler, so it cannot
//!    preempt a holder of that lock and spin forever).
//!
//! ```text
//! cd examples/embedded && cargo run --release
//! cd examples/embedded && cargo run --release --target thumbv6m-none-eabi
//! ```
#![no_std]
#![no_main]

extern crate alloc;

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::mem::MaybeUninit;

use betterconcurrent_core::local::{LocalExecutor, LocalSpawner};
use betterconcurrent_core::timer::Timer;
use betterconcurrent_core::{yield_until_done, Future};
use cortex_m::interrupt;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::{entry, exception};
use cortex_m_semihosting::{debug, hprintln};
use embedded_alloc::LlffHeap as Heap;
use portable_atomic::{AtomicBool, AtomicU32, Ordering};

#[global_allocator]
static HEAP: Heap = Heap::empty();

/// Bytes of RAM given to the heap (the micro:bit has 16 KiB in all; the rest is stack and
/// statics).
const HEAP_SIZE: usize = 8 * 1024;

/// Room for this many unfinished tasks: the tree's 40 nodes fit, with the other jobs' tasks.
const TASKS: usize = 64;

/// The tree: BASE children per node, DEPTH levels below the root (1 + 3 + 9 + 27 = 40 nodes).
const BASE: u32 = 3;
const DEPTH: u32 = 3;
/// A node at depth 3: ((1 * 3 + 2) * 3 + 1) * 3 + 0.
const TARGET: u32 = 48;
/// How many nodes the tree has.
const NODES: u32 = 40;

/// SysTick interrupts so far: the timer's clock.
static TICKS: AtomicU32 = AtomicU32::new(0);

/// The timer's clock, in SysTick ticks (10 ms each).
fn ticks() -> u64 {
    u64::from(TICKS.load(Ordering::Acquire))
}

#[entry]
fn main() -> ! {
    init_heap();
    let mut core = cortex_m::Peripherals::take().expect("peripherals are taken once");
    // SysTick every 10 ms of QEMU's 12 MHz core clock.
    core.SYST.set_clock_source(SystClkSource::Core);
    core.SYST.set_reload(120_000 - 1);
    core.SYST.clear_current();
    core.SYST.enable_interrupt();
    core.SYST.enable_counter();

    let executor = LocalExecutor::<TASKS>::new();
    // Lives as long as the program, so sleeps on it can be held by `'static` tasks. `arm` does
    // nothing: SysTick interrupts come every tick anyway, and the idle hook fires what is due.
    let timer: &'static Timer = Box::leak(Box::new(Timer::new(ticks, |_deadline| {})));
    let failures =
        tree_search(&executor) + fan_out(&executor) + sleep_on_the_tick_clock(&executor, timer);
    if executor.outstanding() != 0 {
        fail("tasks outstanding after join");
    }
    if failures > 0 {
        fail("a result was wrong");
    }
    hprintln!("all checks passed");
    debug::exit(debug::EXIT_SUCCESS);
    loop {
        cortex_m::asm::wfi();
    }
}

fn init_heap() {
    static mut HEAP_MEM: [MaybeUninit<u8>; HEAP_SIZE] = [MaybeUninit::uninit(); HEAP_SIZE];
    // SAFETY: called once, before anything allocates; the buffer is only ever used by the heap.
    unsafe { HEAP.init(&raw mut HEAP_MEM as usize, HEAP_SIZE) }
}

/// Nodes the tree search visited, and whether one was the target.
static NODES_VISITED: AtomicU32 = AtomicU32::new(0);
static FOUND: AtomicBool = AtomicBool::new(false);

fn visit(spawner: LocalSpawner, node: u32, depth: u32) {
    NODES_VISITED.fetch_add(1, Ordering::Relaxed);
    if node == TARGET {
        FOUND.store(true, Ordering::Relaxed);
    }
    if depth == DEPTH {
        return;
    }
    for i in 0..BASE {
        let child_spawner = spawner.clone();
        // Fire and forget: the future is dropped; `join` still waits for the task.
        if spawner
            .spawn(async move { visit(child_spawner, node * BASE + i, depth + 1) })
            .is_err()
        {
            fail("the tree outgrew the executor");
        }
    }
}

/// Job 1; returns the number of wrong results.
fn tree_search(executor: &LocalExecutor<TASKS>) -> u32 {
    let spawner = executor.spawner();
    drop(executor.spawn(async move { visit(spawner, 1, 0) }));
    executor.join_with(cortex_m::asm::wfi);
    let nodes = NODES_VISITED.load(Ordering::Relaxed);
    let found = FOUND.load(Ordering::Relaxed);
    hprintln!(
        "tree search: {} nodes (base {}, depth {}), target {} {}",
        nodes,
        BASE,
        DEPTH,
        TARGET,
        if found { "found" } else { "not found" }
    );
    u32::from(nodes != NODES) + u32::from(!found)
}

/// Job 2: a parent spawns workers summing slices of 1..=1000 and awaits them cooperatively.
fn fan_out(executor: &LocalExecutor<TASKS>) -> u32 {
    let spawner = executor.spawner();
    let total = executor
        .spawn(async move {
            let workers: Vec<Future<u32>> = (0..10u32)
                .map(|w| {
                    spawner
                        .spawn(async move { (w * 100 + 1..=w * 100 + 100).sum::<u32>() })
                        .unwrap_or_else(|_| fail("no room for a worker"))
                })
                .collect();
            yield_until_done(&workers).await;
            workers
                .iter()
                .map(|w| *w.try_result().and_then(Result::ok).unwrap_or(&0))
                .sum::<u32>()
        })
        .unwrap_or_else(|_| fail("no room for the parent"));
    let total = *executor
        .block_on_with(&total, cortex_m::asm::wfi)
        .unwrap_or_else(|_| fail("the fan-out failed"));
    hprintln!("fan-out: 10 workers summed 1..=1000 to {}", total);
    u32::from(total != 500_500)
}

/// The executor's idle hook while sleeps are armed: fire the due ones, and if none was, wait for
/// the next interrupt. Interrupts are masked from the check to `wfi` (which still wakes on a
/// pending interrupt), so a tick in between cannot leave the task asleep for a tick too long.
fn fire_or_wait(timer: &Timer) {
    interrupt::free(|_| {
        let armed = timer.pending();
        timer.fire_due();
        if timer.pending() == armed {
            cortex_m::asm::wfi();
        }
    });
}

/// Job 3: a task sleeps three ticks on the timer (a `Sleep`, the future `std`'s `time::sleep`
/// returns, on the SysTick clock) while the executor idles in `fire_or_wait`.
fn sleep_on_the_tick_clock(executor: &LocalExecutor<TASKS>, timer: &'static Timer) -> u32 {
    let sleeper = executor
        .spawn(async move {
            let start = timer.now();
            timer.sleep(3).await;
            timer.now() - start
        })
        .unwrap_or_else(|_| fail("no room for the sleeper"));
    executor.join_with(|| fire_or_wait(timer));
    let slept = sleeper
        .try_result()
        .and_then(Result::ok)
        .copied()
        .unwrap_or(0);
    hprintln!("timer: the task slept {} SysTick ticks (asked 3)", slept);
    u32::from(slept < 3) + u32::from(timer.pending() != 0)
}

#[exception]
fn SysTick() {
    // Only the clock: the idle hook fires the sleeps (see `fire_or_wait`).
    TICKS.fetch_add(1, Ordering::AcqRel);
}

/// Report and exit with a failure code (QEMU passes it on to the shell).
fn fail(why: &str) -> ! {
    hprintln!("FAILED: {}", why);
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    hprintln!("panic: {}", info);
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
