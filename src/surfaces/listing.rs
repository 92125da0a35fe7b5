//! The model list every surface shows, and one model of it: from the live catalog once it is
//! read (the models the pool's keys can use, under `v1beta`), else from Gemini's own list asked
//! through the pool. A surface renders the entries in its own shape.

use axum::http::Method;
use axum::response::Response;

use super::Dialect;
use crate::dispatch::{DispatchError, Dispatcher, Route};
use crate::models::catalog::Entry;
use crate::models::{Models, Resolved, Tier, Unresolved};
use crate::upstream::UpstreamRequest;

/// Why a model could not be described.
pub enum Missing {
    /// No model serves the name.
    Unknown(Unresolved),
    /// Gemini could not be asked.
    Failed(DispatchError),
}

impl Missing {
    /// The failure in dialect `D`.
    pub fn respond<D: Dialect>(self, model: &str) -> Response {
        match self {
            Missing::Unknown(why) => D::unknown_model(&why).into_response(),
            Missing::Failed(e) => D::from_dispatch(model, e).into_response(),
        }
    }
}

/// The models to list.
pub async fn entries(
    dispatcher: &Dispatcher,
    models: &Models,
) -> Result<Vec<Entry>, DispatchError> {
    if let Some(catalog) = models.catalog() {
        return Ok(catalog.listed_under("v1beta").cloned().collect());
    }
    let list = get(
        dispatcher,
        &Route::catalog(),
        "/v1beta/models?pageSize=1000",
    )
    .await?;
    Ok(list
        .get("models")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Entry::from_resource)
        .collect())
}

/// The model `id` names (a tier name by `tier`, an alias by its model), described.
pub async fn entry(
    dispatcher: &Dispatcher,
    models: &Models,
    id: &str,
    tier: impl Fn(&str) -> Option<Tier> + Copy,
) -> Result<(Resolved, Entry), Missing> {
    let resolved = models
        .resolve_fresh(id, tier)
        .await
        .map_err(Missing::Unknown)?;
    let unknown = || {
        Missing::Unknown(Unresolved::Unknown {
            name: resolved.model.to_string(),
            closest: Vec::new(),
        })
    };
    if let Some(catalog) = models.catalog() {
        let found = catalog.get(&resolved.model).cloned().ok_or_else(unknown)?;
        return Ok((resolved, found));
    }
    let path = format!("/v1beta/models/{}", resolved.model);
    let one = get(dispatcher, &Route::model(&resolved.model), &path)
        .await
        .map_err(|e| match e.status.as_u16() {
            404 => unknown(),
            _ => Missing::Failed(e),
        })?;
    let found = Entry::from_resource(&one).ok_or_else(unknown)?;
    Ok((resolved, found))
}

/// A GET through the pool, its answer as JSON (an unreadable one as `null`).
async fn get(
    dispatcher: &Dispatcher,
    route: &Route,
    path: &str,
) -> Result<serde_json::Value, DispatchError> {
    let req = UpstreamRequest {
        method: Method::GET,
        path_and_query: path.to_string(),
        body: None,
        extra: None,
    };
    let answer = dispatcher.unary(route, &req).await?;
    Ok(serde_json::from_slice(&answer.body).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "Gemini sent an unreadable model list");
        serde_json::Value::Null
    }))
}
