//! Structured logs through `tracing`, to stderr, at `LOG_LEVEL`. Nothing logged ever carries a
//! whole key: keys are logged by id or masked form only, and text from elsewhere (upstream
//! errors) is redacted by `secret::redact` before it is logged.

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
