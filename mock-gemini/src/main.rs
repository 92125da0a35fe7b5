//! `mock-gemini`: runs the strict Gemini mock as a standalone process for Python
//! end-to-end tests and benchmarks, which script it through its `/_mock/` control API.
//!
//! ```text
//! mock-gemini [--host H] [--port P] [--stream-chunks N] [--chunk-interval-ms N] [--response-delay-ms N] [--floor] [--tls CERT_PEM_OUT] [--relay HOST:PORT]
//! ```
//! Prints exactly one line, `mock-gemini listening on http://HOST:PORT`, then serves until
//! SIGTERM or SIGINT.
#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool: its listening line and its errors are its output"
)]

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use mock_gemini::{MockGemini, MockOptions};

const USAGE: &str = "usage: mock-gemini [--host H] [--port P] [--stream-chunks N] \
                     [--chunk-interval-ms N] [--response-delay-ms N] [--floor] [--tls CERT_PEM_OUT] \
                     [--relay HOST:PORT]";

struct Args {
    host: IpAddr,
    port: u16,
    options: MockOptions,
    /// The benchmark's fixed-answer floor instead of the strict mock.
    floor: bool,
    /// Serve HTTPS (HTTP/2 or 1.1, as Google does) for `localhost` on 127.0.0.1, writing the
    /// self-signed certificate's PEM here for clients to trust.
    tls: Option<String>,
    /// The benchmark's byte relay to this address instead of a mock (`mock_gemini::relay`).
    relay: Option<SocketAddr>,
}

fn value<T: std::str::FromStr>(flag: &str, raw: Option<String>) -> Result<T, String> {
    let raw = raw.ok_or_else(|| format!("{flag} needs a value"))?;
    raw.parse()
        .map_err(|_| format!("{flag}: invalid value {raw:?}"))
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        host: IpAddr::from([127, 0, 0, 1]),
        port: 0,
        options: MockOptions::default(),
        floor: false,
        tls: None,
        relay: None,
    };
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, inline)) => (flag.to_owned(), Some(inline.to_owned())),
            None => (arg.clone(), None),
        };
        let mut next = || inline.clone().or_else(|| args.next());
        match flag.as_str() {
            "--host" => parsed.host = value(&flag, next())?,
            "--port" => parsed.port = value(&flag, next())?,
            "--stream-chunks" => parsed.options.stream_chunks = Some(value(&flag, next())?),
            "--chunk-interval-ms" => parsed.options.chunk_interval_ms = Some(value(&flag, next())?),
            "--response-delay-ms" => parsed.options.response_delay_ms = Some(value(&flag, next())?),
            "--floor" => parsed.floor = true,
            "--tls" => parsed.tls = Some(value(&flag, next())?),
            "--relay" => parsed.relay = Some(value(&flag, next())?),
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(parsed)
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    // The floor and the relay run on one thread: each is pinned to one core, where a pool of
    // workers would only wake each other (its cost is the least a server costs, not a
    // scheduler's).
    let runtime = if args.floor || args.relay.is_some() {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    };
    match runtime {
        Ok(runtime) => runtime.block_on(run(args)),
        Err(error) => {
            eprintln!("mock-gemini: no runtime: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let addr = SocketAddr::new(args.host, args.port);
    if let Some(upstream) = args.relay {
        return relay(addr, upstream).await;
    }
    let started = if let Some(pem_out) = &args.tls {
        match MockGemini::start_tls(args.options, &["localhost"]).await {
            Ok((mock, pem)) => std::fs::write(pem_out, pem).map(|()| mock),
            Err(e) => Err(e),
        }
    } else if args.floor {
        MockGemini::start_floor(addr, args.options).await
    } else {
        MockGemini::start_on(addr, args.options).await
    };
    let mock = match started {
        Ok(mock) => mock,
        Err(error) => {
            eprintln!(
                "mock-gemini: cannot listen on {}:{}: {error}",
                args.host, args.port
            );
            return ExitCode::FAILURE;
        }
    };
    let url = match &args.tls {
        Some(_) => format!("https://localhost:{}", mock.addr().port()),
        None => mock.base_url(),
    };
    println!("mock-gemini listening on {url}");
    let _ = std::io::stdout().flush();
    wait_for_signal().await;
    mock.shutdown().await;
    ExitCode::SUCCESS
}

/// `--relay`: relays connections until told to stop.
async fn relay(addr: SocketAddr, upstream: SocketAddr) -> ExitCode {
    match mock_gemini::relay::Relay::start(addr, upstream).await {
        Ok(relay) => {
            println!("mock-gemini listening on {}", relay.base_url());
            let _ = std::io::stdout().flush();
            wait_for_signal().await;
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("mock-gemini: cannot listen on {addr}: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Args, String> {
        parse_args(list.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn parses_flags() {
        let parsed = args(&[
            "--port",
            "8080",
            "--stream-chunks=5",
            "--chunk-interval-ms",
            "10",
        ]);
        assert!(parsed.as_ref().is_ok_and(|a| a.port == 8080
            && a.options.stream_chunks == Some(5)
            && a.options.chunk_interval_ms == Some(10)));
        assert!(args(&["--relay", "127.0.0.1:9"]).is_ok_and(|a| a.relay.is_some()));
        assert!(args(&["--relay", "nowhere"]).is_err());
        assert!(args(&["--bogus"]).is_err());
        assert!(args(&["--port"]).is_err());
    }
}
