//! The alert settings: where webhooks go (`ALERT_WEBHOOK_URL`, kept as a secret: Slack's and
//! Discord's webhook addresses are credentials), in which body shape (`ALERT_WEBHOOK_FORMAT`:
//! `slack`, `discord`, `json`, or `auto` — Slack's or Discord's from the address, else plain
//! JSON) and the share of failing upstream attempts that raises an alert (`ALERT_ERROR_RATE`).

use super::settings::invalid;
use super::ConfigError;
use crate::secret::Secret;

/// The shape of an alert's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertFormat {
    /// `{"text": …}` (Slack's incoming webhooks, Mattermost, Google Chat).
    Slack,
    /// `{"content": …}` (Discord's webhooks).
    Discord,
    /// The alert as a JSON object (`kind`, `state`, `subject`, `message`, `at`).
    Json,
}

#[derive(Debug, Clone)]
pub struct AlertSettings {
    pub url: Secret,
    pub format: AlertFormat,
    /// Share of upstream attempts failing over a minute (at least [`MIN_ATTEMPTS`]) that is an
    /// alert; `None`: no error-rate alerts.
    pub error_rate: Option<f64>,
}

/// Attempts a minute must have before its error share means anything.
pub const MIN_ATTEMPTS: u64 = 20;

impl PartialEq for AlertSettings {
    fn eq(&self, other: &Self) -> bool {
        self.url.expose() == other.url.expose()
            && self.format == other.format
            && self.error_rate == other.error_rate
    }
}

pub fn read<'a>(
    get: impl Fn(&str) -> Option<&'a str> + Copy,
) -> Result<Option<AlertSettings>, ConfigError> {
    let Some(url) = get("ALERT_WEBHOOK_URL")
        .map(str::trim)
        .filter(|u| !u.is_empty())
    else {
        return Ok(None);
    };
    let Ok(parsed) = url::Url::parse(url) else {
        return Err(ConfigError::Invalid {
            name: "ALERT_WEBHOOK_URL",
            value: "(hidden: a webhook address is a credential)".into(),
            problem: "must be an http:// or https:// address",
        });
    };
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ConfigError::Invalid {
            name: "ALERT_WEBHOOK_URL",
            value: "(hidden: a webhook address is a credential)".into(),
            problem: "must be an http:// or https:// address",
        });
    }
    let host = parsed.host_str().unwrap_or("");
    let format = match get("ALERT_WEBHOOK_FORMAT")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("auto") if host.ends_with("slack.com") => AlertFormat::Slack,
        None | Some("auto")
            if (host.ends_with("discord.com") || host.ends_with("discordapp.com")) =>
        {
            AlertFormat::Discord
        }
        None | Some("auto" | "json") => AlertFormat::Json,
        Some("slack") => AlertFormat::Slack,
        Some("discord") => AlertFormat::Discord,
        Some(_) => {
            return Err(invalid(
                "ALERT_WEBHOOK_FORMAT",
                get,
                "must be auto, slack, discord or json",
            ))
        }
    };
    let error_rate = match get("ALERT_ERROR_RATE").map(str::parse::<f64>) {
        None => Some(0.5),
        Some(Ok(0.0)) => None,
        Some(Ok(r)) if r > 0.0 && r <= 1.0 => Some(r),
        Some(_) => {
            return Err(invalid(
                "ALERT_ERROR_RATE",
                get,
                "must be a share between 0 and 1 (0 turns error-rate alerts off)",
            ))
        }
    };
    Ok(Some(AlertSettings {
        url: Secret::new(url),
        format,
        error_rate,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<&'a str> + Copy + 'a {
        move |name| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    #[test]
    fn the_format_follows_the_address_unless_told() {
        let slack = [(
            "ALERT_WEBHOOK_URL",
            "https://hooks.slack.com/services/T/B/secret",
        )];
        assert_eq!(
            read(with(&slack)).unwrap().unwrap().format,
            AlertFormat::Slack
        );
        let discord = [(
            "ALERT_WEBHOOK_URL",
            "https://discord.com/api/webhooks/1/tok",
        )];
        assert_eq!(
            read(with(&discord)).unwrap().unwrap().format,
            AlertFormat::Discord
        );
        let told = [
            (
                "ALERT_WEBHOOK_URL",
                "https://discord.com/api/webhooks/1/tok",
            ),
            ("ALERT_WEBHOOK_FORMAT", "json"),
        ];
        assert_eq!(
            read(with(&told)).unwrap().unwrap().format,
            AlertFormat::Json
        );
        assert!(read(with(&[])).unwrap().is_none());
        let off = [
            ("ALERT_WEBHOOK_URL", "http://x/"),
            ("ALERT_ERROR_RATE", "0"),
        ];
        assert_eq!(read(with(&off)).unwrap().unwrap().error_rate, None);
    }

    #[test]
    fn a_bad_address_is_refused_without_echoing_it() {
        let bad = [("ALERT_WEBHOOK_URL", "ftp://secret-token@host/")];
        let e = read(with(&bad)).unwrap_err().to_string();
        assert!(!e.contains("secret-token"), "{e}");
        let rate = [
            ("ALERT_WEBHOOK_URL", "http://x/"),
            ("ALERT_ERROR_RATE", "2"),
        ];
        assert!(read(with(&rate)).is_err());
    }
}
