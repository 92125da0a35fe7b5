//! Every setting by its environment name, with its default and meaning (the README's
//! configuration table and `.env.example` are held to this list by a test), and the small
//! readers that validate one value and name the variable when it is wrong.

use std::collections::HashMap;

use super::ConfigError;

/// One setting: its name, default, and what it means. A test holds the README's configuration
/// table and `.env.example` to this list.
pub const SETTINGS: &[(&str, &str, &str)] = &[
    (
        "GEMINI_API_KEY",
        "",
        "Gemini API keys, comma-separated, each optionally project:key (required)",
    ),
    (
        "KEY_COOLDOWN_MINUTES",
        "1440",
        "cooldown for a rate-limited key when Gemini gives no delay",
    ),
    ("HOST", "127.0.0.1", "address to listen on"),
    ("PORT", "8082", "port to listen on (0 picks a free one)"),
    (
        "LOG_LEVEL",
        "info",
        "error, warn, info, debug or trace (or a tracing filter)",
    ),
    (
        "LOG_FORMAT",
        "text",
        "text, or json for one JSON object per log line",
    ),
    (
        "REQUEST_TIMEOUT",
        "600",
        "seconds one upstream attempt may take (and a stream may stay silent)",
    ),
    (
        "QUEUE_MAX_WAIT",
        "5",
        "seconds a request no key can serve now may wait for one that returns (0: the 503 at once)",
    ),
    (
        "QUEUE_MAX_LENGTH",
        "100",
        "requests that may wait for one model at once; more get the 503 at once",
    ),
    (
        "RESPONSES_STORE_HOURS",
        "168",
        "hours a stored Responses API response (store: true) lasts; 0 stores none",
    ),
    (
        "RESPONSES_STORE_MAX_BYTES",
        "16777216",
        "largest stored response (its whole conversation), in bytes; a larger one is not stored",
    ),
    (
        "RESPONSES_MAX_SOCKETS",
        "256",
        "Responses API WebSockets (Codex) open at once; more are refused with a 503",
    ),
    (
        "ANTHROPIC_CONTEXT_CACHE",
        "implicit",
        "explicit makes Anthropic cache_control breakpoints real Gemini context caches; implicit only routes by them",
    ),
    (
        "FILES_MAX_UPLOAD_BYTES",
        "2147483648",
        "largest file uploaded through the gateway (Google's limit is 2 GB); uploads stream through",
    ),
    (
        "MODEL_SERVICE_TIERS",
        "",
        "service tier per model, model=tier pairs (flex, standard, priority; * wildcards), comma-separated",
    ),
    (
        "ALERT_WEBHOOK_URL",
        "",
        "webhook that alerts go to (Slack, Discord or any JSON receiver); unset: no alerts",
    ),
    (
        "ALERT_WEBHOOK_FORMAT",
        "auto",
        "slack, discord, json, or auto (Slack's or Discord's by the address, else json)",
    ),
    (
        "ALERT_ERROR_RATE",
        "0.5",
        "share of upstream attempts failing over a minute (of at least 20) that raises an alert; 0: none",
    ),
    (
        "GEMINI_BASE_URL",
        "https://generativelanguage.googleapis.com",
        "the Gemini API origin",
    ),
    (
        "BIG_MODEL",
        "",
        "Gemini model for Claude sonnet/opus names; unset: the live catalog's newest pro-tier model",
    ),
    (
        "SMALL_MODEL",
        "",
        "Gemini model for Claude haiku names; unset: the live catalog's newest flash-tier model",
    ),
    (
        "MODEL_ALIASES",
        "",
        "requested=served model names, comma-separated, * patterns allowed",
    ),
    (
        "RETIRED_MODEL_ALIASES",
        "true",
        "false turns off the built-in aliases from retired models to their replacements",
    ),
    (
        "MODEL_FALLBACKS",
        "",
        "chains a > b > c, separated by ';': when no key can serve a, b serves",
    ),
    (
        "CATALOG_REFRESH_MINUTES",
        "10",
        "how often the live model catalog is read again (0: only at startup)",
    ),
    (
        "MAX_TOKENS_LIMIT",
        "",
        "optional upper bound on max_tokens sent upstream",
    ),
    (
        "STATE_PATH",
        "./gemini-gateway-state",
        "folder of the embedded pool-state database",
    ),
    (
        "REDIS_URL",
        "",
        "redis://… or rediss://…: share the pool state with other gateways",
    ),
    (
        "REDIS_PREFIX",
        "gemini-gateway",
        "namespace of the gateway's Redis keys",
    ),
    (
        "MAX_BODY_BYTES",
        "33554432",
        "largest request body accepted (32 MiB); larger ones get 413",
    ),
    (
        "GATEWAY_API_KEYS",
        "",
        "client keys, comma-separated; when set every model and status endpoint requires one",
    ),
    (
        "ALLOW_UNAUTHENTICATED",
        "false",
        "true allows listening beyond loopback without GATEWAY_API_KEYS",
    ),
    (
        "ADMIN_API_KEY",
        "",
        "operator key for the /admin API (off when empty)",
    ),
    (
        "OPENAI_MODEL_MAP",
        "false",
        "true sends OpenAI model names (gpt-*, o*) to BIG_MODEL, or SMALL_MODEL for mini/nano names",
    ),
    (
        "MEDIA_FETCH",
        "public",
        "image/file URLs the gateway fetches for OpenAI clients: public hosts, all, or off",
    ),
    (
        "QUOTA_LIMITS",
        "",
        "declared limits, e.g. gemini-3.8-flash:rpm=10,rpd=250;proj-b/gemini-3.1-pro-preview:rpm=150",
    ),
    (
        "CONFIG_FILE",
        "",
        "a TOML file: settings by name, keys = [...], [[clients]] with limits",
    ),
    (
        "UPSTREAM_PROXY",
        "",
        "proxy for every connection to Gemini (http, https, socks5, socks5h)",
    ),
    (
        "UPSTREAM_CA_FILE",
        "",
        "PEM certificates trusted for Gemini's TLS besides the usual roots",
    ),
    (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "",
        "OTLP/HTTP collector (http://host:4318): each request is sent as a trace (off when unset)",
    ),
    (
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "",
        "the full URL traces are posted to, instead of the endpoint + /v1/traces",
    ),
    (
        "OTEL_EXPORTER_OTLP_HEADERS",
        "",
        "headers sent to the collector, key=value comma-separated (values percent-encoded)",
    ),
    (
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "http/protobuf",
        "only http/protobuf is spoken (grpc stops startup)",
    ),
    (
        "OTEL_SERVICE_NAME",
        "gemini-gateway",
        "the traces' service.name",
    ),
    (
        "OTEL_TRACES_SAMPLER",
        "parentbased_always_on",
        "always_on, always_off, traceidratio, or parentbased_ before one of them",
    ),
    (
        "OTEL_TRACES_SAMPLER_ARG",
        "",
        "the ratio (0 to 1) traceidratio samplers keep (default 1)",
    ),
    (
        "OTEL_SDK_DISABLED",
        "false",
        "true turns traces off even with an endpoint set",
    ),
];

