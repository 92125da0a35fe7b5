//! The HTTP server: the router built once from the list of surfaces, and serving with graceful
//! shutdown.
//!
//! Layer order for every request (outermost first), written once here:
//! TCP accept (TCP_NODELAY; headers within `CLIENT_TIMEOUT`, see `connections`) → body idle
//! timeout (`CLIENT_TIMEOUT`) → body limit (`MAX_BODY_BYTES`) → route → a body declared larger
//! than the limit is drained and refused (`limits`) → client-key check (`auth`; `/health` is
//! open, `/admin` has its own) → the handler. The two middle layers are generic over the route's
//! error dialect, so every refusal answers in the shape of the API the client called; the
//! gateway's own endpoints (status, admin, unknown paths) answer in Google's shape, the seed's.

mod admin;
#[cfg(test)]
mod anthropic_tests;
pub mod auth;
#[cfg(test)]
mod budget_tests;
mod budgets;
pub mod clients;
mod connections;
mod dashboard;
mod gate;
mod guard;
mod head;
pub mod limits;
pub mod observe;
mod pool_alerts;
mod reload;
mod spend_caps;
mod status;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod trace_tests;
mod usage;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::timeout::RequestBodyTimeoutLayer;

use self::gate::Gate;
use crate::config::Config;
use crate::dispatch::Dispatcher;
use crate::models::Models;
use crate::pool::{Clock, KeyPool};
use crate::resources::Owners;
use crate::store::{Backend, Settings, StoreError};
use crate::surfaces::anthropic::Anthropic;
use crate::surfaces::catalog::Catalog;
use crate::surfaces::gemini::{Gemini, GoogleError};
use crate::surfaces::openai::OpenAi;
use crate::surfaces::{Context, Dialect, Surface};
use crate::telemetry::trace::Traces;
use crate::telemetry::Telemetry;
use crate::upstream::{HttpUpstream, Upstream};

/// Every route the gateway serves: the surfaces (listed here, and nowhere else), then the
/// gateway's own endpoints. Model names resolve without a live catalog until one is installed.
pub fn router(config: Arc<Config>, dispatcher: Dispatcher) -> Router {
    let models = Arc::new(Models::new(
        config.naming.clone(),
        *dispatcher.pool().clock(),
        dispatcher.served_models().clone(),
    ));
    build(config, dispatcher, models).0
}

/// The router, and the door it guards with (whose client list a reload replaces).
fn build(config: Arc<Config>, dispatcher: Dispatcher, models: Arc<Models>) -> (Router, Gate) {
    let pool = dispatcher.pool();
    dispatcher
        .telemetry()
        .set_pricing(config.money.pricing.clone());
    if let Some(alerts) = &config.alerts {
        dispatcher.telemetry().enable_alerts(alerts);
    }
    let limiter = clients::Limiter::new(
        pool.backend().clone(),
        dispatcher.telemetry().clone(),
        *pool.clock(),
    );
    let gate = Gate::new(&config).with_limiter(Arc::new(limiter));
    let owners = Owners::new(pool.backend().clone(), *pool.clock());
    let ctx = Context {
        dispatcher,
        config: config.clone(),
        models,
        owners,
    };
    let routes = Router::new()
        .merge(mount::<Anthropic>(&ctx, &gate))
        .merge(mount::<Gemini>(&ctx, &gate))
        .merge(mount::<OpenAi>(&ctx, &gate))
        .merge(mount::<Catalog>(&ctx, &gate))
        .merge(house(&ctx, &gate));
    // The layers every request passes, wrapped once around the whole router: `Router::layer`
    // would wrap each route in them, and axum clones a route's whole stack of boxed layers on
    // every call through it, one stack per layer.
    let outer = ServiceBuilder::new()
        .layer(observe::RequestIdLayer)
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(RequestBodyTimeoutLayer::new(config.client_timeout))
        .service(routes);
    (Router::new().fallback_service(outer), gate)
}

/// A surface's routes behind the client-key check and the body limit, in its dialect, each
/// request observed (its tally recorded once its response is out). Both layers go on in one
/// `route_layer`: axum boxes each route's stack once per call, and clones and boxes every box
/// on every request through it.
fn mount<S: Surface>(ctx: &Context, gate: &Gate) -> Router {
    let observed = observe::Observing {
        telemetry: ctx.dispatcher.telemetry().clone(),
        surface: S::NAME,
    };
    let layers = ServiceBuilder::new()
        .layer(observe::ObserveLayer(observed))
        .layer(guard::GuardLayer::<S::Dialect>::new(gate));
    S::routes(ctx).route_layer(layers)
}

fn guarded<D: Dialect + 'static>(routes: Router, gate: &Gate) -> Router {
    routes.route_layer(guard::GuardLayer::<D>::new(gate))
}

/// The gateway's own endpoints: `/health` (open), `/v1/keys/status` (client key), `/admin`
/// (operator key), and unknown paths.
fn house(ctx: &Context, gate: &Gate) -> Router {
    let ops = status::Ops {
        pool: ctx.dispatcher.pool().clone(),
        telemetry: ctx.dispatcher.telemetry().clone(),
        models: ctx.models.clone(),
    };
    let views = Router::new()
        .route("/v1/keys/status", get(status::keys_status))
        .route("/metrics", get(status::metrics))
        .route("/v1/usage", get(usage::usage))
        .route("/v1/requests", get(status::recent))
        .with_state(ops.clone());
    Router::new()
        .route("/health", get(status::health))
        .route("/dashboard", get(dashboard::page))
        .with_state(ops.clone())
        .merge(guarded::<GoogleError>(views, gate))
        .merge(admin::routes(ops, gate))
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(from_fn_with_state(
            gate.clone(),
            limits::refuse_declared_oversize::<GoogleError>,
        ))
}

