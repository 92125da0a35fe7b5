//! Black-box test support: starts the built `gemini-gateway` binary on port 0 against an
//! in-process strict mock Gemini, and captures every line it logs. A [`Scenario`] is the usual
//! start (a mock, N keys, a gateway with some settings); [`eventually`] waits for what another
//! process does in its own time (a Redis sync), where no clock or event of the test's can.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod proxy;
pub mod redis_server;

use std::future::Future;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use mock_gemini::{Behaviour, MockGemini, RecordedRequest, Rule};

/// Realistic-looking, distinct 39-character keys (`AIza` + 35) whose masked forms differ too.
pub fn key(i: usize) -> String {
    format!("AIzaSyTestQm2Lr8Vt6Wn3Pk1Jh7Gf5Ds0o{i:04}")
}

pub fn keys(n: usize) -> Vec<String> {
    (0..n).map(key).collect()
}

/// The seed's masking of a key.
pub fn masked(k: &str) -> String {
    format!("{}...{}", &k[..6], &k[k.len() - 4..])
}

/// The usual start: a strict mock, `keys` pool keys, and a gateway on them.
pub struct Scenario {
    pub mock: MockGemini,
    pub keys: Vec<String>,
    pub gw: Gateway,
}

impl Scenario {
    /// A scenario with `n` keys ([`key`]`(0..n)`).
    pub fn keys(n: usize) -> ScenarioBuilder {
        ScenarioBuilder {
            keys: n,
            env: Vec::new(),
        }
    }
}

/// Settings for a [`Scenario`] before it starts.
pub struct ScenarioBuilder {
    keys: usize,
    env: Vec<(String, String)>,
}

impl ScenarioBuilder {
    /// One more setting for the gateway (wins over the defaults).
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_string(), value.to_string()));
        self
    }

    /// Several settings at once.
    pub fn envs(self, pairs: &[(&str, &str)]) -> Self {
        pairs.iter().fold(self, |b, (k, v)| b.env(k, v))
    }

    pub async fn start(self) -> Scenario {
        let mock = MockGemini::start().await.unwrap();
        let keys = keys(self.keys);
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let gw = Gateway::start(&mock, &keys, &env).await;
        Scenario { mock, keys, gw }
    }
}

