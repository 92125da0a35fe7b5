//! File uploads, in both of Google's protocols, streamed through and never held whole.
//!
//! * **Resumable** (the SDKs' way): `start` is a small JSON body that may fail over like any
//!   call; Google answers with a session URL (`X-Goog-Upload-URL`), which the gateway writes
//!   down (`uploads/<upload_id>` → the key that opened it) and hands back pointing at itself.
//!   Each `upload` / `upload, finalize` on that URL goes to the same key, once (its body can be
//!   sent only once), and the final answer's file is written down as that key's.
//! * **Multipart** (and `raw`): one request, streamed to one key, once.
//!
//! A file larger than `FILES_MAX_UPLOAD_BYTES` is refused when it is declared, and cut off if
//! its bytes run past it anyway.

use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use futures_util::{StreamExt, TryStreamExt};

use super::learn::{learn_from, owner_of};
use super::{misplaced, passthrough, refused, Call};
use crate::dispatch::{Placement, Route};
use crate::resources::{Kind, Misplaced, ResourceName};
use crate::server::auth::SessionIsCredential;
use crate::surfaces::gemini::errors::{Code, GoogleError};
use crate::surfaces::gemini::query::{forwarded_query, percent_decode};
use crate::surfaces::{Context, Tallied};
use crate::upstream::{Extra, StreamedBody, TransportError, UpstreamRequest};

/// The largest `start` body (a file's metadata).
const MAX_START_BODY: usize = 1024 * 1024;

/// Request headers an upload passes on.
const UPLOAD_HEADERS: [&str; 6] = [
    "x-goog-upload-protocol",
    "x-goog-upload-command",
    "x-goog-upload-offset",
    "x-goog-upload-header-content-length",
    "x-goog-upload-header-content-type",
    "content-length",
];

/// `POST /upload/{version}/files`: a resumable upload's start or one of its chunks, or a whole
/// multipart upload.
pub(super) async fn upload(
    State(ctx): State<Context>,
    uri: Uri,
    headers: HeaderMap,
    Tallied(tally): Tallied,
    keyless: Option<Extension<SessionIsCredential>>,
    body: Body,
    version: &'static str,
) -> Response {
    let keyless = keyless.is_some();
    let call = Call::new(&ctx, version, Kind::File, (&uri, &headers), tally);
    let max = ctx.config.files_max_upload_bytes;
    let declared = ["x-goog-upload-header-content-length", "content-length"]
        .iter()
        .filter_map(|h| headers.get(*h)?.to_str().ok()?.parse::<u64>().ok())
        .max();
    if declared.is_some_and(|n| n > max) {
        return too_large(max);
    }
    let session = uri
        .query()
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|p| p.strip_prefix("upload_id="))
        .map(percent_decode);
    let resumable = headers
        .get("x-goog-upload-protocol")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("resumable"));
    match session {
        Some(id) => chunk(&call, &id, body, max, keyless).await,
        None if resumable => start(&call, body).await,
        None => whole(&call, body, max).await,
    }
}

/// A resumable upload's start: any key may open it; the session is written down as its.
async fn start(call: &Call<'_>, body: Body) -> Response {
    let body = match axum::body::to_bytes(body, MAX_START_BODY).await {
        Ok(b) => b,
        Err(e) => {
            return GoogleError::new(
                Code::InvalidArgument,
                format!("The upload's metadata could not be read: {e}"),
            )
            .into_response()
        }
    };
    let mut req = UpstreamRequest::post(path(call), body);
    req.body = req.body.filter(|b| !b.is_empty());
    let mut headers = passed_on(call.headers);
    // The body's own length is the client's; the upstream request sets its own.
    headers.retain(|(name, _)| name != header::CONTENT_LENGTH);
    req.extra = Some(Box::new(Extra {
        headers,
        ..Extra::default()
    }));
    let dispatcher = &call.ctx.dispatcher;
    let route = Route::resources().with_tally(call.tally.clone());
    let mut answer = match dispatcher.unary(&route, &req).await {
        Ok(a) => a,
        Err(e) => return refused(call.ctx, None, route.name(), e),
    };
    let here = gateway_origin(call.headers, call.uri);
    for (name, value) in answer.headers.iter_mut() {
        if name.as_str() != "x-goog-upload-url" {
            continue;
        }
        let Some(google) = value.to_str().ok().map(str::to_string) else {
            continue;
        };
        let Some(path_and_query) = path_of(&google) else {
            continue;
        };
        if let Some(id) = upload_id_of(path_and_query) {
            if let Some(session) = ResourceName::parse(&format!("uploads/{id}")) {
                let owner = owner_of(dispatcher.pool(), &answer.lease, call.ctx.owners.now());
                call.ctx.owners.record(&session, owner).await;
            }
        }
        if let Ok(v) = HeaderValue::from_str(&format!("{here}{path_and_query}")) {
            *value = v;
        }
    }
    passthrough(
        answer.status,
        answer.content_type,
        answer.headers,
        Body::from(answer.body),
    )
}

