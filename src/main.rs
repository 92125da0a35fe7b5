//! `gemini-gateway`: with no arguments, serves with settings from the environment and `.env`.

use std::process::ExitCode;

use gemini_gateway::config::Config;
use gemini_gateway::{server, telemetry};

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
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("gemini-gateway: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&config.log_level);
    for secret in config
        .keys
        .iter()
        .map(|k| k.expose().to_string())
        .chain(config.gateway_api_keys.iter().cloned())
        .chain(config.admin_api_key.iter().cloned())
    {
        telemetry::register_secret(&secret);
    }
    telemetry::install_panic_hook();
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
    match runtime.block_on(server::serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("gemini-gateway: {e}");
            ExitCode::FAILURE
        }
    }
}
