//! The gate in front of every surface, as one tower layer: a body declared over
//! `MAX_BODY_BYTES` is a 413 (`limits`), a request without a valid client key a 401 (`auth`), a
//! client over its limits refused by its limiter — each in the surface's dialect, the body read
//! away first.
//!
//! One hand-written layer rather than two `axum::middleware::from_fn`s: those clone the whole
//! route behind them and box a future for every request. Here a request that passes without
//! waiting (no client keys, or a client without limits) goes on to its route as it is; only a
//! limiter's answer or a refusal's drain is a boxed future.

use std::convert::Infallible;
use std::marker::PhantomData;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::Response;
use futures_util::future::{BoxFuture, Either};
use tower::{Layer, Service};

use super::auth::{self, Decision};
use super::gate::Gate;
use super::limits;
use crate::surfaces::Dialect;

/// Guards the routes it wraps, answering refusals in dialect `D`.
pub struct GuardLayer<D> {
    gate: Gate,
    dialect: PhantomData<fn() -> D>,
}

impl<D> GuardLayer<D> {
    pub fn new(gate: &Gate) -> GuardLayer<D> {
        GuardLayer {
            gate: gate.clone(),
            dialect: PhantomData,
        }
    }
}

impl<D> Clone for GuardLayer<D> {
    fn clone(&self) -> Self {
        GuardLayer::new(&self.gate)
    }
}

impl<S, D> Layer<S> for GuardLayer<D> {
    type Service = Guarded<S, D>;

    fn layer(&self, inner: S) -> Guarded<S, D> {
        Guarded {
            inner,
            gate: self.gate.clone(),
            dialect: PhantomData,
        }
    }
}

/// A route behind the gate.
pub struct Guarded<S, D> {
    inner: S,
    gate: Gate,
    dialect: PhantomData<fn() -> D>,
}

impl<S: Clone, D> Clone for Guarded<S, D> {
    fn clone(&self) -> Self {
        Guarded {
            inner: self.inner.clone(),
            gate: self.gate.clone(),
            dialect: PhantomData,
        }
    }
}

impl<S, D> Service<Request> for Guarded<S, D>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    D: Dialect + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<S::Future, BoxFuture<'static, Result<Response, Infallible>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        // The declared size first: an oversize body is refused whoever sends it.
        let decision = match limits::check_declared::<D>(&self.gate, req) {
            Ok(req) => auth::decide::<D>(&self.gate, req),
            Err(refusal) => Decision::Refuse(refusal),
        };
        match decision {
            Decision::Pass(req) => Either::Left(self.inner.call(req)),
            Decision::Admit(req, client) => {
                // The ready service goes with the future; a clone stays for the next call.
                let clone = self.inner.clone();
                let mut inner = std::mem::replace(&mut self.inner, clone);
                let gate = self.gate.clone();
                Either::Right(Box::pin(async move {
                    match auth::admit::<D>(&gate, req, &client).await {
                        Ok(req) => inner.call(req).await,
                        Err(refused) => Ok(refused),
                    }
                }))
            }
            Decision::Refuse(refusal) => {
                Either::Right(Box::pin(async move { Ok(refusal.send().await) }))
            }
        }
    }
}
