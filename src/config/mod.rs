//! Settings, read at startup (and again on `SIGHUP`, see `server::reload`) from the environment,
//! a `.env` file in the working folder and the config file (the environment wins). Every value is validated here, so a bad setting stops startup with one
//! line naming the variable, instead of surfacing later as a confusing runtime failure.
//!
//! The names are the seed proxy's (`GEMINI_API_KEY`, `KEY_COOLDOWN_MINUTES`, `BIG_MODEL`, …) so its
//! users can switch by changing one command.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

pub mod alerts;
pub mod file;
mod fingerprint;
mod models;
pub mod money;
pub mod otel;
pub mod proxy;
mod quota;
mod settings;
mod upstream;

pub use self::fingerprint::Fingerprint;
use self::settings::{boolean, invalid, parse};
pub use self::settings::{setting, SETTINGS};
pub use self::upstream::Upstream;
use crate::models::Naming;
use crate::pool::QuotaPlan;
use crate::secret::{ApiKey, Secret};

/// Why the settings could not be used. The message always names the variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("GEMINI_API_KEY is not set: give one or more Gemini API keys, comma-separated (GEMINI_API_KEY=key1,key2)")]
    NoKeys,
    #[error("{name}={value:?} is not valid: {problem}")]
    Invalid {
        name: &'static str,
        value: String,
        problem: &'static str,
    },
    #[error("could not read .env: {0}")]
    DotEnv(String),
    #[error("config file {0}")]
    File(String),
    #[error("HOST={host} accepts connections from other machines, but GATEWAY_API_KEYS is not set, so anyone who reaches the port could spend your Gemini keys: set GATEWAY_API_KEYS=<secret>[,<secret>…] (clients send it as x-api-key, Authorization: Bearer, x-goog-api-key or ?key=), or set ALLOW_UNAUTHENTICATED=true to expose it on purpose")]
    Exposed { host: String },
}

/// The gateway's validated settings. Every credential is an [`ApiKey`] or a [`Secret`], so
/// `Debug` never shows one.
#[derive(Debug, Clone)]
pub struct Config {
    pub keys: Vec<ApiKey>,
    /// Projects declared in `GEMINI_API_KEY` and limits from `QUOTA_LIMITS`.
    pub quota: QuotaPlan,
    pub key_cooldown: Duration,
    pub host: IpAddr,
    pub port: u16,
    pub log_level: String,
    /// `LOG_FORMAT`: text lines, or one JSON object per line.
    pub log_format: LogFormat,
    pub request_timeout: Duration,
    /// `QUEUE_MAX_WAIT`: how long a request no key can serve now may wait for one (zero: it
    /// gets the 503 at once).
    pub queue_max_wait: Duration,
    /// `QUEUE_MAX_LENGTH`: how many requests may wait for one model at once.
    pub queue_max_length: usize,
    /// `RESPONSES_STORE_HOURS`: how long a stored response lasts (0: none is stored).
    pub responses_store_hours: u64,
    /// `RESPONSES_STORE_MAX_BYTES`: the largest stored response.
    pub responses_store_max_bytes: usize,
    /// `RESPONSES_MAX_SOCKETS`: Responses WebSockets open at once.
    pub responses_max_sockets: usize,
    /// `FILES_MAX_UPLOAD_BYTES`: the largest file uploaded through the gateway.
    pub files_max_upload_bytes: u64,
    /// `ANTHROPIC_CONTEXT_CACHE=explicit`: `cache_control` breakpoints become Gemini context
    /// caches (`implicit`, the default: they only steer routing).
    pub anthropic_explicit_cache: bool,
    /// Where Gemini is and how to reach it.
    pub upstream: Upstream,
    /// `BIG_MODEL`, `SMALL_MODEL`, `MODEL_ALIASES`, `RETIRED_MODEL_ALIASES`, `MODEL_FALLBACKS`.
    pub naming: Naming,
    /// `CATALOG_REFRESH_MINUTES`: how often the live model catalog is read (`None`: only at
    /// startup).
    pub catalog_refresh: Option<Duration>,
    pub max_tokens_limit: Option<u32>,
    /// Folder of the embedded state database (used when `redis_url` is not set).
    pub state_path: std::path::PathBuf,
    /// Share the pool through Redis instead of the embedded store (the URL may hold a
    /// password).
    pub redis_url: Option<Secret>,
    /// Namespace of every Redis key (several pools can share one Redis).
    pub redis_prefix: String,
    /// Request bodies above this are refused with 413.
    pub max_body_bytes: usize,
    /// Credentials clients must present; empty means no client auth.
    pub gateway_api_keys: Vec<Secret>,
    /// Operator credential for `/admin/...`; `None` turns the admin API off.
    pub admin_api_key: Option<Secret>,
    /// How long a client may take to send its request headers, or leave its body or an idle
    /// connection silent.
    pub client_timeout: Duration,
    /// `OPENAI_MODEL_MAP`: OpenAI model names (`gpt-*`, `o*`) go to `BIG_MODEL`/`SMALL_MODEL`.
    pub openai_model_map: bool,
    /// `MEDIA_FETCH`: which image and file URLs the gateway fetches for OpenAI clients.
    pub media_fetch: MediaFetch,
    /// `[[clients]]` of the config file: client keys with names and limits.
    pub clients: Vec<file::ClientSpec>,
    /// The config file read, if any (`CONFIG_FILE`, or `./gemini-gateway.toml`).
    pub config_file: Option<std::path::PathBuf>,
    /// Every setting's value as a digest, so a reload can say which ones changed.
    pub fingerprint: Fingerprint,
    /// `ALLOW_UNAUTHENTICATED`: serve a non-loopback `HOST` without client keys, on purpose.
    pub allow_unauthenticated: bool,
    /// The price table, the tiers per model and the project groups' caps.
    pub money: money::Money,
    /// `ALERT_WEBHOOK_URL` and its companions; `None`: no alerts are sent.
    pub alerts: Option<alerts::AlertSettings>,
    /// `OTEL_EXPORTER_OTLP_*`: where requests go as traces (`None`: no tracing at all).
    pub traces: Option<otel::Traces>,
}

