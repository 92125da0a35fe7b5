//! The Gemini API surface: routing of `/{v1,v1beta,v1alpha}/models...`, authentication, the
//! model as that API version and the key's tier see it, scripted rules, billing caps, body
//! parsing and validation, and the answer — in the order the real service
//! applies them (key first, then model, then quota/availability, then the body).
//! Every request is recorded in the server's log with the status it got.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State as AxumState};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use serde_json::{json, Map, Value};

use crate::descriptors::{
    BATCH_EMBED_CONTENTS_BODY, COUNT_TOKENS_BODY, EMBED_CONTENT_BODY, GENERATE_CONTENT_BODY,
};
use crate::embed::{embed_batch, embed_one};
use crate::errors::{html_not_found, json_response, ApiError, Violation};
use crate::model::{plan, prefill, prompt_tokens};
use crate::models_catalog::{find_visible, list_page, ModelInfo};
use crate::ordered::Json;
use crate::proto;
use crate::quota::wall_ms;
use crate::request::{
    authenticate, check_params, credentials, param, pretty, query_params, MAX_BODY,
};
use crate::resources::ResourceUse;
use crate::respond::{full_response, malformed_function_call, stream_events, strip_finish};
use crate::script::{Behaviour, CallKind};
use crate::sse::{frames, streaming_response, Ending, Framing};
use crate::state::{lock, Entry, State};
use crate::validate::{check_count_tokens, check_generate};

#[derive(Debug, Clone)]
enum Route {
    List {
        version: String,
    },
    Get {
        version: String,
        model: String,
    },
    Call {
        version: String,
        model: String,
        kind: CallKind,
    },
    Unknown,
}

impl Route {
    fn parse(method: &Method, path: &str) -> Route {
        let path = path.replace("%3A", ":").replace("%3a", ":");
        let mut segments = path.trim_start_matches('/').splitn(3, '/');
        let (Some(version), Some("models")) = (segments.next(), segments.next()) else {
            return Route::Unknown;
        };
        if !matches!(version, "v1" | "v1beta" | "v1alpha") {
            return Route::Unknown;
        }
        let version = version.to_owned();
        let rest = segments.next().unwrap_or("");
        if rest.contains('/') {
            return Route::Unknown;
        }
        match (method, rest.split_once(':')) {
            (&Method::GET, None) if rest.is_empty() => Route::List { version },
            (&Method::GET, None) => Route::Get {
                version,
                model: rest.to_owned(),
            },
            (&Method::POST, Some((model, action))) if !model.is_empty() => {
                let kind = match action {
                    "generateContent" => CallKind::Generate,
                    "streamGenerateContent" => CallKind::Stream,
                    "countTokens" => CallKind::CountTokens,
                    "embedContent" => CallKind::Embed,
                    "batchEmbedContents" => CallKind::BatchEmbed,
                    _ => return Route::Unknown,
                };
                Route::Call {
                    version,
                    model: model.to_owned(),
                    kind,
                }
            }
            _ => Route::Unknown,
        }
    }

    fn model(&self) -> Option<String> {
        match self {
            Route::Get { model, .. } | Route::Call { model, .. } => Some(model.clone()),
            _ => None,
        }
    }

    fn action(&self) -> Option<String> {
        let action = match self {
            Route::List { .. } => "list",
            Route::Get { .. } => "get",
            Route::Call {
                kind: CallKind::Generate,
                ..
            } => "generateContent",
            Route::Call {
                kind: CallKind::Stream,
                ..
            } => "streamGenerateContent",
            Route::Call {
                kind: CallKind::Embed,
                ..
            } => "embedContent",
            Route::Call {
                kind: CallKind::BatchEmbed,
                ..
            } => "batchEmbedContents",
            Route::Call { .. } => "countTokens",
            Route::Unknown => return None,
        };
        Some(action.to_owned())
    }
}

/// What to send once the request is recorded.
enum Answer {
    Now(Response),
    Hang,
    /// The connection drops before an answer.
    Disconnect,
}

struct Call<'a> {
    state: &'a Arc<State>,
    path: &'a str,
    params: &'a [(String, String)],
    headers: &'a HeaderMap,
    api_key: Option<&'a str>,
    body: &'a Bytes,
    extra_delay: Duration,
}

