//! `bulkops serve` as a child process, the way a newcomer runs it: for the end-to-end
//! tests (real HTTP, restarts, kills) and the idle-memory benchmark.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `bulkops serve`.
pub struct ServerProcess {
    pub child: Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    pub binary: PathBuf,
    pub data_dir: PathBuf,
}

impl ServerProcess {
    /// Runs `<binary> serve --port 0 --data-dir <data_dir> <extra>` in `data_dir`'s parent and
    /// waits for its "serving http://…" line. Its log goes to `<data_dir>.log`.
    pub fn start(binary: &Path, data_dir: &Path, extra: &[&str]) -> Self {
        Self::start_with_env(binary, data_dir, extra, &[])
    }

    /// As [`ServerProcess::start`], with extra environment (e.g. `TABLE_NAME` and
    /// `QUEUE_URL` for AWS mode).
    pub fn start_with_env(
        binary: &Path,
        data_dir: &Path,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        Self::start_on_port(binary, data_dir, 0, extra, env)
    }

    /// As [`ServerProcess::start_with_env`] on `port` (0 picks a free one): a restart on the
    /// port of an earlier run keeps its URL, for clients that were waiting on it. The log is
    /// appended to.
    pub fn start_on_port(
        binary: &Path,
        data_dir: &Path,
        port: u16,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data_dir.with_extension("log"))
            .expect("server log file");
        let mut child = Command::new(binary)
            .args(["serve", "--port", &port.to_string(), "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .current_dir(data_dir.parent().unwrap_or(Path::new(".")))
            .env_remove("TABLE_NAME")
            .env_remove("QUEUE_URL")
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start bulkops serve");
        let stdout = child.stdout.take().expect("server stdout");
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line
                    .split_whitespace()
                    .find(|word| word.starts_with("http://"))
                {
                    sender.send(url.to_owned()).ok();
                }
            }
        });
        let url = match receiver.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => url,
            Err(_) => {
                child.kill().ok();
                let log =
                    std::fs::read_to_string(data_dir.with_extension("log")).unwrap_or_default();
                panic!("bulkops serve did not start within 60 s; its log:\n{log}");
            }
        };
        Self {
            child,
            url,
            binary: binary.to_owned(),
            data_dir: data_dir.to_owned(),
        }
    }

    /// A development token from `bulkops token` (same data directory, same key).
    pub fn token(&self, sub: &str, scope: &str) -> String {
        token(&self.binary, &self.data_dir, sub, scope, 3600)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.url
            .rsplit(':')
            .next()
            .and_then(|port| port.parse().ok())
            .expect("a port in the server's URL")
    }

    /// SIGKILL: the process dies mid-work, as in a power cut.
    pub fn kill(mut self) {
        self.child.kill().expect("kill the server");
        self.child.wait().ok();
    }

    /// SIGTERM, then waits for the graceful stop.
    pub fn stop(mut self) {
        #[cfg(unix)]
        {
            Command::new("kill")
                .arg("-TERM")
                .arg(self.child.id().to_string())
                .status()
                .expect("send SIGTERM");
            for _ in 0..600 {
                if let Ok(Some(status)) = self.child.try_wait() {
                    assert!(status.success(), "the server exited with {status}");
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            panic!("the server did not stop within 30 s of SIGTERM");
        }
        #[cfg(not(unix))]
        self.child.kill().ok();
    }

    /// Resident memory of the process in KiB (Linux).
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.child.kill().ok();
            self.child.wait().ok();
        }
    }
}

/// Runs `bulkops token` and returns the token.
pub fn token(binary: &Path, data_dir: &Path, sub: &str, scope: &str, ttl: i64) -> String {
    let output = Command::new(binary)
        .args(["token", "--sub", sub, "--scope", scope, "--ttl-seconds"])
        .arg(ttl.to_string())
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .expect("run bulkops token");
    assert!(
        output.status.success(),
        "bulkops token failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// A fresh directory under the system temp dir, removed when dropped.
pub fn fresh_dir(label: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("bulkops-{label}-"))
        .tempdir()
        .expect("create a temp dir")
}
