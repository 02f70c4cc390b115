//! Running the real `bulkops` client binary against `bulkops serve` as a child process.

#![allow(dead_code)] // Each test file uses its own part of this.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

use bulkops::local::demo::enrollment_id;
use bulkops_testkit::server::ServerProcess;
use serde_json::Value;

pub const BINARY: &str = env!("CARGO_BIN_EXE_bulkops");
pub const ALL: &str = "ISSUANCE:ADD ISSUANCE:VIEW ISSUANCE:REMOVE";

/// How a client command ended.
#[derive(Debug)]
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// The one JSON document of `--json`.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{self:?}"))
    }
}

/// A client command line for one server and token.
pub struct Client {
    pub url: String,
    pub token: String,
}

impl Client {
    pub fn of(server: &ServerProcess) -> Self {
        Self {
            url: server.url.clone(),
            token: server.token("alice", ALL),
        }
    }

    /// `bulkops <args> --url <url>`, the token in `BULKOPS_TOKEN`.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BINARY);
        command
            .args(args)
            .args(["--url", &self.url])
            .env("BULKOPS_TOKEN", &self.token)
            .env_remove("BULKOPS_URL");
        command
    }

    pub fn run(&self, args: &[&str]) -> Ran {
        ran(self.command(args))
    }

    /// Starts the command with its stderr read line by line as it comes.
    pub fn spawn(&self, args: &[&str]) -> Spawned {
        spawn(self.command(args))
    }
}

pub fn ran(mut command: Command) -> Ran {
    let output = command.output().expect("run bulkops");
    Ran {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A running client.
pub struct Spawned {
    pub child: Child,
    lines: Receiver<String>,
    pub seen: Vec<String>,
}

pub fn spawn(mut command: Command) -> Spawned {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start bulkops");
    let stderr = child.stderr.take().expect("stderr");
    let (sender, lines) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    Spawned {
        child,
        lines,
        seen: Vec::new(),
    }
}

impl Spawned {
    /// Waits (at most `seconds`) for a stderr line containing `text`.
    pub fn line_with(&mut self, text: &str, seconds: u64) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(seconds);
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => break,
            }
        }
        panic!(
            "no stderr line with {text:?} within {seconds} s; seen:\n{:#?}",
            self.seen
        );
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits for the exit (at most `seconds`) and returns everything it printed.
    pub fn finish(mut self, seconds: u64) -> Ran {
        let deadline = std::time::Instant::now() + Duration::from_secs(seconds);
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            if std::time::Instant::now() > deadline {
                self.child.kill().ok();
                panic!(
                    "the client did not exit within {seconds} s; seen:\n{:#?}",
                    self.seen
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let output = self.child.wait_with_output().expect("client output");
        // The reader thread ends with the pipe.
        self.seen.extend(self.lines.iter());
        Ran {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: self.seen.join("\n"),
        }
    }
}

/// A CSV of `count` known demo enrollments under an `id` header.
pub fn clean_ids(dir: &Path, name: &str, count: usize) -> PathBuf {
    let ids: Vec<String> = (0..count).map(enrollment_id).collect();
    let path = dir.join(name);
    std::fs::write(&path, format!("id\n{}\n", ids.join("\n"))).expect("write ids");
    path
}

#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// A port nothing listens on.
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