/// The fallback handler: everything that is not the control API.
pub async fn handle(AxumState(state): AxumState<Arc<State>>, request: Request) -> Response {
    if let Some(route) = crate::resources::ResourceRoute::parse(request.method(), request.uri()) {
        return crate::resources::handle(state, route, request).await;
    }
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().map(str::to_owned);
    let params = query_params(&parts.uri);
    let (api_key, key_in_query) = credentials(&parts.headers, &params);
    let route = Route::parse(&parts.method, &path);
    let (body, too_large) = match to_bytes(body, MAX_BODY + 1).await {
        Ok(bytes) if bytes.len() > MAX_BODY => (Bytes::new(), true),
        Ok(bytes) => (bytes, false),
        Err(_) => (Bytes::new(), true),
    };
    let mut call = Call {
        state: &state,
        path: &path,
        params: &params,
        headers: &parts.headers,
        api_key: api_key.as_deref(),
        body: &body,
        extra_delay: Duration::ZERO,
    };
    let answer = if too_large {
        let error = ApiError::invalid_argument(format!(
            "Request payload size exceeds the limit: {MAX_BODY} bytes."
        ));
        Answer::Now(error.into_response_for(&route, &params))
    } else {
        call.answer(&route)
    };
    let status = match &answer {
        Answer::Now(response) => response.status().as_u16(),
        Answer::Hang | Answer::Disconnect => 0,
    };
    let extra_delay = call.extra_delay;
    state.record(Entry {
        method: parts.method.to_string(),
        path,
        query,
        api_key,
        key_in_query,
        model: route.model(),
        action: route.action(),
        body,
        status,
        http_version: parts.version,
    });
    if route.action().is_some() && !state.sleep(state.response_delay + extra_delay).await {
        return ApiError::unavailable().into_response_for(&route, &params);
    }
    match answer {
        Answer::Now(response) => response,
        Answer::Hang => {
            state.until_shutdown().await;
            let body = Body::from_stream(futures_util::stream::once(async {
                Err::<Bytes, _>(std::io::Error::other("mock-gemini shut down"))
            }));
            Response::new(body)
        }
        Answer::Disconnect => {
            let body = Body::from_stream(futures_util::stream::once(async {
                Err::<Bytes, _>(std::io::Error::other("mock-gemini dropped the connection"))
            }));
            Response::new(body)
        }
    }
}

impl ApiError {
    fn into_response_for(self, route: &Route, params: &[(String, String)]) -> Response {
        let wrap = matches!(
            route,
            Route::Call {
                kind: CallKind::Stream,
                ..
            }
        ) && !is_sse(params);
        self.to_response(wrap, pretty(params))
    }
}

fn is_sse(params: &[(String, String)]) -> bool {
    param(params, "alt").or_else(|| param(params, "$alt")) == Some("sse")
}