/// A setting's value: trimmed, and `None` when unset or empty.
pub fn setting<'a>(vars: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
}

pub(super) fn parse<'a, T: std::str::FromStr>(
    get: impl Fn(&str) -> Option<&'a str>,
    name: &'static str,
    default: &str,
) -> Result<T, ConfigError> {
    let raw = get(name).unwrap_or(default);
    raw.parse().map_err(|_| ConfigError::Invalid {
        name,
        value: raw.to_string(),
        problem: problem_for(name),
    })
}

fn problem_for(name: &str) -> &'static str {
    match name {
        "HOST" => "must be an IP address such as 127.0.0.1 or 0.0.0.0",
        "PORT" => "must be a port number from 0 to 65535",
        "KEY_COOLDOWN_MINUTES" => "must be a number of minutes ≥ 0",
        "REQUEST_TIMEOUT" | "CLIENT_TIMEOUT" => "must be a number of seconds > 0",
        "QUEUE_MAX_WAIT" => "must be a number of seconds ≥ 0 (0 turns waiting off)",
        "QUEUE_MAX_LENGTH" => "must be a whole number ≥ 1",
        "RESPONSES_STORE_HOURS"
        | "RESPONSES_STORE_MAX_BYTES"
        | "RESPONSES_MAX_SOCKETS"
        | "FILES_MAX_UPLOAD_BYTES" => "must be a whole number ≥ 0",
        _ => "has the wrong form",
    }
}

/// A true/false setting (also 1/0, yes/no), false when unset.
pub(super) fn boolean<'a>(
    get: impl Fn(&str) -> Option<&'a str>,
    name: &'static str,
) -> Result<bool, ConfigError> {
    match get(name).map(str::to_ascii_lowercase).as_deref() {
        None | Some("false" | "0" | "no") => Ok(false),
        Some("true" | "1" | "yes") => Ok(true),
        Some(_) => Err(invalid(name, get, "must be true or false")),
    }
}

pub(super) fn invalid<'a>(
    name: &'static str,
    get: impl Fn(&str) -> Option<&'a str>,
    problem: &'static str,
) -> ConfigError {
    ConfigError::Invalid {
        name,
        value: get(name).unwrap_or("").to_string(),
        problem,
    }
}
