//! Gemini's stored resources through the native surface: files (uploads in [`uploads`]),
//! context caches, batches and interactions. Every call goes through dispatch like a model
//! call, placed on the keys of the project that owns what it names (see `crate::resources`);
//! whatever an answer creates is written in the owners' book with the key that answered. Lists
//! merge every project's pages into one ([`listing`]).
//!
//! Routes, under `v1beta`, `v1alpha` and `v1` (google-genai's default now):
//! * `GET /files`, `GET|DELETE /files/{id}`, `GET /files/{id}:download` (also under
//!   `/download/…`), `POST /upload/…/files` (resumable and multipart);
//! * `GET|POST /cachedContents`, `GET|PATCH|DELETE /cachedContents/{id}`;
//! * `GET /batches`, `GET|DELETE /batches/{id}`, `POST /batches/{id}:cancel` (batches are made
//!   by `models/{model}:batchGenerateContent`, a model call);
//! * `POST /interactions` (streamed or not), `GET|DELETE /interactions/{id}` (`?stream=true`
//!   resumes a stream), `POST /interactions/{id}/cancel`.

mod learn;
mod listing;
mod uploads;

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures_util::StreamExt;
use serde::Deserialize;

use super::errors::{Code, GoogleError};
use super::query::forwarded_query;
use super::routes::clip;
use crate::dispatch::{DispatchError, Route};
use crate::resources::{self, names, Kind, Misplaced, Placed, ResourceName};
use crate::surfaces::{read_body, Context, Dialect, Tallied};
use crate::upstream::{Extra, UpstreamRequest};
pub use learn::learn_from;

/// Request headers a resource call passes on (the Interactions API's schema revision).
const FORWARDED_HEADERS: [&str; 1] = ["api-revision"];

/// The stored resources' routes under one API version.
pub fn routes(version: &'static str) -> Router<Context> {
    let one = move |kind: Kind| {
        move |State(ctx): State<Context>,
              method: Method,
              uri: Uri,
              headers: HeaderMap,
              Tallied(tally): Tallied,
              Path(id): Path<String>,
              body: Result<Bytes, BytesRejection>| async move {
            let call = Call::new(&ctx, version, kind, (&uri, &headers), tally);
            call.on_one(method, &id, "", body).await
        }
    };
    let collection = move |kind: Kind| {
        move |State(ctx): State<Context>,
              method: Method,
              uri: Uri,
              headers: HeaderMap,
              Tallied(tally): Tallied,
              body: Result<Bytes, BytesRejection>| async move {
            let call = Call::new(&ctx, version, kind, (&uri, &headers), tally);
            if method == Method::GET {
                listing::list(&call).await
            } else {
                call.create(body).await
            }
        }
    };
    let cancel = move |State(ctx): State<Context>,
                       uri: Uri,
                       headers: HeaderMap,
                       Tallied(tally): Tallied,
                       Path(id): Path<String>,
                       body: Result<Bytes, BytesRejection>| async move {
        let call = Call::new(&ctx, version, Kind::Interaction, (&uri, &headers), tally);
        call.on_one(Method::POST, &id, "/cancel", body).await
    };
    let v = version;
    Router::new()
        .route(&format!("/{v}/files"), get(collection(Kind::File)))
        .route(
            &format!("/{v}/files/{{id}}"),
            get(one(Kind::File)).delete(one(Kind::File)),
        )
        .route(&format!("/download/{v}/files/{{id}}"), get(one(Kind::File)))
        .route(
            &format!("/{v}/cachedContents"),
            get(collection(Kind::Cache)).post(collection(Kind::Cache)),
        )
        .route(
            &format!("/{v}/cachedContents/{{id}}"),
            get(one(Kind::Cache))
                .patch(one(Kind::Cache))
                .delete(one(Kind::Cache)),
        )
        .route(&format!("/{v}/batches"), get(collection(Kind::Batch)))
        .route(
            &format!("/{v}/batches/{{id}}"),
            get(one(Kind::Batch))
                .delete(one(Kind::Batch))
                .post(one(Kind::Batch)),
        )
        .route(
            &format!("/{v}/interactions"),
            post(collection(Kind::Interaction)),
        )
        .route(
            &format!("/{v}/interactions/{{id}}"),
            get(one(Kind::Interaction)).delete(one(Kind::Interaction)),
        )
        .route(&format!("/{v}/interactions/{{id}}/cancel"), post(cancel))
        .route(
            &format!("/upload/{v}/files"),
            post(move |state, uri, headers, tally, keyless, body| {
                uploads::upload(state, uri, headers, tally, keyless, body, version)
            }),
        )
}

