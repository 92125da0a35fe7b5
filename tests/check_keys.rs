//! `gemini-gateway check-keys` against the strict mock: one key of each kind (valid, invalid,
//! suspended, per-minute 429, per-day 429, no answer), as a table and as JSON, read from
//! GEMINI_API_KEY, a file and standard input; the exit status; no key ever printed whole.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;
use support::{key, per_minute, Behaviour, MockGemini};

/// A rule on `key` for every model, for good.
fn rule(key: &str, behaviour: Behaviour) -> support::Rule {
    support::rule(key, None, None, behaviour)
}

/// Runs `check-keys` in an empty folder (no .env, no config file) with `env`; returns
/// (exit status, stdout, stderr).
fn run(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gemini-gateway"));
    cmd.arg("check-keys")
        .args(args)
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// One key of each kind on `mock`, in this order.
fn seven_keys(mock: &MockGemini) -> Vec<String> {
    let keys: Vec<String> = (0..7).map(key).collect();
    mock.script(rule(&keys[1], Behaviour::KeyInvalid));
    mock.script(rule(&keys[2], Behaviour::Suspended));
    mock.script(rule(&keys[3], per_minute("41s")));
    mock.script(rule(&keys[4], Behaviour::RateLimitPerDay));
    mock.script(rule(&keys[5], Behaviour::Hang));
    mock.script(rule(&keys[6], Behaviour::SpendCapMonthly));
    keys
}

const VERDICTS: [&str; 7] = [
    "valid",
    "invalid",
    "suspended",
    "rate_limited_per_minute",
    "rate_limited_per_day",
    "unreachable",
    "spend_cap",
];

fn assert_no_whole_key(text: &str, keys: &[String]) {
    for k in keys {
        assert!(!text.contains(k.as_str()), "a whole key printed:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_kind_of_key_gets_its_verdict_in_json_and_the_exit_status_says_some_are_not_usable() {
    let mock = MockGemini::start().await.unwrap();
    let keys = seven_keys(&mock);
    let base = mock.base_url();
    let joined = keys.join(",");
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        run(
            &["--json", "--timeout", "1"],
            &[
                ("GEMINI_API_KEY", joined.as_str()),
                ("GEMINI_BASE_URL", base.as_str()),
            ],
            None,
        )
    })
    .await
    .unwrap();
    assert_eq!(code, 1, "{out}\n{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let reports = v["keys"].as_array().unwrap();
    let verdicts: Vec<&str> = reports
        .iter()
        .map(|r| r["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts, VERDICTS);
    assert_eq!(reports[0]["usable"], true);
    assert!(reports[1..].iter().all(|r| r["usable"] == false));
    assert_eq!(v["summary"]["usable"], 1);
    let models: Vec<&str> = reports[0]["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert!(models.contains(&"gemini-3.8-flash"), "{models:?}");
    assert!(
        !models.iter().any(|m| m.contains("embedding")),
        "{models:?}"
    );
    assert_eq!(reports[3]["status"], 429);
    assert!(reports[5]["status"].is_null());
    // With no --model and no SMALL_MODEL, each key is asked on the newest flash it lists.
    assert!(mock
        .requests()
        .iter()
        .filter(|r| r.action.as_deref() == Some("generateContent"))
        .all(|r| r.model.as_deref() == Some("gemini-flash-latest")));
    assert_eq!(reports[0]["key"], support::masked(&keys[0]));
    assert_no_whole_key(&out, &keys);
    assert_no_whole_key(&err, &keys);
    assert!(err.is_empty(), "--json prints no progress: {err}");
    // The check wrote no state: nothing was created in the folder it ran in (checked by `run`
    // using an empty folder) and the mock saw only list and generate calls.
    assert!(
        mock.requests().iter().all(|r| r.path.contains("models")),
        "only model calls"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_file_or_stdin_gives_a_table_and_usable_keys_exit_0() {
    let mock = MockGemini::start().await.unwrap();
    let keys = seven_keys(&mock);
    let base = mock.base_url();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        file.path(),
        format!("# our keys\n{}\n\n{}  # suspended\n", keys[0], keys[2]),
    )
    .unwrap();
    let path = file.path().to_str().unwrap().to_string();
    let (b, k) = (base.clone(), keys.clone());
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        run(&[path.as_str()], &[("GEMINI_BASE_URL", b.as_str())], None)
    })
    .await
    .unwrap();
    assert_eq!(code, 1, "{out}\n{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("KEY") && lines[0].contains("VERDICT"),
        "{out}"
    );
    assert!(
        lines[1].starts_with(&support::masked(&k[0])) && lines[1].contains("valid"),
        "{out}"
    );
    assert!(out.contains("suspended/denied [403]"), "{out}");
    assert!(out.contains("1 of 2 keys usable"), "{out}");
    assert_no_whole_key(&out, &k);
    assert_no_whole_key(&err, &k);

    let only_valid = format!("{}\n", keys[0]);
    let (code, out, _) = tokio::task::spawn_blocking(move || {
        run(
            &["-", "--json"],
            &[("GEMINI_BASE_URL", base.as_str())],
            Some(&only_valid),
        )
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["keys"][0]["verdict"],
        "valid"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_keys_a_bad_flag_or_an_unreachable_upstream_exit_2() {
    let (code, _, err) = tokio::task::spawn_blocking(|| run(&[], &[], None))
        .await
        .unwrap();
    assert_eq!(code, 2);
    assert!(err.contains("no keys"), "{err}");
    let (code, _, _) = tokio::task::spawn_blocking(|| run(&["--no-such-flag"], &[], None))
        .await
        .unwrap();
    assert_eq!(code, 2);
    // Nothing listens on the port a listener just released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let k = key(0);
    let (code, out, _) = tokio::task::spawn_blocking(move || {
        let base = format!("http://127.0.0.1:{port}");
        run(
            &["--json"],
            &[
                ("GEMINI_API_KEY", k.as_str()),
                ("GEMINI_BASE_URL", base.as_str()),
            ],
            None,
        )
    })
    .await
    .unwrap();
    assert_eq!(code, 2, "{out}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["keys"][0]["verdict"],
        "unreachable"
    );
}
