use std::collections::HashMap;
use std::time::Duration;

use super::*;
use crate::secret::Secret;

/// Variables from `(name, value)` pairs, for tests.
pub(crate) fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn defaults_match_the_seed() {
    let c = Config::from_vars(&vars(&[("GEMINI_API_KEY", "AIzaSyA")])).unwrap();
    assert_eq!(c.key_cooldown, Duration::from_secs(1440 * 60));
    assert_eq!(c.host.to_string(), "127.0.0.1");
    assert_eq!(c.port, 8082);
    assert_eq!(c.log_level, "info");
    assert_eq!(c.request_timeout, Duration::from_secs(600));
    assert_eq!(c.queue_max_wait, Duration::from_secs(5));
    assert_eq!(c.queue_max_length, 100);
    assert_eq!(
        c.upstream.base_url,
        "https://generativelanguage.googleapis.com"
    );
    assert_eq!(c.naming, crate::models::Naming::default());
    assert_eq!(c.max_tokens_limit, None);
    assert!(!c.openai_model_map);
    assert_eq!(c.media_fetch, MediaFetch::Public);
}

#[test]
fn openai_settings_are_checked() {
    let with =
        |k: &str, v: &str| Config::from_vars(&vars(&[("GEMINI_API_KEY", "AIzaSyA"), (k, v)]));
    assert!(with("OPENAI_MODEL_MAP", "true").unwrap().openai_model_map);
    assert!(with("OPENAI_MODEL_MAP", "maybe").is_err());
    assert_eq!(
        with("MEDIA_FETCH", "ALL").unwrap().media_fetch,
        MediaFetch::All
    );
    assert_eq!(
        with("MEDIA_FETCH", "off").unwrap().media_fetch,
        MediaFetch::Off
    );
    assert!(with("MEDIA_FETCH", "internal").is_err());
}

#[test]
fn keys_tolerate_whitespace_quotes_and_duplicates() {
    let c = Config::from_vars(&vars(&[("GEMINI_API_KEY", " \"k1\" , 'k2',k1,, k3 ")])).unwrap();
    let keys: Vec<&str> = c.keys.iter().map(|k| k.expose()).collect();
    assert_eq!(keys, ["k1", "k2", "k3"]);
}

#[test]
fn no_keys_names_the_variable() {
    let e = Config::from_vars(&vars(&[("GEMINI_API_KEY", " , ")])).unwrap_err();
    assert!(e.to_string().contains("GEMINI_API_KEY"), "{e}");
    let e = Config::from_vars(&vars(&[])).unwrap_err();
    assert!(e.to_string().contains("GEMINI_API_KEY"), "{e}");
}

#[test]
fn each_bad_value_names_its_variable() {
    for (name, bad) in [
        ("PORT", "80000"),
        ("PORT", "abc"),
        ("HOST", "not-an-ip"),
        ("KEY_COOLDOWN_MINUTES", "-1"),
        ("KEY_COOLDOWN_MINUTES", "soon"),
        ("REQUEST_TIMEOUT", "0"),
        ("GEMINI_BASE_URL", "ftp://x"),
        ("LOG_LEVEL", "loud=="),
        ("MAX_TOKENS_LIMIT", "0"),
        ("QUEUE_MAX_WAIT", "-1"),
        ("QUEUE_MAX_WAIT", "soon"),
        ("QUEUE_MAX_LENGTH", "0"),
        ("QUEUE_MAX_LENGTH", "1.5"),
    ] {
        let e = Config::from_vars(&vars(&[("GEMINI_API_KEY", "k"), (name, bad)])).unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with(name), "{name}: {msg}");
        assert!(!msg.contains('\n'), "one line: {msg}");
    }
}

#[test]
fn listening_beyond_loopback_needs_client_keys_or_an_explicit_opt_out() {
    let e = Config::from_vars(&vars(&[("GEMINI_API_KEY", "k"), ("HOST", "0.0.0.0")])).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("GATEWAY_API_KEYS") && msg.contains("ALLOW_UNAUTHENTICATED"),
        "{msg}"
    );
    assert!(!msg.contains('\n'));
    let ok = |extra: (&str, &str)| {
        Config::from_vars(&vars(&[
            ("GEMINI_API_KEY", "k"),
            ("HOST", "0.0.0.0"),
            extra,
        ]))
        .unwrap()
    };
    assert_eq!(
        ok(("GATEWAY_API_KEYS", " a , b ")).gateway_api_keys,
        [Secret::new("a"), Secret::new("b")]
    );
    assert!(ok(("ALLOW_UNAUTHENTICATED", "true"))
        .gateway_api_keys
        .is_empty());
    assert!(Config::from_vars(&vars(&[("GEMINI_API_KEY", "k"), ("HOST", "::1")])).is_ok());
    let e = Config::from_vars(&vars(&[
        ("GEMINI_API_KEY", "k"),
        ("ALLOW_UNAUTHENTICATED", "maybe"),
    ]))
    .unwrap_err();
    assert!(e.to_string().starts_with("ALLOW_UNAUTHENTICATED"));
}

#[test]
fn readme_and_env_example_list_every_setting_with_its_default() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let example = std::fs::read_to_string(format!("{root}/.env.example")).unwrap();
    for (name, default, _) in SETTINGS {
        assert!(readme.contains(&format!("`{name}`")), "README lacks {name}");
        assert!(
            example.contains(&format!("{name}={default}\n")),
            ".env.example lacks {name}={default}"
        );
    }
}

#[test]
fn debug_never_shows_a_credential() {
    let secrets = [
        "AIzaSyConfigDebugTestKeyxxxxxxxxxxx0001",
        "client-secret-config-0002",
        "admin-secret-config-0003",
        "hunter2-redis-password",
    ];
    let c = Config::from_vars(&vars(&[
        ("GEMINI_API_KEY", secrets[0]),
        ("GATEWAY_API_KEYS", secrets[1]),
        ("ADMIN_API_KEY", secrets[2]),
        ("REDIS_URL", "redis://:hunter2-redis-password@10.0.0.1:6379"),
    ]))
    .unwrap();
    let shown = format!("{c:?}");
    for s in secrets {
        assert!(!shown.contains(s), "{s} in {shown}");
    }
}

#[test]
fn fractional_timeouts_are_allowed() {
    let c = Config::from_vars(&vars(&[
        ("GEMINI_API_KEY", "k"),
        ("REQUEST_TIMEOUT", "0.5"),
        ("KEY_COOLDOWN_MINUTES", "0.5"),
    ]))
    .unwrap();
    assert_eq!(c.request_timeout, Duration::from_millis(500));
    assert_eq!(c.key_cooldown, Duration::from_secs(30));
}

#[test]
fn waiting_for_a_key_can_be_shortened_lengthened_or_turned_off() {
    let with = |pairs: &[(&str, &str)]| {
        let mut all = vec![("GEMINI_API_KEY", "k")];
        all.extend_from_slice(pairs);
        Config::from_vars(&vars(&all)).unwrap()
    };
    let c = with(&[("QUEUE_MAX_WAIT", "2.5"), ("QUEUE_MAX_LENGTH", "7")]);
    assert_eq!(c.queue_max_wait, Duration::from_millis(2500));
    assert_eq!(c.queue_max_length, 7);
    assert_eq!(
        with(&[("QUEUE_MAX_WAIT", "0")]).queue_max_wait,
        Duration::ZERO
    );
}
