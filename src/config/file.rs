//! The config file (`CONFIG_FILE`, default `./gemini-gateway.toml` when present), TOML, for what
//! does not fit in one environment variable: `keys = [...]` (Gemini keys, joined to
//! `GEMINI_API_KEY`), `[[clients]]` (client keys with names and limits), and any setting by its
//! environment name (`BIG_MODEL = "gemini-3.1-pro-preview"`; `MODEL_ALIASES` may be a table and
//! `MODEL_FALLBACKS` a list). The environment and `.env` win over it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::money::{dollars, ProjectEntry};
use super::ConfigError;
use crate::pool::KeyModels;
use crate::secret::{ApiKey, Secret};
use crate::telemetry::prices::{PriceEntry, ServiceTier};

/// The default file, read when `CONFIG_FILE` is not set and it exists.
pub const DEFAULT_FILE: &str = "gemini-gateway.toml";

/// A client with its own key, name and limits.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientSpec {
    pub name: String,
    pub key: Secret,
    pub requests_per_minute: Option<u32>,
    pub tokens_per_day: Option<u64>,
    /// Gemini model names (after mapping) the client may use; `None`: every model.
    pub models: Option<Vec<String>>,
    /// What the client may spend per UTC day and per calendar month (UTC), in nano-dollars.
    pub budget_per_day: Option<u64>,
    pub budget_per_month: Option<u64>,
    /// The service tier its requests go at unless they choose one.
    pub service_tier: Option<ServiceTier>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientEntry {
    name: String,
    key: String,
    requests_per_minute: Option<u32>,
    tokens_per_day: Option<u64>,
    models: Option<Vec<String>>,
    budget_usd_per_day: Option<f64>,
    budget_usd_per_month: Option<f64>,
    service_tier: Option<String>,
}

/// One of `keys = [...]`: a key (`"AIza…"`, `"project:AIza…"`), or a table saying more of it.
#[derive(Deserialize)]
#[serde(untagged)]
enum KeyEntry {
    Plain(String),
    Described(KeyTable),
}

/// `{ key = "AIza…", project = "p", models = ["gemini-4-*"], exclude_models = [...], weight = 2 }`
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyTable {
    key: String,
    project: Option<String>,
    models: Option<Vec<String>>,
    #[serde(default)]
    exclude_models: Vec<String>,
    weight: Option<u32>,
}

#[derive(Deserialize)]
struct FileShape {
    #[serde(default)]
    keys: Vec<KeyEntry>,
    #[serde(default)]
    clients: Vec<ClientEntry>,
    #[serde(default)]
    prices: Vec<PriceEntry>,
    #[serde(default)]
    projects: Vec<ProjectEntry>,
    #[serde(flatten)]
    settings: BTreeMap<String, toml::Value>,
}

/// What the file holds.
#[derive(Debug, Default)]
pub struct FileConfig {
    /// Settings by environment name, as strings.
    pub settings: HashMap<String, String>,
    /// `keys = [...]`, each as `GEMINI_API_KEY` writes it (`project:key` or `key`).
    pub keys: Vec<String>,
    /// key id → what its table in `keys` says about its models and weight.
    pub key_models: HashMap<String, KeyModels>,
    pub clients: Vec<ClientSpec>,
    /// `[[prices]]`: price rows ahead of the built-in ones.
    pub prices: Vec<PriceEntry>,
    /// `[[projects]]`: what each project group may spend.
    pub projects: Vec<ProjectEntry>,
    /// The file read, if any.
    pub path: Option<PathBuf>,
}

fn problem(path: &Path, what: impl std::fmt::Display) -> ConfigError {
    ConfigError::File(format!("{}: {what}", path.display()))
}

/// Reads the file `CONFIG_FILE` names (it must exist), else the default one when present.
pub fn read(config_file: Option<&str>) -> Result<FileConfig, ConfigError> {
    let path = match config_file {
        Some(p) => PathBuf::from(p),
        None if Path::new(DEFAULT_FILE).exists() => PathBuf::from(DEFAULT_FILE),
        None => return Ok(FileConfig::default()),
    };
    let text = std::fs::read_to_string(&path).map_err(|e| problem(&path, e))?;
    let mut file = parse(&text).map_err(|e| problem(&path, e))?;
    file.path = Some(path);
    Ok(file)
}