/// How log lines are written (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Which media URLs the gateway fetches (`MEDIA_FETCH`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaFetch {
    /// Public hosts only: no loopback, private, link-local or other internal address.
    Public,
    /// Any host.
    All,
    /// None: media must come inline.
    Off,
}

impl Config {
    /// Reads `.env` (if present) under the real environment, then validates.
    pub fn from_env() -> Result<Config, ConfigError> {
        let (vars, file) = gather()?;
        Config::from_parts(&vars, file)
    }

    /// Validates a set of variables (the environment merged over `.env`).
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Config, ConfigError> {
        Config::from_parts(vars, file::FileConfig::default())
    }

    /// Validates the variables (environment over `.env` over the file's settings) and the rest
    /// of the config file (its keys and clients).
    pub fn from_parts(
        vars: &HashMap<String, String>,
        file: file::FileConfig,
    ) -> Result<Config, ConfigError> {
        let get = |name: &str| setting(vars, name);
        let (keys, groups) = quota::parse_keys(&key_text(get("GEMINI_API_KEY"), &file));
        if keys.is_empty() {
            return Err(ConfigError::NoKeys);
        }
        let mut quota = quota::plan(groups, get("QUOTA_LIMITS"))?;
        quota.key_models = file.key_models.clone();
        let cooldown_minutes: f64 = parse(get, "KEY_COOLDOWN_MINUTES", "1440")?;
        if !(cooldown_minutes.is_finite() && cooldown_minutes >= 0.0) {
            return Err(invalid(
                "KEY_COOLDOWN_MINUTES",
                get,
                "must be a number of minutes ≥ 0",
            ));
        }
        let timeout: f64 = parse(get, "REQUEST_TIMEOUT", "600")?;
        if !(timeout.is_finite() && timeout > 0.0) {
            return Err(invalid(
                "REQUEST_TIMEOUT",
                get,
                "must be a number of seconds > 0",
            ));
        }
        let queue_max_wait: f64 = parse(get, "QUEUE_MAX_WAIT", "5")?;
        if !(queue_max_wait.is_finite() && queue_max_wait >= 0.0) {
            return Err(invalid(
                "QUEUE_MAX_WAIT",
                get,
                "must be a number of seconds ≥ 0 (0 turns waiting off)",
            ));
        }
        let responses_store_hours = parse::<u64>(get, "RESPONSES_STORE_HOURS", "168")?;
        let responses_store_max_bytes =
            parse::<usize>(get, "RESPONSES_STORE_MAX_BYTES", "16777216")?;
        let responses_max_sockets = parse::<usize>(get, "RESPONSES_MAX_SOCKETS", "256")?;
        let files_max_upload_bytes = parse::<u64>(get, "FILES_MAX_UPLOAD_BYTES", "2147483648")?;
        let anthropic_explicit_cache = match get("ANTHROPIC_CONTEXT_CACHE")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("implicit") => false,
            Some("explicit") => true,
            Some(_) => {
                return Err(invalid(
                    "ANTHROPIC_CONTEXT_CACHE",
                    get,
                    "must be implicit or explicit",
                ))
            }
        };
        let queue_max_length = match parse::<usize>(get, "QUEUE_MAX_LENGTH", "100")? {
            0 => {
                return Err(invalid(
                    "QUEUE_MAX_LENGTH",
                    get,
                    "must be a whole number ≥ 1 (QUEUE_MAX_WAIT=0 turns waiting off)",
                ))
            }
            n => n,
        };
        let upstream = Upstream::from_vars(vars)?;
        let log_level = get("LOG_LEVEL").unwrap_or("info").to_ascii_lowercase();
        if tracing_subscriber::EnvFilter::try_new(&log_level).is_err() {
            return Err(invalid(
                "LOG_LEVEL",
                get,
                "must be error, warn, info, debug or trace",
            ));
        }
        let log_format = match get("LOG_FORMAT").map(str::to_ascii_lowercase).as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(_) => return Err(invalid("LOG_FORMAT", get, "must be text or json")),
        };
        let max_tokens_limit = match get("MAX_TOKENS_LIMIT") {
            None => None,
            Some(v) => match v.parse::<u32>() {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    return Err(invalid(
                        "MAX_TOKENS_LIMIT",
                        get,
                        "must be a whole number > 0",
                    ))
                }
            },
        };
        let redis_url = match get("REDIS_URL") {
            None => None,
            Some(u)
                if u.starts_with("redis://")
                    || u.starts_with("rediss://")
                    || u.starts_with("unix://") =>
            {
                Some(Secret::new(u))
            }
            Some(_) => {
                return Err(ConfigError::Invalid {
                    name: "REDIS_URL",
                    value: "(hidden: it may hold a password)".into(),
                    problem: "must start with redis://, rediss:// or unix://",
                })
            }
        };
        let gateway_api_keys: Vec<Secret> = get("GATEWAY_API_KEYS")
            .unwrap_or("")
            .split(',')
            .map(|k| k.trim().trim_matches(|c| c == '"' || c == '\'').trim())
            .filter(|k| !k.is_empty())
            .map(Secret::new)
            .collect();
        let allow_unauthenticated = boolean(get, "ALLOW_UNAUTHENTICATED")?;
        let openai_model_map = boolean(get, "OPENAI_MODEL_MAP")?;
        let media_fetch = match get("MEDIA_FETCH").map(str::to_ascii_lowercase).as_deref() {
            None | Some("public") => MediaFetch::Public,
            Some("all") => MediaFetch::All,
            Some("off") => MediaFetch::Off,
            Some(_) => return Err(invalid("MEDIA_FETCH", get, "must be public, all or off")),
        };
        let host: IpAddr = parse(get, "HOST", "127.0.0.1")?;
        let clients = file.clients;
        if !host.is_loopback()
            && gateway_api_keys.is_empty()
            && clients.is_empty()
            && !allow_unauthenticated
        {
            return Err(ConfigError::Exposed {
                host: host.to_string(),
            });
        }
        let admin_api_key = get("ADMIN_API_KEY").map(Secret::new);
        if admin_api_key
            .as_ref()
            .is_some_and(|a| gateway_api_keys.contains(a) || clients.iter().any(|c| &c.key == a))
        {
            return Err(ConfigError::Invalid {
                name: "ADMIN_API_KEY",
                value: "(hidden)".into(),
                problem: "must differ from every GATEWAY_API_KEYS entry and client key",
            });
        }
        let money = money::read(get, &file.prices, &file.projects)?;
        let alerts = alerts::read(get)?;
        let client_timeout: f64 = parse(get, "CLIENT_TIMEOUT", "30")?;
        if !(client_timeout.is_finite() && client_timeout > 0.0) {
            return Err(invalid(
                "CLIENT_TIMEOUT",
                get,
                "must be a number of seconds > 0",
            ));
        }
        Ok(Config {
            openai_model_map,
            media_fetch,
            client_timeout: Duration::from_secs_f64(client_timeout),
            keys,
            quota,
            host,
            gateway_api_keys,
            admin_api_key,
            state_path: get("STATE_PATH").unwrap_or("./gemini-gateway-state").into(),
            redis_url,
            redis_prefix: get("REDIS_PREFIX").unwrap_or("gemini-gateway").to_string(),
            max_body_bytes: match get("MAX_BODY_BYTES").map(str::parse::<usize>) {
                None => 32 * 1024 * 1024,
                Some(Ok(n)) if n >= 1024 => n,
                Some(_) => {
                    return Err(invalid(
                        "MAX_BODY_BYTES",
                        get,
                        "must be a number of bytes ≥ 1024",
                    ))
                }
            },
            key_cooldown: Duration::from_secs_f64(cooldown_minutes * 60.0),
            port: parse(get, "PORT", "8082")?,
            log_level,
            log_format,
            request_timeout: Duration::from_secs_f64(timeout),
            queue_max_wait: Duration::from_secs_f64(queue_max_wait),
            queue_max_length,
            responses_store_hours,
            responses_store_max_bytes,
            responses_max_sockets,
            files_max_upload_bytes,
            anthropic_explicit_cache,
            upstream,
            naming: models::naming(get)?,
            catalog_refresh: models::catalog_refresh(get)?,
            max_tokens_limit,
            clients,
            config_file: file.path,
            fingerprint: Fingerprint::of(vars),
            allow_unauthenticated,
            money,
            alerts,
            traces: otel::traces(get)?,
        })
    }
}

