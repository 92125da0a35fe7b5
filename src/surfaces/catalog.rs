//! `GET /v1/models` and `GET /v1/models/{id}`: one path every kind of client asks for its
//! model list, answered in the shape of the API the caller speaks. The rule, in order:
//!
//! 1. an `anthropic-version` header (every Anthropic SDK and Claude Code send one) → Anthropic's
//!    list (`data`, `has_more`, `first_id`, `last_id`);
//! 2. an `x-goog-api-key` header or a `key=` query parameter → Gemini's own list;
//! 3. `Authorization: Bearer …` (the OpenAI SDKs, Codex) → OpenAI's list (`object: "list"`);
//! 4. anything else (no credential at all) → Gemini's list, as the seed answered.
//!
//! Errors, the client-key refusal included, follow the same rule. Under `/v1beta/models` the
//! list is always Gemini's, under `/v1beta/openai/models` always OpenAI's.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::anthropic::{claude_tier, models as anthropic_models, ApiError, ErrorType};
use super::gemini::{self, GoogleError};
use super::openai::{self, OpenAiError};
use super::shared::serving::mark;
use super::{listing, Context, Dialect, Surface};
use crate::dispatch::{DispatchError, Route};

/// Which API a caller speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    Anthropic,
    Google,
    OpenAi,
}

/// The caller's API, by the rule above.
pub fn caller(headers: &HeaderMap, uri: &Uri) -> Caller {
    if headers.contains_key("anthropic-version") {
        return Caller::Anthropic;
    }
    let key_param = uri
        .query()
        .is_some_and(|q| q.split('&').any(|p| p.starts_with("key=")));
    if headers.contains_key("x-goog-api-key") || key_param {
        return Caller::Google;
    }
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("bearer "));
    if bearer {
        Caller::OpenAi
    } else {
        Caller::Google
    }
}

/// The catalog's errors: in the caller's dialect.
pub enum CatalogError {
    Anthropic(ApiError),
    Google(GoogleError),
    OpenAi(OpenAiError),
}

impl IntoResponse for CatalogError {
    fn into_response(self) -> Response {
        match self {
            CatalogError::Anthropic(e) => e.into_response(),
            CatalogError::Google(e) => e.into_response(),
            CatalogError::OpenAi(e) => e.into_response(),
        }
    }
}

impl Dialect for CatalogError {
    fn unauthenticated(message: &str) -> Self {
        CatalogError::Google(GoogleError::unauthenticated(message))
    }

    fn unauthenticated_for(headers: &HeaderMap, uri: &Uri, message: &str) -> Self {
        match caller(headers, uri) {
            Caller::Anthropic => CatalogError::Anthropic(ApiError::unauthenticated(message)),
            Caller::Google => CatalogError::Google(GoogleError::unauthenticated(message)),
            Caller::OpenAi => CatalogError::OpenAi(OpenAiError::unauthenticated(message)),
        }
    }

    fn too_large(max_body_bytes: usize) -> Self {
        CatalogError::Google(GoogleError::too_large(max_body_bytes))
    }

    fn unreadable_body(detail: &str) -> Self {
        CatalogError::Google(GoogleError::unreadable_body(detail))
    }

    fn from_dispatch(model: &str, e: DispatchError) -> Self {
        CatalogError::Google(GoogleError::from_dispatch(model, e))
    }

    fn unknown_model(why: &crate::models::Unresolved) -> Self {
        CatalogError::Google(GoogleError::unknown_model(why))
    }
}

/// The shared model catalog.
pub struct Catalog;

impl Surface for Catalog {
    type Dialect = CatalogError;
    const NAME: &'static str = "models";

    fn routes(ctx: &Context) -> Router {
        Router::new()
            .route("/v1/models", get(list))
            .route("/v1/models/{name}", get(one))
            .with_state(ctx.clone())
    }
}

async fn list(State(ctx): State<Context>, headers: HeaderMap, uri: Uri) -> Response {
    match caller(&headers, &uri) {
        Caller::Google => gemini::list_models(&ctx, &uri, "v1").await,
        Caller::OpenAi => openai::models_list(&ctx.dispatcher, &ctx.models).await,
        Caller::Anthropic => anthropic_list(&ctx, &uri).await,
    }
}

