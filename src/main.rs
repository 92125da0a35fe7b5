//! `gemini-gateway`: with no arguments (or `serve`), serves with settings from the environment,
//! `.env` and the config file; `check-keys` checks Gemini keys and exits.
//! The only place that writes to stderr directly: usage, startup errors, the listening line
//! (printed at any `LOG_LEVEL`: it is how a caller that asked for port 0 learns the port) and a
//! panic's message, redacted of every secret.
#![expect(
    clippy::print_stderr,
    reason = "the binary's own messages go to stderr"
)]

use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use gemini_gateway::config::{self, Config};
use gemini_gateway::upstream::HttpUpstream;
use gemini_gateway::{check, secret, server, telemetry};

/// A gateway that serves the Gemini, Anthropic and OpenAI APIs from a pool of Gemini API keys.
/// Settings come from the environment, `.env` and the config file (see the README).
#[derive(Parser)]
#[command(name = "gemini-gateway", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve (the default).
    Serve,
    /// Check Gemini API keys: which are valid, refused, resting, or unreachable.
    CheckKeys(CheckArgs),
    /// Ask the gateway on this machine (HOST, PORT) for /health: exit 0 when it answers 200,
    /// 1 otherwise (a container's HEALTHCHECK, with no curl in the image).
    Health {
        /// Seconds to wait for the answer.
        #[arg(long, default_value_t = 3.0)]
        timeout: f64,
    },
}

#[derive(Args)]
struct CheckArgs {
    /// A file of keys, one per line (`-`: standard input). Default: GEMINI_API_KEY (and the
    /// config file's keys).
    file: Option<String>,
    /// Print JSON ({"keys": [...], "summary": {...}}) instead of a table, and no progress bar.
    #[arg(long)]
    json: bool,
    /// The model the one-token generation asks (default: SMALL_MODEL, else the newest flash-tier
    /// model each key lists).
    #[arg(long)]
    model: Option<String>,
    /// Keys checked at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    concurrency: u16,
    /// Seconds to wait for each answer.
    #[arg(long, default_value_t = 15.0)]
    timeout: f64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    install_panic_hook();
    match cli.command {
        None | Some(Command::Serve) => serve(),
        Some(Command::CheckKeys(args)) => check_keys(args),
        Some(Command::Health { timeout }) => health(timeout),
    }
}

fn install_panic_hook() {
    // Every secret is registered as it is read, so from here on a panic cannot print one.
    std::panic::set_hook(Box::new(|info| {
        let message = secret::redact(&info.to_string()).into_owned();
        tracing::error!("panic: {message}");
        eprintln!("gemini-gateway: panic: {message}");
    }));
}

fn runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => Some(r),
        Err(e) => {
            eprintln!("gemini-gateway: cannot start the runtime: {e}");
            None
        }
    }
}

/// `check-keys`: exit 0 when every key is usable, 1 when some are not, 2 on a usage or network
/// error.
fn check_keys(args: CheckArgs) -> ExitCode {
    let usage_error = |message: String| {
        eprintln!("gemini-gateway check-keys: {message}");
        ExitCode::from(2)
    };
    let (vars, file) = match config::gather() {
        Ok(v) => v,
        Err(e) => return usage_error(e.to_string()),
    };
    let get = |name: &str| config::setting(&vars, name);
    let keys = match args.file.as_deref() {
        Some("-") => {
            let mut text = String::new();
            if let Err(e) = std::io::stdin().read_to_string(&mut text) {
                return usage_error(format!("cannot read standard input: {e}"));
            }
            check::keys_from_text(&text)
        }
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => check::keys_from_text(&text),
            Err(e) => return usage_error(format!("cannot read {path}: {e}")),
        },
        None => config::key_list(&config::key_text(get("GEMINI_API_KEY"), &file)),
    };
    if keys.is_empty() {
        return usage_error(
            "no keys: give a file (or - for standard input), or set GEMINI_API_KEY".into(),
        );
    }
    if !(args.timeout.is_finite() && args.timeout > 0.0) {
        return usage_error("--timeout must be a number of seconds > 0".into());
    }
    let settings = match config::Upstream::from_vars(&vars) {
        Ok(s) => s,
        Err(e) => return usage_error(e.to_string()),
    };
    let upstream = match HttpUpstream::new(
        &settings.base_url,
        settings.proxy.as_ref(),
        settings.ca_file.as_deref(),
    ) {
        Ok(u) => u,
        Err(e) => return usage_error(secret::redact(&e.to_string()).into_owned()),
    };
    let opts = check::CheckOptions {
        model: args
            .model
            .or_else(|| get("SMALL_MODEL").map(str::to_string)),
        concurrency: usize::from(args.concurrency),
        timeout: std::time::Duration::from_secs_f64(args.timeout),
    };
    let Some(runtime) = runtime() else {
        return ExitCode::FAILURE;
    };
    let bar = (!args.json && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(keys.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} keys checked  {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let reports = runtime.block_on(check::check_all(&upstream, &keys, &opts, |r| {
        if let Some(bar) = &bar {
            bar.set_message(format!("{} {}", r.key, r.verdict.label()));
            bar.inc(1);
        }
    }));
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let out = if args.json {
        check::report::json(&reports)
    } else {
        check::report::table(&reports)
    };
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "{}", out.trim_end()).is_err() {
        return ExitCode::from(2);
    }
    ExitCode::from(check::exit_status(&reports))
}

/// `health`: GET /health on the local gateway.
fn health(timeout: f64) -> ExitCode {
    let fail = |message: String| {
        eprintln!("gemini-gateway health: {message}");
        ExitCode::FAILURE
    };
    let vars = match config::gather() {
        Ok((vars, _)) => vars,
        Err(e) => return fail(e.to_string()),
    };
    let host: std::net::IpAddr = match config::setting(&vars, "HOST")
        .unwrap_or("127.0.0.1")
        .parse()
    {
        Ok(h) => h,
        Err(_) => return fail("HOST is not an IP address".into()),
    };
    // A gateway listening on every address answers on loopback.
    let host = match host {
        std::net::IpAddr::V4(a) if a.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(a) if a.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        other => other,
    };
    let port: u16 = match config::setting(&vars, "PORT").unwrap_or("8082").parse() {
        Ok(p) => p,
        Err(_) => return fail("PORT is not a port number".into()),
    };
    let url = format!("http://{}/health", std::net::SocketAddr::new(host, port));
    if !(timeout.is_finite() && timeout > 0.0) {
        return fail("--timeout must be a number of seconds > 0".into());
    }
    let Some(runtime) = runtime() else {
        return ExitCode::FAILURE;
    };
    let answer = runtime.block_on(async {
        reqwest::Client::builder()
            .no_proxy()
            .timeout(std::time::Duration::from_secs_f64(timeout))
            .build()?
            .get(&url)
            .send()
            .await
    });
    match answer {
        Ok(r) if r.status().is_success() => ExitCode::SUCCESS,
        Ok(r) => fail(format!("{url} answered {}", r.status())),
        Err(e) => fail(format!("{url}: {e}")),
    }
}

fn serve() -> ExitCode {
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("gemini-gateway: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&config.log_level, config.log_format);
    let json = config.log_format == telemetry::LogFormat::Json;
    let Some(runtime) = runtime() else {
        return ExitCode::FAILURE;
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