/// The Gemini keys of a `GEMINI_API_KEY`-style list (`project:` prefixes dropped).
pub fn key_list(raw: &str) -> Vec<ApiKey> {
    quota::parse_keys(raw).0
}

/// Every Gemini key configured, as one `GEMINI_API_KEY`-style list: the variable's, then the
/// config file's `keys`.
pub fn key_text(gemini_api_key: Option<&str>, file: &file::FileConfig) -> String {
    std::iter::once(gemini_api_key.unwrap_or(""))
        .chain(file.keys.iter().map(String::as_str))
        .filter(|k| !k.trim().is_empty())
        .collect::<Vec<_>>()
        .join(",")
}

/// The variables the settings come from — the environment over `.env` over the config file's
/// settings — and the rest of the config file. `CONFIG_FILE` is read from the first two.
pub fn gather() -> Result<(HashMap<String, String>, file::FileConfig), ConfigError> {
    let mut vars: HashMap<String, String> = HashMap::new();
    match dotenvy::from_path_iter(".env") {
        Ok(iter) => {
            for item in iter {
                let (k, v) = item.map_err(|e| ConfigError::DotEnv(dotenv_problem(&e)))?;
                vars.insert(k, v);
            }
        }
        Err(e) if e.not_found() => {}
        Err(e) => return Err(ConfigError::DotEnv(dotenv_problem(&e))),
    }
    vars.extend(std::env::vars());
    let named = vars
        .get("CONFIG_FILE")
        .map(|v| v.trim())
        .filter(|v| !v.is_empty());
    let mut file = file::read(named)?;
    let mut merged = std::mem::take(&mut file.settings);
    merged.extend(vars);
    Ok((merged, file))
}

/// What is wrong with `.env`, without echoing the line (it may hold a key).
fn dotenv_problem(e: &dotenvy::Error) -> String {
    match e {
        dotenvy::Error::LineParse(_, at) => {
            format!("a line cannot be parsed (near character {at}; check its quotes)")
        }
        dotenvy::Error::Io(io) => io.to_string(),
        _ => "it cannot be read".to_string(),
    }
}

#[cfg(test)]
pub(crate) mod tests;