/// Parses the file's text; the error names the offending entry (never a key's value).
pub fn parse(text: &str) -> Result<FileConfig, String> {
    let shape: FileShape = toml::from_str(text).map_err(|e| e.message().to_string())?;
    let mut settings = HashMap::new();
    for (name, value) in shape.settings {
        if name == "CONFIG_FILE" || !super::SETTINGS.iter().any(|s| s.0 == name) {
            return Err(format!(
                "unknown entry {name:?} (settings use their environment names, like BIG_MODEL; also keys = [...], [[clients]], [[prices]] and [[projects]])"
            ));
        }
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(n) => n.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Array(items) if name == "GEMINI_API_KEY" || name == "GATEWAY_API_KEYS" => {
                let parts: Option<Vec<String>> = items
                    .into_iter()
                    .map(|v| v.as_str().map(str::to_string))
                    .collect();
                parts
                    .ok_or_else(|| format!("{name} must be a string or a list of strings"))?
                    .join(",")
            }
            // MODEL_ALIASES = { "gemini-2.5-pro" = "gemini-3.1-pro-preview", … }
            toml::Value::Table(pairs)
                if name == "MODEL_ALIASES" || name == "MODEL_SERVICE_TIERS" =>
            {
                let entries: Option<Vec<String>> = pairs
                    .into_iter()
                    .map(|(from, to)| to.as_str().map(|to| format!("{from}={to}")))
                    .collect();
                entries
                    .ok_or_else(|| format!("{name} must map model names to model names"))?
                    .join(",")
            }
            // MODEL_FALLBACKS = ["a > b > c", "d > e"]
            toml::Value::Array(items) if name == "MODEL_FALLBACKS" => {
                let chains: Option<Vec<String>> = items
                    .into_iter()
                    .map(|v| v.as_str().map(str::to_string))
                    .collect();
                chains
                    .ok_or_else(|| format!("{name} must be a string or a list of strings"))?
                    .join(";")
            }
            _ => return Err(format!("{name} must be a string, a number or a boolean")),
        };
        settings.insert(name, text);
    }
    let mut names = HashSet::new();
    let mut keys = HashSet::new();
    let mut clients = Vec::new();
    for c in shape.clients {
        let name = c.name.trim().to_string();
        let plain = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !plain {
            return Err(format!(
                "client name {name:?} must be 1–64 letters, digits, '-', '_' or '.'"
            ));
        }
        if !names.insert(name.clone()) {
            return Err(format!("client name {name:?} is used twice"));
        }
        let key = c.key.trim().to_string();
        if key.is_empty() {
            return Err(format!("client {name:?} has an empty key"));
        }
        if !keys.insert(key.clone()) {
            return Err(format!("client {name:?} has the key of another client"));
        }
        if c.requests_per_minute == Some(0) || c.tokens_per_day == Some(0) {
            return Err(format!(
                "client {name:?}: a limit of 0 would refuse everything; leave it out for no limit"
            ));
        }
        let budget_per_day = dollars(
            &format!("client {name:?}: budget_usd_per_day"),
            c.budget_usd_per_day,
        )?;
        let budget_per_month = dollars(
            &format!("client {name:?}: budget_usd_per_month"),
            c.budget_usd_per_month,
        )?;
        let service_tier = match c.service_tier.as_deref().map(ServiceTier::parse) {
            None => None,
            Some(Some(t)) => Some(t),
            Some(None) => {
                return Err(format!(
                    "client {name:?}: service_tier must be flex, standard or priority"
                ))
            }
        };
        let models = c.models.map(|ms| {
            ms.into_iter()
                .map(|m| m.trim().trim_start_matches("models/").to_string())
                .collect()
        });
        clients.push(ClientSpec {
            name,
            key: Secret::new(&key),
            requests_per_minute: c.requests_per_minute,
            tokens_per_day: c.tokens_per_day,
            models,
            budget_per_day,
            budget_per_month,
            service_tier,
        });
    }
    let mut keys = Vec::new();
    let mut key_models = HashMap::new();
    for (n, entry) in shape.keys.into_iter().enumerate() {
        match entry {
            KeyEntry::Plain(k) => keys.push(k),
            KeyEntry::Described(t) => {
                let key = t.key.trim().to_string();
                if key.is_empty() {
                    return Err(format!("keys[{n}] has an empty key"));
                }
                let rules = KeyModels {
                    models: t.models,
                    exclude_models: t.exclude_models,
                    weight: t.weight.unwrap_or(1),
                }
                .checked()
                .map_err(|e| format!("keys[{n}]: {e}"))?;
                key_models.insert(ApiKey::new(&key).id().to_string(), rules);
                keys.push(match t.project {
                    Some(p) if !p.trim().is_empty() => format!("{}:{key}", p.trim()),
                    _ => key,
                });
            }
        }
    }
    Ok(FileConfig {
        settings,
        keys,
        key_models,
        clients,
        prices: shape.prices,
        projects: shape.projects,
        path: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_keys_and_clients_are_read() {
        let f = parse(
            r#"
            BIG_MODEL = "gemini-2.5-pro"
            PORT = 9000
            OPENAI_MODEL_MAP = true
            keys = ["AIzaSyOne", "AIzaSyTwo"]

            [[clients]]
            name = "alice"
            key = "sk-alice"
            requests_per_minute = 30
            tokens_per_day = 100000
            models = ["models/gemini-2.5-flash"]

            [[clients]]
            name = "bob"
            key = "sk-bob"
            "#,
        )
        .unwrap();
        assert_eq!(f.settings["BIG_MODEL"], "gemini-2.5-pro");
        assert_eq!(f.settings["PORT"], "9000");
        assert_eq!(f.settings["OPENAI_MODEL_MAP"], "true");
        assert_eq!(f.keys.len(), 2);
        assert_eq!(
            f.clients[0].models.as_deref(),
            Some(&["gemini-2.5-flash".to_string()][..])
        );
        assert_eq!(f.clients[1].requests_per_minute, None);
    }

    #[test]
    fn a_key_may_be_a_table_naming_its_project_models_and_weight() {
        let f = parse(
            r#"
            keys = [
                "AIzaSyPlain",
                { key = "AIzaSyPaid", project = "paid", models = ["gemini-4-*", "models/gemini-3.8-flash"], weight = 3 },
                { key = "AIzaSyFree", exclude_models = ["gemini-4-carbon", "gemini-4-neon"] },
            ]
            "#,
        )
        .unwrap();
        assert_eq!(f.keys, ["AIzaSyPlain", "paid:AIzaSyPaid", "AIzaSyFree"]);
        let paid = &f.key_models[ApiKey::new("AIzaSyPaid").id()];
        assert_eq!(paid.weight, 3);
        assert!(paid.allows("gemini-4-carbon") && paid.allows("gemini-3.8-flash"));
        assert!(!paid.allows("gemini-3.1-pro-preview"));
        let free = &f.key_models[ApiKey::new("AIzaSyFree").id()];
        assert!(!free.allows("gemini-4-neon") && free.allows("gemini-4-argon"));
        let e = parse(r#"keys = [{ key = "AIzaSySecretValue", weight = 0 }]"#).unwrap_err();
        assert!(e.contains("weight") && !e.contains("SecretValue"), "{e}");
        assert!(parse(r#"keys = [{ key = "k", modles = ["x"] }]"#).is_err());
    }

    #[test]
    fn aliases_as_a_table_and_fallbacks_as_a_list() {
        let f = parse(
            r#"
            MODEL_FALLBACKS = ["gemini-3.1-pro-preview > gemini-3.8-flash", "gemini-4-carbon > gemini-4-hydrogen"]

            [MODEL_ALIASES]
            "gemini-2.5-pro" = "gemini-3.1-pro-preview"
            "claude-*-haiku-*" = "gemini-3.5-flash-lite"
            "#,
        )
        .unwrap();
        assert_eq!(
            f.settings["MODEL_ALIASES"],
            "claude-*-haiku-*=gemini-3.5-flash-lite,gemini-2.5-pro=gemini-3.1-pro-preview"
        );
        assert_eq!(
            f.settings["MODEL_FALLBACKS"],
            "gemini-3.1-pro-preview > gemini-3.8-flash;gemini-4-carbon > gemini-4-hydrogen"
        );
        assert!(parse(
            "[MODEL_ALIASES]
a = 1"
        )
        .is_err());
    }

    #[test]
    fn mistakes_are_named() {
        let err = |text: &str| parse(text).unwrap_err();
        assert!(err("BIG_MODLE = \"x\"").contains("BIG_MODLE"));
        assert!(err(
            "[[clients]]\nname = \"a\"\nkey = \"k\"\n[[clients]]\nname = \"a\"\nkey = \"j\""
        )
        .contains("twice"));
        assert!(err(
            "[[clients]]\nname = \"a\"\nkey = \"k\"\n[[clients]]\nname = \"b\"\nkey = \"k\""
        )
        .contains("another client"));
        assert!(err("[[clients]]\nname = \"a\"\nkey = \"k\"\nrpm = 3").contains("rpm"));
        let secret = "sk-very-secret-value";
        let e = err(&format!("[[clients]]\nname = \"a b\"\nkey = \"{secret}\""));
        assert!(!e.contains(secret), "{e}");
    }
}
