//! `gemini-gateway`: with no arguments, serves with settings from the environment and `.env`.
//! The only place that writes to stderr directly: usage, startup errors, the listening line
//! (printed at any `LOG_LEVEL`: it is how a caller that asked for port 0 learns the port) and a
//! panic's message, redacted of every secret.
#![expect(
    clippy::print_stderr,
    reason = "the binary's own messages go to stderr"
)]

use std::process::ExitCode;

use gemini_gateway::config::Config;
use gemini_gateway::{secret, server, telemetry};

fn main() -> ExitCode {
    if let Some(arg) = std::env::args().nth(1) {
        if arg == "--version" || arg == "-V" {
            eprintln!("gemini-gateway {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        if arg != "serve" {
            eprintln!(
                "usage: gemini-gateway [serve]   (settings come from the environment; see README)"
            );
            return ExitCode::from(2);
        }
    }
    // Every secret is registered as it is read, so from here on a panic cannot print one.
    std::panic::set_hook(Box::new(|info| {
        let message = secret::redact(&info.to_string()).into_owned();
        tracing::error!("panic: {message}");
        eprintln!("gemini-gateway: panic: {message}");
    }));
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("gemini-gateway: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&config.log_level, config.log_format);
    let json = config.log_format == telemetry::LogFormat::Json;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gemini-gateway: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The listening line is written at any level; as a JSON object when the logs are JSON.
    let listening = |addr| {
        if json {
            let line = serde_json::json!({
                "level": "INFO",
                "message": format!("gemini-gateway listening on http://{addr}"),
                "address": format!("http://{addr}"),
            });
            eprintln!("{line}");
        } else {
            eprintln!("gemini-gateway listening on http://{addr}");
        }
    };
    match runtime.block_on(server::serve(config, listening)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("gemini-gateway: {e}");
            ExitCode::FAILURE
        }
    }
}
