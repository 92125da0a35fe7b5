//! A real `redis-server` of a test's own on a free loopback port (no persistence), killed on
//! drop; it can be killed and restarted on the same port to play an outage.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
    extra: Vec<String>,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        RedisServer::start_with(&[])
    }

    /// `{port}` in `extra` is replaced by the port.
    pub fn start_with(extra: &[&str]) -> RedisServer {
        let extra: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
        for _ in 0..10 {
            let dir = tempfile::tempdir().unwrap();
            let port = free_port();
            if let Some(child) = spawn(port, dir.path(), &extra) {
                return RedisServer {
                    child,
                    port,
                    dir,
                    extra,
                };
            }
        }
        panic!("could not start redis-server on a free port");
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A server on `port` (which must be free), e.g. one a gateway was told about before it ran.
    pub fn start_on(port: u16) -> RedisServer {
        let dir = tempfile::tempdir().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(child) = spawn(port, dir.path(), &[]) {
                return RedisServer {
                    child,
                    port,
                    dir,
                    extra: Vec::new(),
                };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("could not start redis-server on port {port}");
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Same port, same folder; nothing was saved, so data and the script cache are gone.
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(child) = spawn(self.port, self.dir.path(), &self.extra) {
                self.child = child;
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("could not restart redis-server on port {}", self.port);
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Starts redis-server and waits until it answers PING (with TLS: accepts TCP); `None` if it
/// exited (the port was taken).
fn spawn(port: u16, dir: &std::path::Path, extra: &[String]) -> Option<Child> {
    let tls = extra.iter().any(|a| a == "--tls-port");
    let extra = extra.iter().map(|a| a.replace("{port}", &port.to_string()));
    let mut child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server is installed (.ci/run installs it)");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return None;
        }
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            if tls {
                return Some(child);
            }
            s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
            let mut buf = [0u8; 64];
            if s.write_all(b"PING\r\n").is_ok() && matches!(s.read(&mut buf), Ok(n) if n > 0) {
                return Some(child);
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}