/// Polls `probe` until it gives a value (every 20 ms, for at most 10 s); panics naming `what`
/// otherwise. For what another process does in its own time.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("gave up waiting: {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The real time in Unix ms: black-box tests hold the gateway's deadlines against it.
#[expect(
    clippy::disallowed_methods,
    reason = "the gateway under test runs on the real clock"
)]
pub fn wall_clock_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The address in the listening line, text (`… listening on http://ADDR`) or JSON (its
/// `address` field).
pub fn listening_address(line: &str) -> Option<SocketAddr> {
    if line.starts_with('{') {
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        return v["address"].as_str()?.strip_prefix("http://")?.parse().ok();
    }
    let rest = line.split("listening on http://").nth(1)?;
    rest.split_whitespace().next()?.parse().ok()
}

/// A running gateway process; killed on drop.
pub struct Gateway {
    child: Child,
    pub addr: SocketAddr,
    logs: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl Gateway {
    /// Starts the gateway with `GEMINI_API_KEY` = `keys`, `GEMINI_BASE_URL` = the mock, and
    /// any extra variables (which win).
    pub async fn start(mock: &MockGemini, keys: &[String], extra: &[(&str, &str)]) -> Gateway {
        let mut env: Vec<(String, String)> = vec![
            ("GEMINI_API_KEY".into(), keys.join(",")),
            ("GEMINI_BASE_URL".into(), mock.base_url()),
            ("HOST".into(), "127.0.0.1".into()),
            ("PORT".into(), "0".into()),
            ("LOG_LEVEL".into(), "debug".into()),
        ];
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Gateway::spawn(&env).await.expect("gateway did not start")
    }

    /// Starts the gateway in a folder holding `files` (name, content: a `.env`, a config file),
    /// with `GEMINI_BASE_URL` = the mock and `extra`, but no `GEMINI_API_KEY` in its
    /// environment: the keys come from the files (which a reload reads again).
    pub async fn start_with_files(
        mock: &MockGemini,
        files: &[(&str, &str)],
        extra: &[(&str, &str)],
    ) -> Gateway {
        let dir = tempfile::tempdir().unwrap();
        for (name, content) in files {
            std::fs::write(dir.path().join(name), content).unwrap();
        }
        let mut env: Vec<(String, String)> = vec![
            ("GEMINI_BASE_URL".into(), mock.base_url()),
            ("HOST".into(), "127.0.0.1".into()),
            ("PORT".into(), "0".into()),
            ("LOG_LEVEL".into(), "debug".into()),
        ];
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Gateway::spawn_in(dir, &env)
            .await
            .expect("gateway did not start")
    }

    /// Spawns the binary with exactly `env` (plus PATH) in an empty folder; `Err(output)` if it
    /// exits before listening.
    pub async fn spawn(env: &[(String, String)]) -> Result<Gateway, (Option<i32>, String)> {
        Gateway::spawn_in(tempfile::tempdir().unwrap(), env).await
    }

    /// Spawns the binary with exactly `env` (plus PATH) in `dir`.
    async fn spawn_in(
        dir: tempfile::TempDir,
        env: &[(String, String)],
    ) -> Result<Gateway, (Option<i32>, String)> {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gemini-gateway"));
        cmd.current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel::<SocketAddr>();
        for stream in [
            Box::new(child.stderr.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stdout.take().unwrap()),
        ] {
            let logs = logs.clone();
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if let Some(addr) = listening_address(&line) {
                        let _ = tx.send(addr);
                    }
                    logs.lock().unwrap().push(line);
                }
            });
        }
        drop(tx);
        let addr = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(20)))
            .await
            .unwrap();
        match addr {
            Ok(addr) => Ok(Gateway {
                child,
                addr,
                logs,
                _dir: dir,
            }),
            Err(_) => {
                let status = child.wait().ok().and_then(|s| s.code());
                std::thread::sleep(Duration::from_millis(50));
                let text = logs.lock().unwrap().join("\n");
                Err((status, text))
            }
        }
    }

    /// The folder the gateway runs in (its `.env`, config file and state).
    pub fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Every line logged so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits for the exit code.
    pub fn terminate(mut self) -> Option<i32> {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        self.child.wait().ok().and_then(|s| s.code())
    }

    /// SIGKILL: no shutdown work at all.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub async fn status(&self) -> serde_json::Value {
        reqwest::get(self.url("/v1/keys/status"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// A minimal valid generateContent body.
pub fn hello_body() -> serde_json::Value {
    serde_json::json!({"contents": [{"role": "user", "parts": [{"text": "Hello there"}]}]})
}

/// Google's per-minute 429 with `RetryInfo.retryDelay = retry_delay` (`"41s"`).
pub fn per_minute(retry_delay: &str) -> Behaviour {
    Behaviour::RateLimitPerMinute {
        retry_delay: retry_delay.into(),
    }
}

pub fn rule(key: &str, model: Option<&str>, times: Option<u32>, behaviour: Behaviour) -> Rule {
    Rule {
        key: key.to_string(),
        model: model.map(str::to_string),
        times,
        behaviour,
    }
}

/// The upstream model calls the mock saw (status endpoint and others excluded).
pub fn model_calls(mock: &MockGemini) -> Vec<RecordedRequest> {
    mock.requests()
        .into_iter()
        .filter(|r| r.action.as_deref() != Some("list"))
        .collect()
}

/// Whether process `pid` is still running (exists and is not a zombie), from `/proc`.
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // `pid (comm) S …`: the state follows the last ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// A minimal generateContent call for `model` through the gateway's native surface.
/// A mock serving TLS with a self-signed certificate for `host`, and that certificate in a PEM
/// file (for `UPSTREAM_CA_FILE`).
pub async fn tls_mock(host: &str) -> (MockGemini, tempfile::NamedTempFile) {
    let (mock, pem) = MockGemini::start_tls(Default::default(), &[host])
        .await
        .unwrap();
    let ca = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca.path(), pem).unwrap();
    (mock, ca)
}

pub async fn generate(gw: &Gateway, model: &str) -> reqwest::Response {
    client()
        .post(gw.url(&format!("/v1beta/models/{model}:generateContent")))
        .json(&hello_body())
        .send()
        .await
        .unwrap()
}

/// The pool keys the mock saw on model calls, in order.
pub fn keys_used(mock: &MockGemini) -> Vec<String> {
    model_calls(mock)
        .into_iter()
        .map(|r| r.api_key.unwrap_or_default())
        .collect()
}

/// One key's entry in `/v1/keys/status`'s `keys` array, found by its masked form.
pub fn key_view<'a>(status: &'a serde_json::Value, k: &str) -> &'a serde_json::Value {
    status["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["key"] == masked(k))
        .unwrap()
}

/// The body of `GET path` as text.
pub async fn text(gw: &Gateway, path: &str) -> String {
    client()
        .get(gw.url(path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The value of the exposition line that starts with `series` (0 when absent).
pub fn metric(exposition: &str, series: &str) -> f64 {
    exposition
        .lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}
