//! The HTTP server: shared state built once, the router, and serving with graceful shutdown.
//!
//! Layer order for every request (outermost first), written once here:
//! TCP accept (TCP_NODELAY; headers within `CLIENT_TIMEOUT`, see `connections`) → body idle
//! timeout (`CLIENT_TIMEOUT`) → body limit (`MAX_BODY_BYTES`; a larger declared length is
//! drained and refused by `limits`) → route → client-key check
//! (`auth`; `/health` is open, `/admin` has its own) → the surface's handler. Surfaces answer
//! errors in their own API's shape.

mod admin;
pub mod auth;
mod connections;
pub mod limits;
mod status;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tower_http::timeout::RequestBodyTimeoutLayer;

use self::auth::Secrets;
use crate::affinity::Affinity;
use crate::config::Config;
use crate::dispatch::Dispatcher;
use crate::pool::{Backend, Clock, KeyPool};
use crate::store::embedded::EmbeddedStore;
use crate::store::redis::{RedisStore, RedisTimeouts};
use crate::store::sealed::Sealer;
use crate::surfaces;
use crate::surfaces::anthropic::{ModelMap, TranslateOptions};
use crate::upstream::client::UpstreamClient;

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub dispatcher: Dispatcher,
    pub affinity: Arc<Affinity>,
    pub translate: Arc<TranslateOptions>,
    /// `GATEWAY_API_KEYS`, as digests; empty means open.
    pub client_keys: Arc<Secrets>,
    /// `ADMIN_API_KEY`, as a digest; empty means the admin API is off.
    pub admin_key: Arc<Secrets>,
}

impl AppState {
    /// Builds the shared state around an already opened pool.
    pub fn new(config: Config, pool: Arc<KeyPool>) -> Result<AppState, ServeError> {
        let client = UpstreamClient::new(&config.gemini_base_url)
            .map_err(|e| ServeError::Client(e.to_string()))?;
        let dispatcher = Dispatcher::new(pool, client, config.request_timeout);
        let translate = TranslateOptions {
            models: ModelMap {
                big: config.big_model.clone(),
                small: config.small_model.clone(),
            },
            max_tokens_limit: config.max_tokens_limit,
        };
        Ok(AppState {
            client_keys: Arc::new(Secrets::new(&config.gateway_api_keys)),
            admin_key: Arc::new(Secrets::new(config.admin_api_key.iter())),
            config: Arc::new(config),
            dispatcher,
            affinity: Arc::new(Affinity::default()),
            translate: Arc::new(translate),
        })
    }

    pub fn pool(&self) -> &KeyPool {
        &self.dispatcher.pool
    }
}

/// Every route the gateway serves. `/health` is open; the model and status routes need a
/// client key when `GATEWAY_API_KEYS` is set; `/admin` needs `ADMIN_API_KEY`.
pub fn router(state: AppState) -> Router {
    let max_body = state.config.max_body_bytes;
    let client_timeout = state.config.client_timeout;
    let guarded = Router::new()
        .route("/v1/keys/status", get(status::keys_status))
        .merge(surfaces::anthropic::http::routes())
        .merge(surfaces::gemini::routes("v1beta"))
        .merge(surfaces::gemini::routes("v1"))
        .route_layer(from_fn_with_state(state.clone(), auth::require_client_key));
    let admin =
        admin::routes().route_layer(from_fn_with_state(state.clone(), admin::require_admin_key));
    Router::new()
        .route("/health", get(status::health))
        .merge(guarded)
        .merge(admin)
        .layer(from_fn_with_state(
            state.clone(),
            limits::refuse_declared_oversize,
        ))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(RequestBodyTimeoutLayer::new(client_timeout))
        .with_state(state)
}

/// Opens the configured state backend and the pool on it.
pub async fn open_pool(config: &Config) -> Result<KeyPool, ServeError> {
    let backend = match &config.redis_url {
        Some(url) => {
            let store = match RedisStore::connect(
                url,
                &config.redis_prefix,
                RedisTimeouts::default(),
            )
            .await
            {
                Ok(store) => store,
                Err(e) => {
                    // Start anyway on this gateway's own view; upkeep keeps trying and merges
                    // once Redis answers. A malformed URL still stops startup.
                    tracing::warn!(error = %e, "Redis is unreachable at startup: serving from this gateway's own view until it answers");
                    RedisStore::connect_later(url, &config.redis_prefix, RedisTimeouts::default())
                        .map_err(ServeError::Store)?
                }
            };
            Backend::Redis(match &config.admin_api_key {
                Some(admin) => store.with_sealer(Sealer::from_secret(admin)),
                None => store,
            })
        }
        None => {
            Backend::Embedded(EmbeddedStore::open(&config.state_path).map_err(ServeError::Store)?)
        }
    };
    KeyPool::open(
        config.keys.clone(),
        config.key_cooldown,
        Clock::new(),
        backend,
    )
    .await
    .map_err(ServeError::Store)
}

/// Binds, logs the address, and serves until SIGINT/SIGTERM; in-flight requests finish first.
pub async fn serve(config: Config) -> Result<(), ServeError> {
    let addr = SocketAddr::new(config.host, config.port);
    let pool = Arc::new(open_pool(&config).await?);
    let upkeep = tokio::spawn(upkeep(pool.clone()));
    let state = AppState::new(config, pool.clone())?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| ServeError::Bind(addr, e))?;
    let local = listener
        .local_addr()
        .map_err(|e| ServeError::Bind(addr, e))?;
    // Printed whatever LOG_LEVEL says: it is how a caller that asked for port 0 learns the port.
    eprintln!("gemini-gateway listening on http://{local}");
    tracing::info!(
        address = %local,
        keys = state.pool().len(),
        upstream = %state.config.gemini_base_url,
        backend = state.pool().backend_status().backend,
        "serving"
    );
    let client_timeout = state.config.client_timeout;
    connections::serve(listener, router(state), client_timeout, shutdown_signal()).await;
    upkeep.abort();
    pool.maintain().await;
    tracing::info!("gemini-gateway stopped");
    Ok(())
}

/// The pool's background upkeep (counter flushes, Redis sync and reconnects), once a second.
async fn upkeep(pool: Arc<KeyPool>) {
    let mut tick = tokio::time::interval(UPKEEP_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        pool.maintain().await;
    }
}

/// How often the pool syncs with its backend.
pub const UPKEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {0}: {1} (set HOST/PORT)")]
    Bind(SocketAddr, std::io::Error),
    #[error("cannot build the upstream HTTP client: {0}")]
    Client(String),
    #[error("{0}")]
    Store(crate::store::StoreError),
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
