//! The harness of the Celery tests: a `redis-server` of its own per test on a free loopback
//! port, Python Celery 5 workers and clients from a virtualenv, all stopped when dropped.
//!
//! The virtualenv is `$BETTERCONCURRENT_CELERY_VENV`, or `target/celery-venv` in the workspace;
//! if it has no Celery yet, the first test that needs it makes it (`python3 -m venv`, then
//! `pip install celery[redis]==5.7.0`), under a lock directory so that test binaries running
//! at once make it once. `redis-server` must be on the `PATH` (Debian's package
//! `redis-server`; `.ci/run` installs it).
#![allow(dead_code)] // each test file uses part of it

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The Celery release the tests run against.
pub const CELERY: &str = "celery[redis]==5.7.0";
/// How long a server or a worker may take to come up.
const STARTUP: Duration = Duration::from_secs(60);

/// A free port on 127.0.0.1 (the OS's pick; a server started on it right after may still lose
/// a race with another, so starters retry).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A `redis-server` on loopback, without persistence, killed on drop.
pub struct Redis {
    port: u16,
    child: Option<Child>,
}

impl Redis {
    pub fn start() -> Redis {
        for _ in 0..10 {
            let mut redis = Redis {
                port: free_port(),
                child: None,
            };
            if redis.launch() {
                return redis;
            }
        }
        panic!("redis-server did not start on a free port in 10 tries");
    }

    /// Start the server on `self.port`; `false` if it did not come up (the port was taken).
    fn launch(&mut self) -> bool {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on the PATH (apt-get install redis-server)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(Ok(Some(_))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                return false; // exited: the port was taken
            }
            if self.ping() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.stop();
        false
    }

    fn ping(&self) -> bool {
        redis::Client::open(self.url())
            .and_then(|client| client.get_connection_with_timeout(Duration::from_millis(200)))
            .and_then(|mut connection| redis::cmd("PING").query::<String>(&mut connection))
            .is_ok()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// A command connection, for tests that look at or change the broker's keys.
    pub fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|client| client.get_connection_with_timeout(Duration::from_secs(5)))
            .expect("a connection to the test's redis-server")
    }

    /// Kill the server (its data goes with it: no persistence).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Start it again on the same port, empty.
    pub fn restart(&mut self) {
        self.stop();
        let deadline = Instant::now() + STARTUP;
        while !self.launch() {
            assert!(Instant::now() < deadline, "redis-server did not come back");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The virtualenv's Python, with Celery installed (made on first use).
pub fn python() -> PathBuf {
    static MADE: Mutex<Option<PathBuf>> = Mutex::new(None);
    let mut made = MADE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(python) = made.as_ref() {
        return python.clone();
    }
    let venv = std::env::var_os("BETTERCONCURRENT_CELERY_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../target/celery-venv")
                .to_path_buf()
        });
    let python = venv.join("bin/python");
    let has_celery = |python: &Path| {
        Command::new(python)
            .args(["-c", "import celery, redis"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    };
    if !has_celery(&python) {
        let lock = venv.with_extension("lock");
        std::fs::create_dir_all(venv.parent().expect("the venv has a parent")).unwrap();
        let deadline = Instant::now() + Duration::from_secs(600);
        while std::fs::create_dir(&lock).is_err() {
            assert!(
                Instant::now() < deadline,
                "{} held too long",
                lock.display()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
        if !has_celery(&python) {
            let made = Command::new("python3")
                .args(["-m", "venv"])
                .arg(&venv)
                .status()
                .is_ok_and(|status| status.success())
                && Command::new(&python)
                    .args(["-m", "pip", "install", "--quiet", CELERY])
                    .status()
                    .is_ok_and(|status| status.success());
            let _ = std::fs::remove_dir(&lock);
            assert!(
                made,
                "could not make the Celery virtualenv at {}",
                venv.display()
            );
        } else {
            let _ = std::fs::remove_dir(&lock);
        }
    }
    *made = Some(python.clone());
    python
}

/// The directory of `tasks.py`.
fn tasks_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python")
}

/// What a child process printed, line by line, gathered by a thread.
#[derive(Clone, Default)]
pub struct Output(Arc<Mutex<String>>);

impl Output {
    fn gather(&self, stream: impl Read + Send + 'static, lines: Option<mpsc::Sender<String>>) {
        let output = self.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                let mut text = output.0.lock().unwrap_or_else(|p| p.into_inner());
                text.push_str(&line);
                text.push('\n');
                drop(text);
                if let Some(lines) = &lines {
                    let _ = lines.send(line);
                }
            }
        });
    }

    pub fn text(&self) -> String {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A Python Celery worker (`--pool=solo`, one task at a time) on `tasks.py`, killed on drop.
pub struct PythonWorker {
    child: Option<Child>,
    pub output: Output,
}

impl PythonWorker {
    pub fn start(redis: &Redis) -> PythonWorker {
        Self::start_with(redis, &[])
    }

    /// With extra environment for `tasks.py` (`RESULT_EXPIRES`, `VISIBILITY_TIMEOUT`).
    pub fn start_with(redis: &Redis, env: &[(&str, &str)]) -> PythonWorker {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let name = format!(
            "py{}-{}@%h",
            redis.port(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let mut child = Command::new(python())
            .args(["-m", "celery", "-A", "tasks", "worker", "--pool=solo"])
            .args(["--concurrency=1", "-Q", "celery", "-n", &name])
            .args(["--loglevel=INFO", "--without-mingle", "--without-gossip"])
            .arg("--without-heartbeat")
            .current_dir(tasks_dir())
            .env("REDIS_URL", redis.url())
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the virtualenv's python runs");
        let output = Output::default();
        let (lines, ready) = mpsc::channel();
        output.gather(child.stdout.take().unwrap(), Some(lines.clone()));
        output.gather(child.stderr.take().unwrap(), Some(lines));
        let deadline = Instant::now() + STARTUP;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match ready.recv_timeout(left) {
                Ok(line) if line.contains(" ready.") => break,
                Ok(_) => {}
                Err(_) => {
                    let _ = child.kill();
                    panic!("the Python worker did not start:\n{}", output.text());
                }
            }
        }
        PythonWorker {
            child: Some(child),
            output,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// SIGKILL: no warm shutdown, nothing put back.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PythonWorker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Run `code` in a Python client (`from tasks import app` done first); its standard output.
pub fn python_client(redis: &Redis, code: &str) -> String {
    let output = Command::new(python())
        .args(["-c", &format!("from tasks import app\n{code}")])
        .current_dir(tasks_dir())
        .env("REDIS_URL", redis.url())
        .stdin(Stdio::null())
        .output()
        .expect("the virtualenv's python runs");
    assert!(
        output.status.success(),
        "the Python client failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}
