//! Fuzz target: `betterconcurrent_testkit::future_ops` (the harness the corpus replay test runs too).
#![no_main]

libfuzzer_sys::fuzz_target!(
    init: betterconcurrent_testkit::expect_task_panics(),
    |data: &[u8]| betterconcurrent_testkit::future_ops(data)
);