/// One call about stored resources, as the client made it.
pub(super) struct Call<'a> {
    pub ctx: &'a Context,
    pub version: &'static str,
    pub kind: Kind,
    pub uri: &'a Uri,
    pub headers: &'a HeaderMap,
    pub tally: Option<crate::telemetry::TallyRef>,
}

/// The few fields of a creating body the gateway reads: the model it runs on, whether it
/// streams.
#[derive(Deserialize, Default)]
struct Creating {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    stream: Option<bool>,
}

impl<'a> Call<'a> {
    pub fn new(
        ctx: &'a Context,
        version: &'static str,
        kind: Kind,
        (uri, headers): (&'a Uri, &'a HeaderMap),
        tally: Option<crate::telemetry::TallyRef>,
    ) -> Call<'a> {
        Call {
            ctx,
            version,
            kind,
            uri,
            headers,
            tally,
        }
    }

    /// `GET`, `PATCH`, `DELETE` or a verb (`:cancel`, `/cancel`) on one resource.
    async fn on_one(
        &self,
        method: Method,
        id_and_verb: &str,
        suffix: &str,
        body: Result<Bytes, BytesRejection>,
    ) -> Response {
        let body = match read_body::<GoogleError>(body, self.ctx.config.max_body_bytes) {
            Ok(b) => b,
            Err(resp) => return *resp,
        };
        let (id, verb) = match id_and_verb.split_once(':') {
            Some((id, verb)) => (id, Some(verb)),
            None => (id_and_verb, None),
        };
        let Some(name) = ResourceName::parse(&format!("{}/{id}", self.kind.collection())) else {
            return GoogleError::new(
                Code::InvalidArgument,
                format!("Invalid {} name: {}", self.kind.noun(), clip(id_and_verb)),
            )
            .into_response();
        };
        if verb.is_some_and(|v| v.is_empty() || !v.bytes().all(|b| b.is_ascii_alphanumeric())) {
            return GoogleError::new(Code::NotFound, format!("Unknown method for {name}."))
                .into_response();
        }
        let prefix = if self.uri.path().starts_with("/download/") {
            "/download"
        } else {
            ""
        };
        let path = format!(
            "{prefix}/{}/{}/{id_and_verb}{suffix}{}",
            self.version,
            self.kind.collection(),
            forwarded_query(self.uri)
        );
        let mut names = vec![name.clone()];
        names.extend(names::in_body(&body).into_iter().filter(|n| *n != name));
        let req = self.request(method.clone(), path, body);
        let streams = self.kind == Kind::Interaction
            && method == Method::GET
            && self
                .uri
                .query()
                .is_some_and(|q| q.split('&').any(|p| p == "stream=true"));
        let forget = (method == Method::DELETE).then_some(&name);
        self.send(Route::resources(), req, &names, streams, forget)
            .await
    }

    /// `POST` to a collection: a cache or an interaction is made.
    async fn create(&self, body: Result<Bytes, BytesRejection>) -> Response {
        let body = match read_body::<GoogleError>(body, self.ctx.config.max_body_bytes) {
            Ok(b) => b,
            Err(resp) => return *resp,
        };
        if let Err(e) = super::check_json_body(&body) {
            return GoogleError::new(Code::InvalidArgument, e.to_string()).into_response();
        }
        let creating: Creating = serde_json::from_slice(&body).unwrap_or_default();
        let route = match creating
            .model
            .as_deref()
            .map(|m| m.strip_prefix("models/").unwrap_or(m))
            .filter(|m| crate::models::names::is_plain(m))
        {
            Some(model) => Route::model(model),
            None => Route::resources(),
        };
        let path = format!(
            "/{}/{}{}",
            self.version,
            self.kind.collection(),
            forwarded_query(self.uri)
        );
        let names = names::in_body(&body);
        let streams = creating.stream == Some(true);
        let req = self.request(Method::POST, path, body);
        self.send(route, req, &names, streams, None).await
    }

    /// The upstream request, with the headers a resource call passes on.
    fn request(&self, method: Method, path_and_query: String, body: Bytes) -> UpstreamRequest {
        let headers: Vec<_> = FORWARDED_HEADERS
            .iter()
            .filter_map(|h| {
                let v = self.headers.get(*h)?;
                Some((axum::http::HeaderName::from_static(h), v.clone()))
            })
            .collect();
        UpstreamRequest {
            method,
            path_and_query,
            body: (!body.is_empty()).then_some(body),
            extra: (!headers.is_empty()).then(|| {
                Box::new(Extra {
                    headers,
                    ..Extra::default()
                })
            }),
        }
    }

    /// Sends `req`, placed on the owner of what `names` name; writes down what the answer
    /// makes; forgets `forget` once deleted.
    async fn send(
        &self,
        route: Route,
        req: UpstreamRequest,
        names: &[ResourceName],
        streams: bool,
        forget: Option<&ResourceName>,
    ) -> Response {
        let placed = match place(self.ctx, names).await {
            Ok(p) => p,
            Err(resp) => return *resp,
        };
        let route = route
            .with_tally(self.tally.clone())
            .placed(placed.as_ref().map(|p| p.placement.clone()));
        let dispatcher = &self.ctx.dispatcher;
        if streams {
            return match dispatcher.stream(&route, &req).await {
                Ok(s) => {
                    let owners = self.ctx.owners.clone();
                    let pool = dispatcher.pool().clone();
                    let whole = futures_util::stream::once(async move { Ok(s.first) })
                        .chain(s.rest)
                        .boxed();
                    let body = learn::tap_stream(whole, owners, pool, s.lease.clone(), self.kind)
                        .map(|r| r.map_err(std::io::Error::other));
                    passthrough(
                        s.status,
                        s.content_type,
                        Vec::new(),
                        Body::from_stream(body),
                    )
                }
                Err(e) => refused(self.ctx, placed.as_ref(), route.name(), e),
            };
        }
        match dispatcher.unary(&route, &req).await {
            Ok(answer) => {
                learn_from(self.ctx, &answer, self.kind).await;
                if let Some(name) = forget {
                    self.ctx.owners.forget(name).await;
                }
                passthrough(
                    answer.status,
                    answer.content_type,
                    answer.headers,
                    Body::from(answer.body),
                )
            }
            Err(e) => refused(self.ctx, placed.as_ref(), route.name(), e),
        }
    }
}

