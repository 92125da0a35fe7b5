//! Structured logs through `tracing`, to stderr, at `LOG_LEVEL`. Nothing logged ever carries a
//! whole key: keys are logged by id or masked form only.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `level` is a validated `LOG_LEVEL`.
pub fn init(level: &str) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false)
        .try_init();
}

/// Every secret the process knows (pool keys, client and admin keys), so that even a panic
/// message cannot print one.
static SECRETS: std::sync::RwLock<Vec<String>> = std::sync::RwLock::new(Vec::new());

/// Adds a secret to the set [`redact_secrets`] removes.
pub fn register_secret(secret: &str) {
    if secret.is_empty() {
        return;
    }
    let mut all = SECRETS.write().unwrap_or_else(|p| p.into_inner());
    if !all.iter().any(|s| s == secret) {
        all.push(secret.to_string());
    }
}

/// `text` with every registered secret replaced by its masked form.
pub fn redact_secrets(text: &str) -> String {
    let all = SECRETS.read().unwrap_or_else(|p| p.into_inner());
    let mut out = text.to_string();
    for s in all.iter() {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), &crate::pool::mask(s));
        }
    }
    out
}

/// Panics (which the code avoids, and which would only come from a bug) are logged with every
/// secret redacted, instead of the default hook's raw message.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let message = redact_secrets(&info.to_string());
        tracing::error!("panic: {message}");
        eprintln!("gemini-gateway: panic: {message}");
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_secrets_are_masked() {
        register_secret("AIzaSyPanicTestSecretxxxxxxxxxxxxxx1234");
        let out = redact_secrets("boom: AIzaSyPanicTestSecretxxxxxxxxxxxxxx1234 failed");
        assert_eq!(out, "boom: AIzaSy...1234 failed");
    }
}