impl Call<'_> {
    fn answer(&mut self, route: &Route) -> Answer {
        match self.checked(route) {
            Ok(answer) => answer,
            Err(error) => Answer::Now(error.into_response_for(route, self.params)),
        }
    }

    fn checked(&mut self, route: &Route) -> Result<Answer, ApiError> {
        let (version, model_name, kind) = match route {
            Route::Unknown => return Ok(Answer::Now(html_not_found(self.path))),
            Route::List { version } => (version, None, CallKind::Metadata),
            Route::Get { version, model } => (version, Some(model.as_str()), CallKind::Metadata),
            Route::Call {
                version,
                model,
                kind,
            } => (version, Some(model.as_str()), *kind),
        };
        let key = self.authenticate()?.to_owned();
        let paid = lock(&self.state.quotas).paid(&key);
        let model = match model_name {
            Some(name) => {
                let method = match kind {
                    CallKind::Metadata => "get",
                    CallKind::CountTokens => "countTokens",
                    CallKind::Embed => "embedContent",
                    CallKind::BatchEmbed => "batchEmbedContents",
                    _ => "generateContent",
                };
                let embeds = matches!(kind, CallKind::Embed | CallKind::BatchEmbed);
                let found = find_visible(name, version, paid)
                    .filter(|m| kind == CallKind::Metadata || m.generates != embeds);
                Some(found.ok_or_else(|| ApiError::model_not_found(name, version, method))?)
            }
            None => None,
        };
        let behaviour = lock(&self.state.rules).take(&key, model.map(|m| m.id), kind, self.body);
        let mut ending = Ending::Clean;
        let mut keep_events = None;
        let mut malformed = false;
        let mut downgraded = false;
        match behaviour {
            None | Some(Behaviour::Ok) => {}
            Some(Behaviour::ServedAtStandard) => downgraded = true,
            Some(Behaviour::MalformedFunctionCall) => malformed = true,
            Some(Behaviour::RateLimitPerMinute { retry_delay }) => {
                return Err(ApiError::rate_limit_per_minute(
                    model_id(model),
                    &retry_delay,
                ))
            }
            Some(Behaviour::RateLimitPerDay) => {
                return Err(ApiError::rate_limit_per_day(model_id(model)))
            }
            Some(Behaviour::RateLimitBare) => return Err(ApiError::rate_limit_bare()),
            Some(Behaviour::NoQuotaInMessage { retry_delay }) => {
                return Err(ApiError::no_quota_in_message(model_id(model), &retry_delay))
            }
            Some(Behaviour::SpendCapMonthly) => return Err(ApiError::spend_cap_monthly()),
            Some(Behaviour::ProjectSpendCap) => return Err(ApiError::project_spend_cap()),
            Some(Behaviour::PrepaymentDepleted) => return Err(ApiError::prepayment_depleted()),
            Some(Behaviour::SpendBasedLimit { retry_delay }) => {
                return Err(ApiError::spend_based_limit(&retry_delay))
            }
            Some(Behaviour::KeyInvalid) => return Err(ApiError::key_invalid()),
            Some(Behaviour::Suspended) => return Err(ApiError::suspended(&key)),
            Some(Behaviour::Unavailable) => return Err(ApiError::unavailable()),
            Some(Behaviour::Internal) => return Err(ApiError::internal()),
            Some(Behaviour::Hang) => return Ok(Answer::Hang),
            Some(Behaviour::Disconnect { .. }) => return Ok(Answer::Disconnect),
            Some(Behaviour::ModelNotFound) => {
                let name = model.map_or("", |m| m.id);
                return Err(ApiError::model_not_found(name, version, "generateContent"));
            }
            Some(Behaviour::Delay { ms }) => self.extra_delay = Duration::from_millis(ms),
            Some(Behaviour::StreamBreak { after_chunks }) => {
                ending = Ending::Abort;
                keep_events = Some(after_chunks);
            }
            Some(Behaviour::StreamNoFinish { after_chunks }) => keep_events = Some(after_chunks),
        }
        if kind != CallKind::Metadata && lock(&self.state.quotas).spend_capped(&key) {
            return Err(ApiError::spend_cap_monthly());
        }
        self.check_query(kind)?;
        let pretty = pretty(self.params);
        let Some(model) = model else {
            let size = param(self.params, "pageSize").and_then(|s| s.parse().ok());
            let page = list_page(version, paid, size, param(self.params, "pageToken"));
            return Ok(Answer::Now(json_response(StatusCode::OK, &page, pretty)));
        };
        if kind == CallKind::Metadata {
            return Ok(Answer::Now(json_response(
                StatusCode::OK,
                &model.resource(),
                pretty,
            )));
        }
        let body = self.parse_body(kind)?;
        // A `-latest` alias is answered by its target: its rules, its `modelVersion`. Rules and
        // quotas stay keyed by the id the client asked for.
        let serving = model.serving();
        if matches!(kind, CallKind::Embed | CallKind::BatchEmbed) {
            let (answer, requests) = if kind == CallKind::Embed {
                (embed_one(&body, model.id)?, 1)
            } else {
                let answer = embed_batch(&body, model.id)?;
                let n = answer["embeddings"].as_array().map_or(1, Vec::len) as u64;
                (answer, n)
            };
            let tokens = prompt_tokens(&body).max(requests);
            lock(&self.state.quotas).admit(&key, model.id, tokens, Instant::now(), wall_ms())?;
            return Ok(Answer::Now(json_response(StatusCode::OK, &answer, pretty)));
        }
        if kind == CallKind::CountTokens {
            check_count_tokens(&body, serving)?;
            let inner = body
                .get("generateContentRequest")
                .and_then(Value::as_object)
                .unwrap_or(&body);
            let uses = ResourceUse::check(self.state, &key, model, inner)?;
            let counted = prompt_tokens(inner) + uses.explicit_tokens();
            let mut answer = json!({
                "totalTokens": counted,
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": counted}],
            });
            uses.annotate_count(&mut answer);
            return Ok(Answer::Now(json_response(StatusCode::OK, &answer, pretty)));
        }
        check_generate(&body, serving, Some(&lock(&self.state.signatures)))?;
        let mut uses = ResourceUse::check(self.state, &key, model, &body)?;
        let prompt = prompt_tokens(&body) + uses.explicit_tokens();
        if prompt > u64::from(serving.input_limit) {
            return Err(ApiError::invalid_argument(format!(
                "The input token count ({prompt}) exceeds the maximum number of tokens allowed ({}).",
                serving.input_limit
            )));
        }
        if prefill(&body).is_some() && !serving.accepts_prefill() {
            return Err(if serving.is_gemini4() {
                ApiError::prefill_refused()
            } else {
                ApiError::invalid_argument("Requests ending with a model turn are not supported.")
            });
        }
        lock(&self.state.quotas).admit(&key, model.id, prompt, Instant::now(), wall_ms())?;
        uses.remember_implicit(self.state, &key, serving, &body, prompt);
        let mut plan = plan(&uses.planned(&body), serving);
        plan.prompt_tokens = prompt;
        if let Some(turn) = prefill(&body) {
            plan = plan.continued(turn);
        }
        // The tier served, as Google's `x-gemini-service-tier` tells it (the one asked for).
        let tier = body
            .get("serviceTier")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
            .filter(|t| t != "unspecified")
            .map(|t| {
                if downgraded {
                    "standard".to_string()
                } else {
                    t
                }
            });
        if kind == CallKind::Generate {
            let mut response = if malformed {
                malformed_function_call(&plan, serving, self.state)
            } else {
                full_response(&plan, serving, self.state)
            };
            uses.annotate(&mut response);
            let answer = json_response(StatusCode::OK, &response, pretty);
            return Ok(Answer::Now(with_tier(answer, tier)));
        }
        let mut events = if malformed {
            vec![malformed_function_call(&plan, serving, self.state)]
        } else {
            stream_events(&plan, serving, self.state)
        };
        events.iter_mut().for_each(|event| uses.annotate(event));
        if let Some(keep) = keep_events {
            events.truncate(keep);
            strip_finish(&mut events);
        }
        let framing = if is_sse(self.params) {
            Framing::Sse
        } else {
            Framing::JsonArray { pretty }
        };
        let frames = frames(&events, framing, ending);
        Ok(Answer::Now(with_tier(
            streaming_response(frames, framing, ending, self.state.clone()),
            tier,
        )))
    }

    /// The API key, or Google's answer for a missing or malformed one.
    fn authenticate(&self) -> Result<&str, ApiError> {
        authenticate(self.api_key, self.headers)
    }

    /// Unknown query parameters cannot be bound to the request message.
    fn check_query(&self, kind: CallKind) -> Result<(), ApiError> {
        let own: &[&str] = if kind == CallKind::Metadata {
            &["pageSize", "pageToken"]
        } else {
            &[]
        };
        check_params(self.params, own)
    }

    /// Parses the body as proto JSON and returns the normalised message.
    fn parse_body(&self, kind: CallKind) -> Result<Map<String, Value>, ApiError> {
        let raw: Json = if self.body.iter().all(u8::is_ascii_whitespace) {
            Json::Object(Vec::new())
        } else {
            serde_json::from_slice(self.body).map_err(|e| syntax_error(self.body, &e))?
        };
        let descriptor = match kind {
            CallKind::CountTokens => &COUNT_TOKENS_BODY,
            CallKind::Embed => &EMBED_CONTENT_BODY,
            CallKind::BatchEmbed => &BATCH_EMBED_CONTENTS_BODY,
            _ => &GENERATE_CONTENT_BODY,
        };
        let (normalised, violations) = proto::parse(&raw, descriptor);
        if !violations.is_empty() {
            return Err(ApiError::bad_request(&violations));
        }
        match normalised {
            Value::Object(map) => Ok(map),
            _ => Ok(Map::new()),
        }
    }
}

