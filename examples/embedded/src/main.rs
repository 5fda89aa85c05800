//! Firmware: betterconcurrent's `LocalExecutor` on a Cortex-M, no operating system. It runs on
//! QEMU's lm3s6965evb (Cortex-M3, thumbv7m) and micro:bit (Cortex-M0, thumbv6m: no
//! compare-and-swap, so the core's atomics go through `portable-atomic`'s critical sections).
//!
//! It runs three jobs on one executor driven from `main`, checks each result, prints them over
//! semihosting and exits with a non-zero code if anything is wrong (a panic exits non-zero too):
//! 1. the seed's tree search, fire-and-forget: every node is a task that spawns its children and
//!    never looks at a result; `join` returns once the whole tree has run;
//! 2. a cooperative fan-out: a task spawns workers and awaits them all without blocking;
//! 3. a task asleep until the SysTick interrupt has fired a number of times: the interrupt
//!    handler wakes it, which is safe because a wake takes no lock.
//!
//! ```text
//! cd examples/embedded && cargo run --release
//! cd examples/embedded && cargo run --release --target thumbv6m-none-eabi
//! ```
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;
use core::cell::RefCell;
use core::future::Future as StdFuture;
use core::mem::MaybeUninit;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use betterconcurrent_core::local::{LocalExecutor, LocalSpawner};
use betterconcurrent_core::{yield_until_done, Future};
use cortex_m::interrupt::{self, Mutex};
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

/// SysTick interrupts so far.
static TICKS: AtomicU32 = AtomicU32::new(0);
/// The waker of the task sleeping on SysTick, taken and woken by the interrupt handler.
static TICK_WAKER: Mutex<RefCell<Option<Waker>>> = Mutex::new(RefCell::new(None));

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
    let failures = tree_search(&executor) + fan_out(&executor) + woken_by_interrupt(&executor);
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

/// Ready once SysTick has fired `until` times; the handler wakes it.
struct TicksReach {
    until: u32,
}

impl StdFuture for TicksReach {
    type Output = u32;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        if TICKS.load(Ordering::Acquire) >= self.until {
            return Poll::Ready(TICKS.load(Ordering::Acquire));
        }
        interrupt::free(|cs| *TICK_WAKER.borrow(cs).borrow_mut() = Some(cx.waker().clone()));
        // A tick between the check and the registration would have found no waker: look again.
        let now = TICKS.load(Ordering::Acquire);
        if now >= self.until {
            Poll::Ready(now)
        } else {
            Poll::Pending
        }
    }
}

/// Job 3: a task sleeps until three more SysTicks have fired, woken by the interrupt handler.
fn woken_by_interrupt(executor: &LocalExecutor<TASKS>) -> u32 {
    let start = TICKS.load(Ordering::Acquire);
    let sleeper = executor
        .spawn(async move {
            let now = TicksReach { until: start + 3 }.await;
            now - start
        })
        .unwrap_or_else(|_| fail("no room for the sleeper"));
    executor.join_with(cortex_m::asm::wfi);
    let waited = sleeper
        .try_result()
        .and_then(Result::ok)
        .copied()
        .unwrap_or(0);
    hprintln!("woken by SysTick: the task slept {} ticks", waited);
    u32::from(waited < 3)
}

#[exception]
fn SysTick() {
    TICKS.fetch_add(1, Ordering::AcqRel);
    // Taken inside the critical section, woken outside it: a wake takes no lock (it flips the
    // task's state word and pushes onto the lock-free run queue).
    if let Some(waker) = interrupt::free(|cs| TICK_WAKER.borrow(cs).borrow_mut().take()) {
        waker.wake();
    }
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