/// A chunk of a resumable upload: to the key that opened the session, once. A chunk that came
/// without a client key is served only for a session this gateway handed out.
async fn chunk(call: &Call<'_>, id: &str, body: Body, max: u64, keyless: bool) -> Response {
    let pool = call.ctx.dispatcher.pool();
    let session = ResourceName::parse(&format!("uploads/{id}"));
    let owner = match &session {
        Some(s) => call.ctx.owners.lookup(s).await,
        None => None,
    };
    let keys =
        match (&owner, &session) {
            (Some(o), Some(s)) => {
                let keys = pool.owner_keys(&o.key, None);
                if keys.keys.is_empty() {
                    let gone = Misplaced::Gone {
                        name: s.clone(),
                        why: keys.owner_gone.unwrap_or_default(),
                    };
                    return misplaced(&gone).into_response();
                }
                keys.keys
            }
            _ if keyless => return GoogleError::new(
                Code::Unauthenticated,
                "This upload session is not one this gateway opened: send one of GATEWAY_API_KEYS.",
            )
            .into_response(),
            // A session this gateway never saw: Google knows it, or says it does not.
            _ => pool.live_keys().into_iter().map(|(i, _)| i).collect(),
        };
    send_streamed(call, body, max, Placement::once(keys)).await
}

/// A multipart (or raw) upload: the whole file in one request, streamed to one key.
async fn whole(call: &Call<'_>, body: Body, max: u64) -> Response {
    let keys = call
        .ctx
        .dispatcher
        .pool()
        .live_keys()
        .into_iter()
        .map(|(i, _)| i)
        .collect();
    send_streamed(call, body, max, Placement::once(keys)).await
}

/// Streams `body` upstream on the first usable key of `placement`; the file the answer names is
/// written down as that key's.
async fn send_streamed(call: &Call<'_>, body: Body, max: u64, placement: Placement) -> Response {
    let mut sent: u64 = 0;
    let counted = body
        .into_data_stream()
        .map_err(TransportError::new)
        .map(move |chunk| {
            let chunk = chunk?;
            sent += chunk.len() as u64;
            if sent > max {
                return Err(TransportError::new(format!(
                    "the file is larger than FILES_MAX_UPLOAD_BYTES ({max} bytes)"
                )));
            }
            Ok(chunk)
        })
        .boxed();
    let content_type = call
        .headers
        .get(header::CONTENT_TYPE)
        .cloned()
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let req = UpstreamRequest {
        method: axum::http::Method::POST,
        path_and_query: path(call),
        body: None,
        extra: Some(Box::new(Extra {
            headers: passed_on(call.headers),
            content_type: Some(content_type),
            streamed: Some(StreamedBody::new(counted)),
        })),
    };
    let route = Route::resources()
        .with_tally(call.tally.clone())
        .placed(Some(placement));
    match call.ctx.dispatcher.unary(&route, &req).await {
        Ok(answer) => {
            learn_from(call.ctx, &answer, Kind::File).await;
            passthrough(
                answer.status,
                answer.content_type,
                answer.headers,
                Body::from(answer.body),
            )
        }
        Err(e) => refused(call.ctx, None, "the upload", e),
    }
}

/// The upstream path: the client's, its query reduced to what may travel.
fn path(call: &Call<'_>) -> String {
    format!(
        "/upload/{}/files{}",
        call.version,
        forwarded_query(call.uri)
    )
}

/// The upload headers the client sent that go upstream.
fn passed_on(headers: &HeaderMap) -> Vec<(HeaderName, HeaderValue)> {
    UPLOAD_HEADERS
        .iter()
        .filter_map(|h| Some((HeaderName::from_static(h), headers.get(*h)?.clone())))
        .collect()
}

/// Where the client reached the gateway (`http://host:port`), as a session URL must point.
fn gateway_origin(headers: &HeaderMap, uri: &Uri) -> String {
    let text = |h: &str| headers.get(h).and_then(|v| v.to_str().ok());
    let scheme = text("x-forwarded-proto").unwrap_or("http");
    let host = text("x-forwarded-host")
        .or_else(|| text("host"))
        .or_else(|| uri.authority().map(|a| a.as_str()))
        .unwrap_or("localhost");
    format!("{scheme}://{host}")
}

/// The path and query of an absolute URL.
fn path_of(url: &str) -> Option<&str> {
    let after_scheme = &url[url.find("://")? + 3..];
    Some(&after_scheme[after_scheme.find('/')?..])
}

/// The `upload_id` of a session URL's path and query.
fn upload_id_of(path_and_query: &str) -> Option<String> {
    let (_, query) = path_and_query.split_once('?')?;
    query
        .split('&')
        .find_map(|p| p.strip_prefix("upload_id="))
        .map(percent_decode)
}

fn too_large(max: u64) -> Response {
    GoogleError::new(
        Code::InvalidArgument,
        format!(
            "The file is larger than this gateway accepts (FILES_MAX_UPLOAD_BYTES: {max} bytes)."
        ),
    )
    .with_http(axum::http::StatusCode::PAYLOAD_TOO_LARGE)
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_url_is_read_for_its_path_and_id() {
        let url = "https://generativelanguage.googleapis.com/upload/v1beta/files?upload_id=AB-c_9&upload_protocol=resumable";
        let path = path_of(url).unwrap();
        assert_eq!(
            path,
            "/upload/v1beta/files?upload_id=AB-c_9&upload_protocol=resumable"
        );
        assert_eq!(upload_id_of(path).as_deref(), Some("AB-c_9"));
        assert_eq!(path_of("no-scheme"), None);
    }
}
