//! Issue 17: what only standard error tells (no future holds it) is said once and names its
//! subject. A panicking done callback's report names the future by its id; a pool broken by its
//! initializer reports the break once, with the initializer's error, however many threads saw
//! it fail. Each scenario runs in a child process (this binary, re-run with the scenario's name)
//! whose standard error the parent reads: the harness is off because a test cannot capture
//! another thread's `eprintln!` in-process.

#[cfg(not(feature = "loom"))]
mod scenarios {
    use std::process::Command;

    use betterconcurrent::{Future, ThreadPoolExecutor};

    const SCENARIO: &str = "BETTERCONCURRENT_REPORT_SCENARIO";

    /// Run `name` in a child process; its standard output and standard error.
    fn run_child(name: &str) -> (String, String) {
        let output = Command::new(std::env::current_exe().unwrap())
            .env(SCENARIO, name)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "the {name} child failed: {output:?}"
        );
        (
            String::from_utf8(output.stdout).unwrap(),
            String::from_utf8(output.stderr).unwrap(),
        )
    }

    fn lines_containing<'a>(text: &'a str, part: &str) -> Vec<&'a str> {
        text.lines().filter(|line| line.contains(part)).collect()
    }

    /// Two callbacks panic on one future, one on another: each report names its own future.
    fn panicking_callbacks() {
        let first = Future::<u8>::new();
        let second = Future::<u8>::new();
        first.add_done_callback(|_| panic!("the first callback broke"));
        first.add_done_callback(|_| panic!("the second callback broke"));
        second.add_done_callback(|_| panic!("a callback of the other future broke"));
        first.set_result(1).unwrap();
        second.set_result(2).unwrap();
        println!("{:#x} {:#x}", first.id(), second.id());
    }

    fn check_panicking_callbacks() {
        let (stdout, stderr) = run_child("callbacks");
        let ids: Vec<&str> = stdout.split_whitespace().collect();
        let [first, second] = ids[..] else {
            panic!("no ids in {stdout:?}")
        };
        assert_ne!(first, second);
        for (id, message) in [
            (first, "the first callback broke"),
            (first, "the second callback broke"),
            (second, "a callback of the other future broke"),
        ] {
            let expected =
                format!("betterconcurrent: a done callback of future {id} panicked: {message}");
            assert_eq!(lines_containing(&stderr, &expected).len(), 1, "{stderr}");
        }
    }

    /// Every worker's initializer fails; work submitted meanwhile fails with the pool broken.
    fn failing_initializer() {
        let pool = ThreadPoolExecutor::builder()
            .max_workers(4)
            .thread_name_prefix("initfails")
            .initializer(|| Err::<(), _>("no database at db.local:5432"))
            .build()
            .unwrap();
        let futures: Vec<_> = (0..8).filter_map(|i| pool.submit(move || i).ok()).collect();
        for future in futures {
            let error = future.result().unwrap_err();
            assert!(error.to_string().contains("no database"), "{error}");
        }
        // Drop joins the threads, so every initializer has run (and failed) by the exit.
    }

    fn check_failing_initializer() {
        let (_, stderr) = run_child("initializer");
        let reports = lines_containing(&stderr, "is broken");
        assert_eq!(reports.len(), 1, "reported once: {stderr}");
        assert_eq!(
            reports[0],
            "betterconcurrent: the pool \"initfails\" is broken: an initializer failed: \
             no database at db.local:5432"
        );
    }

    /// A panicking initializer is reported with the panic's message.
    fn panicking_initializer() {
        let pool = ThreadPoolExecutor::builder()
            .max_workers(2)
            .thread_name_prefix("initpanics")
            .initializer(|| -> Result<(), std::io::Error> { panic!("the config is unreadable") })
            .build()
            .unwrap();
        if let Ok(future) = pool.submit(|| 1) {
            assert!(future.result().is_err());
        }
    }

    fn check_panicking_initializer() {
        let (_, stderr) = run_child("initializer-panic");
        let reports = lines_containing(&stderr, "is broken");
        assert_eq!(reports.len(), 1, "reported once: {stderr}");
        assert!(
            reports[0].ends_with("an initializer panicked: the config is unreadable"),
            "{stderr}"
        );
    }

    /// A pool whose initializer succeeds reports nothing.
    fn quiet_pool() {
        let pool = ThreadPoolExecutor::builder()
            .max_workers(2)
            .initializer(|| Ok::<(), std::io::Error>(()))
            .build()
            .unwrap();
        assert_eq!(pool.submit(|| 2).unwrap().result().unwrap(), &2);
    }

    fn check_quiet_pool() {
        let (_, stderr) = run_child("quiet");
        assert!(!stderr.contains("betterconcurrent:"), "{stderr}");
    }

    pub fn main() {
        match std::env::var(SCENARIO).as_deref() {
            Ok("callbacks") => panicking_callbacks(),
            Ok("initializer") => failing_initializer(),
            Ok("initializer-panic") => panicking_initializer(),
            Ok("quiet") => quiet_pool(),
            Ok(other) => panic!("no scenario {other:?}"),
            Err(_) => {
                let checks: [(&str, fn()); 4] = [
                    (
                        "a callback's panic names its future",
                        check_panicking_callbacks,
                    ),
                    (
                        "a failing initializer is reported once",
                        check_failing_initializer,
                    ),
                    (
                        "a panicking initializer is reported once",
                        check_panicking_initializer,
                    ),
                    ("a working initializer says nothing", check_quiet_pool),
                ];
                for (name, check) in checks {
                    check();
                    println!("ok: {name}");
                }
            }
        }
    }
}

fn main() {
    #[cfg(not(feature = "loom"))]
    scenarios::main();
}
