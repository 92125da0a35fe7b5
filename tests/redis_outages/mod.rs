//! The Redis store when Redis is away, hung, flushed, behind TLS or a password: it fails fast,
//! recovers without being rebuilt, and never shows the password.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::redis_server::{free_port, RedisServer as Server};
use crate::{cooldown, disable, now_ms, pick, raw, store, FLASH, K1, K2, PREFIX};
use gemini_gateway::store::redis::{RedisStore, RedisTimeouts};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_fails_fast_and_the_same_store_recovers() {
    let mut server = Server::start();
    let s = store(&server).await;
    s.apply(&cooldown(K1, FLASH, now_ms() + 60_000), None)
        .await
        .unwrap();
    assert!(pick(&s, FLASH, None).await.is_some());

    server.kill();
    let mut slowest = Duration::ZERO;
    for round in 0..3 {
        let calls: Vec<(&str, Result<(), String>, Duration)> = vec![
            timed("pick", s.pick(FLASH, &[K1, K2], None, now_ms())).await,
            timed("apply", s.apply(&cooldown(K2, FLASH, 1), Some("x"))).await,
            timed("record_failure", s.record_failure(K2, "x")).await,
            timed("load", s.load(&[K1])).await,
            timed("merge", s.merge(&[disable(K1, "r", 1)])).await,
            timed("ping", s.ping()).await,
        ];
        for (what, result, took) in calls {
            assert!(result.is_err(), "{what} succeeded with Redis down");
            assert!(took < Duration::from_millis(1_500), "{what} took {took:?}");
            slowest = slowest.max(took);
            eprintln!("round {round}: {what} failed in {took:?}: {result:?}");
        }
    }
    eprintln!("slowest failing call with Redis down: {slowest:?}");

    // A fresh server on the same port: empty script cache (NOSCRIPT) and empty data.
    server.restart();
    let started = Instant::now();
    let mut attempts = 0;
    let picked = loop {
        attempts += 1;
        match s.pick(FLASH, &[K1, K2], None, now_ms()).await {
            Ok(picked) => break picked,
            Err(e) if started.elapsed() < Duration::from_secs(5) => {
                eprintln!("after restart: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("no recovery within 5 s: {e}"),
        }
    };
    eprintln!(
        "recovered after {attempts} call(s), {:?}",
        started.elapsed()
    );
    assert_eq!(attempts, 1, "the first call after the restart should work");
    assert!(picked.is_some());
    s.ping().await.unwrap();
    s.apply(&disable(K1, "again", 2), Some("y")).await.unwrap();
    assert_eq!(
        s.load(&[K1]).await.unwrap()[K1].disabled,
        Some(("again".to_owned(), 2))
    );
}

async fn timed<T>(
    what: &'static str,
    call: impl std::future::Future<Output = Result<T, gemini_gateway::store::StoreError>>,
) -> (&'static str, Result<(), String>, Duration) {
    let started = Instant::now();
    let result = call.await.map(drop).map_err(|e| e.to_string());
    (what, result, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_survive_a_script_cache_flush() {
    let server = Server::start();
    let s = store(&server).await;
    assert!(pick(&s, FLASH, None).await.is_some());
    let mut raw = raw(&server).await;
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(pick(&s, FLASH, None).await.is_some());
    s.record_failure(K1, "x").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_to_nothing_or_to_a_silent_server_fails_fast() {
    // Nothing listening.
    let port = free_port();
    let started = Instant::now();
    let err = RedisStore::connect(
        &format!("redis://127.0.0.1:{port}/"),
        PREFIX,
        RedisTimeouts::default(),
    )
    .await
    .unwrap_err();
    assert!(started.elapsed() < Duration::from_millis(1_500), "{err}");

    // Accepts TCP, never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://127.0.0.1:{}/", silent.local_addr().unwrap().port());
    let started = Instant::now();
    let err = RedisStore::connect(&url, PREFIX, RedisTimeouts::default())
        .await
        .unwrap_err();
    let took = started.elapsed();
    eprintln!("connect to a silent server failed in {took:?}: {err}");
    assert!(took < Duration::from_millis(1_500), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn display_url_and_debug_hide_the_password() {
    let server = Server::start_with(&["--requirepass", "s3cret-pw"]);
    for url in [
        format!("redis://:s3cret-pw@127.0.0.1:{}/0", server.port),
        format!("redis://default:s3cret-pw@127.0.0.1:{}/", server.port),
    ] {
        let s = RedisStore::connect(&url, PREFIX, RedisTimeouts::default())
            .await
            .unwrap();
        s.ping().await.unwrap();
        assert!(!s.display_url().contains("s3cret"), "{}", s.display_url());
        assert!(
            s.display_url().contains(":***@127.0.0.1"),
            "{}",
            s.display_url()
        );
        assert!(!format!("{s:?}").contains("s3cret"));
    }
    let wrong = format!("redis://:wrong-pw@127.0.0.1:{}/", server.port);
    let err = RedisStore::connect(&wrong, PREFIX, RedisTimeouts::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(!err.contains("wrong-pw"), "{err}");
    let plain = store(&Server::start()).await;
    assert!(plain.display_url().starts_with("redis://127.0.0.1:"));

    // A unix socket URL carries the password in the query.
    let sock = tempfile::tempdir().unwrap();
    let path = sock.path().join("redis.sock");
    let path = path.to_str().unwrap();
    let _unix = Server::start_with(&["--unixsocket", path, "--requirepass", "s3cret-pw"]);
    let s = RedisStore::connect(
        &format!("redis+unix://{path}?db=0&pass=s3cret-pw"),
        PREFIX,
        RedisTimeouts::default(),
    )
    .await
    .unwrap();
    s.ping().await.unwrap();
    assert!(!s.display_url().contains("s3cret"), "{}", s.display_url());
    assert!(s.display_url().contains("pass=***"), "{}", s.display_url());
}

/// `rediss://` works with the rustls (ring) build: a TLS redis-server with a throwaway
/// self-signed certificate, verification off (`#insecure`) since the test CA is not in webpki
/// roots. Needs the `openssl` command to make the certificate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_urls_connect_over_tls() {
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("SKIPPED: the openssl command is needed to make a test certificate");
        return;
    }
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let server = Server::start_with(&[
        "--port",
        "0",
        "--tls-port",
        "{port}",
        "--tls-cert-file",
        cert,
        "--tls-key-file",
        key,
        "--tls-auth-clients",
        "no",
    ]);
    let url = format!("rediss://127.0.0.1:{}/#insecure", server.port);
    let s = RedisStore::connect(&url, PREFIX, RedisTimeouts::default())
        .await
        .unwrap();
    s.ping().await.unwrap();
    assert_eq!(pick(&s, FLASH, None).await.as_deref(), Some(K1));
    assert!(s.display_url().starts_with("rediss://"));
    // Without `#insecure` the certificate is verified (against webpki roots) and refused.
    let verified = format!("rediss://127.0.0.1:{}/", server.port);
    let err = RedisStore::connect(&verified, PREFIX, RedisTimeouts::default()).await;
    assert!(err.is_err(), "a self-signed certificate was accepted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_redis_times_out_and_answers_again_once_resumed() {
    let server = Server::start();
    let s = store(&server).await;
    assert!(pick(&s, FLASH, None).await.is_some());
    let signal = |sig: &str| {
        let status = Command::new("kill")
            .args([sig, &server.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    };
    signal("-STOP"); // connected, but no answer ever comes
    for _ in 0..3 {
        let started = Instant::now();
        let err = s.pick(FLASH, &[K1, K2], None, now_ms()).await.unwrap_err();
        let took = started.elapsed();
        eprintln!("pick against a stopped redis failed in {took:?}: {err}");
        assert!(took < Duration::from_millis(1_500), "{took:?}");
    }
    signal("-CONT");
    let started = Instant::now();
    loop {
        match s.load(&[K1]).await {
            Ok(state) => {
                assert!(state[K1].requests >= 1);
                break;
            }
            Err(e) if started.elapsed() < Duration::from_secs(5) => {
                eprintln!("after SIGCONT: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("no answer within 5 s of SIGCONT: {e}"),
        }
    }
    assert!(pick(&s, FLASH, None).await.is_some());
}