/// The keys a request naming `names` may go to (`None`: any), or the answer refusing it.
pub async fn place(ctx: &Context, names: &[ResourceName]) -> Result<Option<Placed>, Box<Response>> {
    if names.is_empty() {
        return Ok(None);
    }
    let pool = ctx.dispatcher.pool();
    resources::place(&ctx.owners, pool, names)
        .await
        .map_err(|m| Box::new(misplaced(&m).into_response()))
}

/// A request that cannot be placed, in Google's words: two projects is the request's fault
/// (400); a resource gone with its key is not there any more (404).
pub fn misplaced(m: &Misplaced) -> GoogleError {
    let code = match m {
        Misplaced::TwoProjects { .. } => Code::InvalidArgument,
        Misplaced::Gone { .. } => Code::NotFound,
    };
    GoogleError::new(code, m.message())
}

/// Dispatch's refusal; for a placed request, naming whose keys could not serve — or, when its
/// owner's keys were disabled on the way, that the resource went with them.
pub fn refused(ctx: &Context, placed: Option<&Placed>, scope: &str, e: DispatchError) -> Response {
    if let Some(p) = placed {
        let keys = ctx
            .dispatcher
            .pool()
            .owner_keys(&p.owner.key, p.owner.project.as_deref());
        if keys.keys.is_empty() {
            let gone = Misplaced::Gone {
                name: p.about.clone(),
                why: keys.owner_gone.unwrap_or_default(),
            };
            return misplaced(&gone).into_response();
        }
    }
    let what = match placed {
        Some(p) => format!(
            "{} (the {} {} belongs to {}; only its keys can use it)",
            scope,
            p.about.kind().noun(),
            p.about,
            p.owner.project_label()
        ),
        None => scope.to_string(),
    };
    GoogleError::from_dispatch(&what, e).into_response()
}

/// Gemini's answer as it came: status, content type, the headers passed back, body.
pub fn passthrough(
    status: StatusCode,
    content_type: Option<axum::http::HeaderValue>,
    headers: Vec<(axum::http::HeaderName, axum::http::HeaderValue)>,
    body: Body,
) -> Response {
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    let ct = content_type
        .unwrap_or_else(|| axum::http::HeaderValue::from_static("application/json; charset=UTF-8"));
    resp.headers_mut()
        .insert(axum::http::header::CONTENT_TYPE, ct);
    for (name, value) in headers {
        resp.headers_mut().append(name, value);
    }
    resp
}