fn model_id(model: Option<&ModelInfo>) -> &str {
    model.map_or("", |m| m.id)
}

/// `Invalid JSON payload received. Unexpected token.` with the offending line and a caret.
fn syntax_error(body: &[u8], error: &serde_json::Error) -> ApiError {
    let text = String::from_utf8_lossy(body);
    let line = text
        .lines()
        .nth(error.line().saturating_sub(1))
        .unwrap_or_default();
    let column = error.column().saturating_sub(1);
    let start = column.saturating_sub(40);
    let excerpt: String = line.chars().skip(start).take(80).collect();
    let caret = format!("{}^", " ".repeat(column - start));
    let what = if error.is_eof() {
        "Unexpected end of string."
    } else {
        "Unexpected token."
    };
    ApiError::bad_request(&[Violation {
        field: None,
        description: format!("Invalid JSON payload received. {what}\n{excerpt}\n{caret}"),
    }])
}

/// The answer with `x-gemini-service-tier` naming the tier served, when one was asked for.
fn with_tier(mut answer: Response, tier: Option<String>) -> Response {
    if let Some(v) = tier.and_then(|t| axum::http::HeaderValue::from_str(&t).ok()) {
        answer.headers_mut().insert("x-gemini-service-tier", v);
    }
    answer
}