/// Opens the configured state backend and the pool on it.
pub async fn open_pool(config: &Config) -> Result<KeyPool, StoreError> {
    let backend = Backend::open(Settings {
        redis_url: config.redis_url.as_ref(),
        redis_prefix: &config.redis_prefix,
        state_path: &config.state_path,
        admin_key: config.admin_api_key.as_ref(),
    })
    .await?;
    KeyPool::open(
        config.keys.clone(),
        &config.quota,
        config.key_cooldown,
        Clock::new(),
        backend,
    )
    .await
}

/// Binds, tells `listening` the address, and serves until SIGINT/SIGTERM; in-flight requests
/// finish first. `SIGHUP` reloads the key list and the client keys (see `reload`).
pub async fn serve(config: Config, listening: impl FnOnce(SocketAddr)) -> Result<(), ServeError> {
    let addr = SocketAddr::new(config.host, config.port);
    let pool = Arc::new(open_pool(&config).await.map_err(ServeError::Store)?);
    let traces = match &config.traces {
        Some(settings) => Some(Traces::start(settings).map_err(ServeError::Traces)?),
        None => None,
    };
    let telemetry = Telemetry::with_traces(pool.backend().clone(), *pool.clock(), traces);
    let caps = Arc::new(spend_caps::SpendCaps::new(
        config.money.project_caps.clone(),
    ));
    let upkeep = tokio::spawn(upkeep(pool.clone(), telemetry.clone(), caps.clone()));
    let upstream: Arc<dyn Upstream> = Arc::new(
        HttpUpstream::new(
            &config.upstream.base_url,
            config.upstream.proxy.as_ref(),
            config.upstream.ca_file.as_deref(),
        )
        .map_err(ServeError::Client)?,
    );
    let dispatcher = Dispatcher::new(pool.clone(), upstream.clone(), config.request_timeout)
        .with_telemetry(telemetry.clone())
        .with_queue(config.queue_max_wait, config.queue_max_length);
    let models = Arc::new(Models::live(
        config.naming.clone(),
        pool.clone(),
        upstream,
        dispatcher.served_models().clone(),
    ));
    models.start(CATALOG_WAIT, config.catalog_refresh).await;
    let catalog = tokio::spawn(
        models
            .clone()
            .keep_fresh(config.catalog_refresh, CATALOG_POLL),
    );
    let client_timeout = config.client_timeout;
    let config = Arc::new(config);
    let (app, gate) = build(config.clone(), dispatcher, models.clone());
    // SIGHUP is listened for before the address is told, so no hang-up can end the process.
    let reloader = reload::Reloader::new(&config, pool.clone(), gate.clients.clone())
        .with_money(telemetry.clone(), caps);
    let reloads = tokio::spawn(reload::on_hangup(reload::hangups(), reloader));
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| ServeError::Bind(addr, e))?;
    let local = listener
        .local_addr()
        .map_err(|e| ServeError::Bind(addr, e))?;
    listening(local);
    let (big, small) = models.defaults();
    tracing::info!(
        address = %local,
        keys = pool.len(),
        upstream = %config.upstream.base_url,
        backend = pool.backend_status().backend,
        models = models.catalog().map_or(0, |c| c.models.len()),
        big_model = %big,
        small_model = %small,
        "serving"
    );
    connections::serve(listener, app, client_timeout, shutdown_signal()).await;
    catalog.abort();
    reloads.abort();
    upkeep.abort();
    pool.maintain().await;
    flush_usage(&telemetry).await;
    telemetry.shutdown_traces().await;
    tracing::info!("gemini-gateway stopped");
    Ok(())
}

/// The background upkeep, once a second: the pool's (counter flushes, Redis sync and
/// reconnects), the usage book's flush, the project groups' own caps, and the alerts' watch
/// (the error rate once a minute).
async fn upkeep(pool: Arc<KeyPool>, telemetry: Arc<Telemetry>, caps: Arc<spend_caps::SpendCaps>) {
    let mut tick = tokio::time::interval(UPKEEP_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ticks: u64 = 0;
    loop {
        tick.tick().await;
        pool.maintain().await;
        flush_usage(&telemetry).await;
        caps.enforce(&pool, &telemetry).await;
        pool_alerts::watch(&pool, &telemetry);
        ticks += 1;
        if ticks % 60 == 0 {
            if let Some(a) = telemetry.alerts() {
                a.close_minute();
            }
        }
    }
}

/// Flushes the usage book; a store that fails keeps the deltas for the next flush.
async fn flush_usage(telemetry: &Telemetry) {
    if let Err(e) = telemetry.usage.flush().await {
        tracing::debug!(error = %e, "usage not flushed; kept for the next try");
    }
}

/// How long startup waits for the first reading of the model catalog when none is stored.
const CATALOG_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// How often a gateway looks for a catalog another gateway read (with a shared store), and
/// whether its own is due.
const CATALOG_POLL: std::time::Duration = std::time::Duration::from_secs(30);

/// How often the pool syncs with its backend.
pub const UPKEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {0}: {1} (set HOST/PORT)")]
    Bind(SocketAddr, std::io::Error),
    #[error("cannot build the upstream HTTP client: {0}")]
    Client(crate::upstream::ClientError),
    #[error("{0}")]
    Store(StoreError),
    #[error("{0} (OTEL_EXPORTER_OTLP_ENDPOINT)")]
    Traces(crate::telemetry::trace::TraceSetupError),
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