async fn one(
    State(ctx): State<Context>,
    headers: HeaderMap,
    uri: Uri,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let who = caller(&headers, &uri);
    let id = match id {
        Ok(Path(id)) => id,
        Err(e) => {
            return match who {
                Caller::Google => gemini::path_error(&e),
                Caller::OpenAi => OpenAiError::invalid(e.body_text()).into_response(),
                Caller::Anthropic => {
                    ApiError::new(ErrorType::InvalidRequest, e.body_text()).into_response()
                }
            }
        }
    };
    match who {
        Caller::Google => gemini::get_model(&ctx, &uri, &id, "v1").await,
        Caller::OpenAi => openai::model_get(&ctx.dispatcher, &ctx.models, &id).await,
        Caller::Anthropic => anthropic_one(&ctx, &id).await,
    }
}

/// Claude Code's `/model` picker: the tiers and each live model under a `claude-` id, paged.
async fn anthropic_list(ctx: &Context, uri: &Uri) -> Response {
    let paging: anthropic_models::Paging = uri.query().and_then(paging).unwrap_or_default();
    let entries = match listing::entries(&ctx.dispatcher, &ctx.models).await {
        Ok(entries) => entries,
        Err(e) => return ApiError::from_dispatch(Route::catalog().name(), e).into_response(),
    };
    let mut served = Vec::new();
    for (id, _) in anthropic_models::TIER_IDS {
        let model = ctx.models.resolve_fresh(id, claude_tier).await.ok();
        served.push((claude_tier(id), model.map(|r| r.model.to_string())));
    }
    let listed = anthropic_models::picker(entries.iter(), |tier| {
        served
            .iter()
            .find(|(t, _)| *t == Some(tier))
            .and_then(|(_, m)| m.clone())
    });
    axum::Json(anthropic_models::page(&listed, &paging)).into_response()
}

/// `limit`, `after_id` and `before_id` from a query string (others ignored, a bad one unset).
fn paging(query: &str) -> Option<anthropic_models::Paging> {
    let mut paging = anthropic_models::Paging::default();
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "limit" => paging.limit = v.parse().ok(),
            "after_id" => paging.after_id = Some(v.into_owned()),
            "before_id" => paging.before_id = Some(v.into_owned()),
            _ => {}
        }
    }
    Some(paging)
}

async fn anthropic_one(ctx: &Context, id: &str) -> Response {
    let resolved = match anthropic_models::resolve(&ctx.models, id).await {
        Ok(resolved) => resolved,
        Err(why) => return ApiError::unknown_model(&why).into_response(),
    };
    match listing::entry(&ctx.dispatcher, &ctx.models, &resolved.model, claude_tier).await {
        Ok((_, entry)) => mark(
            axum::Json(anthropic_models::model_object(id, &entry)).into_response(),
            &resolved,
            id,
            ctx.dispatcher.telemetry(),
        ),
        Err(missing) => missing.respond::<ApiError>(&clip(id)),
    }
}

fn clip(s: &str) -> String {
    s.chars().take(100).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn the_caller_decides_the_shape() {
        let plain: Uri = "/v1/models".parse().unwrap();
        let keyed: Uri = "/v1/models?key=abc".parse().unwrap();
        let anthropic = headers(&[("anthropic-version", "2023-06-01"), ("x-api-key", "k")]);
        assert_eq!(caller(&anthropic, &plain), Caller::Anthropic);
        let bearer = headers(&[("authorization", "Bearer sk-x")]);
        assert_eq!(caller(&bearer, &plain), Caller::OpenAi);
        assert_eq!(caller(&bearer, &keyed), Caller::Google);
        let both = headers(&[("authorization", "Bearer sk-x"), ("x-goog-api-key", "g")]);
        assert_eq!(caller(&both, &plain), Caller::Google);
        assert_eq!(caller(&HeaderMap::new(), &plain), Caller::Google);
        let claude_with_bearer = headers(&[
            ("anthropic-version", "2023-06-01"),
            ("authorization", "Bearer t"),
        ]);
        assert_eq!(caller(&claude_with_bearer, &plain), Caller::Anthropic);
    }
}
