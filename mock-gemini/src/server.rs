//! The running mock server and its Rust API: start it on a port, script it, read what
//! it received, stop it. Connections get `TCP_NODELAY` so streamed events are not delayed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::quota::QuotaConfig;
use crate::resources::GeneratedFile;
use crate::script::{MockOptions, Rule};
use crate::state::{lock, RecordedRequest, State};
use crate::{api, control};

/// A running mock Gemini server; dropping it (or [`MockGemini::shutdown`]) stops it.
pub struct MockGemini {
    addr: SocketAddr,
    state: Arc<State>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl MockGemini {
    /// Starts a server with default options on `127.0.0.1` and a free port.
    pub async fn start() -> std::io::Result<MockGemini> {
        MockGemini::start_with(MockOptions::default()).await
    }

    /// Starts a server with `options` on `127.0.0.1` and a free port.
    pub async fn start_with(options: MockOptions) -> std::io::Result<MockGemini> {
        MockGemini::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), options).await
    }

    /// Starts a server with `options` on `addr` (port 0 picks a free port).
    pub async fn start_on(addr: SocketAddr, options: MockOptions) -> std::io::Result<MockGemini> {
        let listener = TcpListener::bind(addr).await?;
        let listener = listener.tap_io(|socket| {
            let _ = socket.set_nodelay(true);
        });
        MockGemini::serve(listener, options)
    }

    /// Starts the benchmark's floor on `addr`: a fixed-answer server that answers every request
    /// with what the strict mock answered the first of its kind, checking and recording nothing
    /// (see `floor`).
    pub async fn start_floor(
        addr: SocketAddr,
        options: MockOptions,
    ) -> std::io::Result<MockGemini> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = watch::channel(false);
        let state = Arc::new(State::new(&options, stopped.clone()));
        let floor = Arc::new(crate::floor::Floor::new(state.clone()));
        let task = tokio::spawn(crate::floor::serve(listener, floor, stopped));
        Ok(MockGemini {
            addr,
            state,
            stop,
            task: Some(task),
        })
    }

    /// Starts an HTTPS server on `127.0.0.1` and a free port with a self-signed certificate for
    /// `names` (e.g. `["gemini.test"]`); returns it and the certificate's PEM, for clients to
    /// trust.
    pub async fn start_tls(
        options: MockOptions,
        names: &[&str],
    ) -> std::io::Result<(MockGemini, String)> {
        let tcp = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let (acceptor, pem) = crate::tls::self_signed(names)?;
        let mock = MockGemini::serve(crate::tls::TlsListener { tcp, acceptor }, options)?;
        Ok((mock, pem))
    }

    fn serve<L>(listener: L, options: MockOptions) -> std::io::Result<MockGemini>
    where
        L: axum::serve::Listener<Addr = SocketAddr>,
    {
        let addr = listener.local_addr()?;
        let (stop, stopped) = watch::channel(false);
        let state = Arc::new(State::new(&options, stopped.clone()));
        let app: Router = control::routes()
            .fallback(api::handle)
            .with_state(state.clone());
        let mut signal = stopped;
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = signal.wait_for(|down| *down).await;
        });
        let task = tokio::spawn(async move {
            if let Err(error) = serve.await {
                tracing::warn!(%error, "mock-gemini server stopped with an error");
            }
        });
        Ok(MockGemini {
            addr,
            state,
            stop,
            task: Some(task),
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sets the per-project quotas (and forgets what was used).
    pub fn set_quotas(&self, config: QuotaConfig) {
        lock(&self.state.quotas).configure(config);
    }

    /// Adds a scripted behaviour on top of the existing ones.
    pub fn script(&self, rule: Rule) {
        lock(&self.state.rules).add(rule);
    }

    /// Stores a file the service generated for a project (e.g. a batch's results, `source:
    /// GENERATED`, downloadable by the project's keys); returns its name, `files/{id}`.
    pub fn add_generated_file(&self, file: GeneratedFile) -> String {
        self.state.add_generated_file(file)
    }

    /// Removes every scripted behaviour.
    pub fn clear_rules(&self) {
        lock(&self.state.rules).clear();
    }

    /// Every API request received (control requests excluded), oldest first; the last
    /// 10,000 are kept.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.requests()
    }

    /// Empties the request log.
    pub fn clear_requests(&self) {
        self.state.clear_requests();
    }

    /// Stops the server: hanging requests are released, open connections closed.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

impl std::fmt::Debug for MockGemini {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockGemini")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for MockGemini {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shareable<T: Send + Sync + 'static>() {}

    #[test]
    fn the_server_handle_can_be_shared_between_tasks() {
        shareable::<MockGemini>();
        shareable::<RecordedRequest>();
    }
}
