//! `POST /upload/{v}/files`: Google's upload protocols for the Files API. Resumable (what the SDKs
//! use): a `start` call with `X-Goog-Upload-Header-Content-Length`/`-Content-Type` and
//! `{"file": {…}}` opens a session whose URL (`?upload_id=…&upload_protocol=resumable`) comes
//! back in `X-Goog-Upload-URL`; then `upload` chunks at `X-Goog-Upload-Offset`, the last one
//! `upload, finalize`, answer `{"file": {…}}` with `X-Goog-Upload-Status: final` (`query` and
//! `cancel` too). Multipart (`multipart/related`: metadata, then the bytes) and raw media uploads
//! answer at once.
//!
//! Bodies are streamed chunk by chunk, counted and hashed, never held whole: a 2 GB upload
//! costs the mock no more memory than an 8 MiB one (see `files` for what is kept). A session
//! belongs to the project of the key that started it.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::files::{Source, StoredFile, KEEP_WHOLE};
use super::{new_id, now_ms, parse_message, set_header, ResourceCall};
use crate::errors::ApiError;
use crate::proto::{Card, Field, Kind, Msg};
use crate::request::{check_params, param};
use crate::state::lock;

/// Google's limit per file.
pub const MAX_FILE: u64 = 2 * 1024 * 1024 * 1024;
/// Sessions older than a week are forgotten, and at most this many are kept.
const MAX_SESSIONS: usize = 10_000;
const SESSION_LIFETIME_MS: i64 = 7 * 24 * 3600 * 1000;

const fn field(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        card: Card::One,
        oneof: None,
    }
}

/// `CreateFileRequest`: the upload's metadata.
pub static CREATE_FILE_REQUEST: Msg = Msg {
    type_url: "type.googleapis.com/google.ai.generativelanguage.v1beta.CreateFileRequest",
    fields: &[field("file", Kind::Msg(&FILE))],
};

static FILE: Msg = Msg {
    type_url: "type.googleapis.com/google.ai.generativelanguage.v1beta.File",
    fields: &[
        field("name", Kind::Str),
        field("display_name", Kind::Str),
        field("mime_type", Kind::Str),
        field("size_bytes", Kind::I64),
        field("create_time", Kind::Str),
        field("update_time", Kind::Str),
        field("expiration_time", Kind::Str),
        field("sha256_hash", Kind::Bytes),
        field("uri", Kind::Str),
        field("download_uri", Kind::Str),
        field("state", Kind::Str),
        field("source", Kind::Str),
        field("video_metadata", Kind::Struct),
        field("error", Kind::Struct),
    ],
};

/// What a client says about the file it uploads.
#[derive(Clone, Debug, Default)]
pub struct FileMeta {
    pub id: Option<String>,
    pub display_name: Option<String>,
    pub mime_type: Option<String>,
    pub size: Option<u64>,
}

/// What has arrived of an upload: its size, its running SHA-256 and its first bytes.
#[derive(Clone, Debug, Default)]
pub struct Received {
    pub size: u64,
    hasher: Sha256,
    kept: Vec<u8>,
}

impl Received {
    /// Counts, hashes and (up to `KEEP_WHOLE`) keeps `chunk`.
    pub fn take(&mut self, chunk: &[u8]) {
        self.size += chunk.len() as u64;
        self.hasher.update(chunk);
        let room = KEEP_WHOLE.saturating_sub(self.kept.len()).min(chunk.len());
        self.kept.extend_from_slice(&chunk[..room]);
    }

    /// Size, hex SHA-256 and the kept bytes.
    pub fn finish(self) -> (u64, String, Vec<u8>) {
        (self.size, hex(&self.hasher.finalize()), self.kept)
    }
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// An open resumable upload.
#[derive(Debug)]
struct Session {
    project: String,
    meta: FileMeta,
    mime_type: String,
    started_ms: i64,
    received: Received,
    /// A chunk is streaming in (its bytes are not in `received` yet).
    busy: bool,
}

/// The open resumable sessions, by upload id.
#[derive(Debug, Default)]
pub struct Sessions {
    by_id: HashMap<String, Session>,
}

impl Sessions {
    fn open(&mut self, id: String, session: Session) {
        let now = now_ms();
        self.by_id
            .retain(|_, s| s.started_ms + SESSION_LIFETIME_MS > now);
        while self.by_id.len() >= MAX_SESSIONS {
            let oldest = self
                .by_id
                .iter()
                .min_by_key(|(_, s)| s.started_ms)
                .map(|(id, _)| id.clone());
            match oldest {
                Some(id) => self.by_id.remove(&id),
                None => break,
            };
        }
        self.by_id.insert(id, session);
    }
}

/// Why a body stopped streaming.
enum Stopped {
    TooLarge,
    Broken,
}

/// Streams `body` into `received`; more than `limit` bytes in all is refused.
async fn stream_into(body: Body, received: &mut Received, limit: u64) -> Result<(), Stopped> {
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| Stopped::Broken)?;
        if received.size + chunk.len() as u64 > limit {
            return Err(Stopped::TooLarge);
        }
        received.take(&chunk);
    }
    Ok(())
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

fn too_large(size: u64) -> ApiError {
    ApiError::invalid_argument(format!(
        "File size {size} exceeds the maximum allowed size of {MAX_FILE} bytes."
    ))
}

/// Serves an upload call.
pub async fn serve(
    call: &mut ResourceCall<'_>,
    version: &str,
    body: Body,
) -> Result<Response, ApiError> {
    if let Some(upload_id) = param(call.params, "upload_id").map(str::to_owned) {
        // The session URL is the credential (the SDKs send no key with chunks); a key that is
        // sent must be of the session's project.
        let caller = match call.has_key() {
            true => Some(call.project()?),
            false => None,
        };
        check_params(call.params, &["upload_id"])?;
        return continue_session(call, caller.as_deref(), &upload_id, body).await;
    }
    let project = call.project()?;
    check_params(call.params, &[])?;
    let protocol = header_str(call.headers, "x-goog-upload-protocol")
        .or_else(|| param(call.params, "uploadType"))
        .unwrap_or_default()
        .to_ascii_lowercase();
    let content_type = header_str(call.headers, header::CONTENT_TYPE.as_str())
        .unwrap_or_default()
        .to_owned();
    match protocol.as_str() {
        "resumable" => start(call, &project, version, body).await,
        "multipart" => multipart(call, &project, &content_type, body).await,
        "" if content_type.starts_with("multipart/") => {
            multipart(call, &project, &content_type, body).await
        }
        "" | "raw" | "media" => raw(call, &project, &content_type, body).await,
        other => Err(ApiError::invalid_argument(format!(
            "Unsupported upload protocol \"{other}\"."
        ))),
    }
}

/// The metadata of `{"file": {…}}` (`bytes` may be empty).
fn file_meta(bytes: &[u8]) -> Result<FileMeta, ApiError> {
    let request = parse_message(bytes, &CREATE_FILE_REQUEST)?;
    let file = request
        .get("file")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_else(Map::new);
    let text = |name: &str| file.get(name).and_then(Value::as_str).map(str::to_owned);
    let id = match text("name") {
        None => None,
        Some(name) => {
            let id = name.strip_prefix("files/").unwrap_or(&name).to_owned();
            let valid = (1..=40).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !id.starts_with('-')
                && !id.ends_with('-');
            if !valid {
                return Err(ApiError::invalid_argument(format!(
                    "* CreateFileRequest.file.name: Invalid file name \"{name}\": the id after \
                     files/ must be 1 to 40 lowercase letters, digits or dashes, and may not start \
                     or end with a dash.\n"
                )));
            }
            Some(id)
        }
    };
    Ok(FileMeta {
        id,
        display_name: text("displayName"),
        mime_type: text("mimeType").filter(|m| !m.is_empty()),
        size: file
            .get("sizeBytes")
            .and_then(Value::as_i64)
            .and_then(|n| u64::try_from(n).ok()),
    })
}

/// The id a new file gets: the one asked for (unless taken), else a fresh one.
fn claim_id(call: &ResourceCall<'_>, meta: &FileMeta) -> Result<String, ApiError> {
    match &meta.id {
        Some(id) if lock(&call.state.resources).files.exists(id) => Err(ApiError::new(
            409,
            "ALREADY_EXISTS",
            format!("File files/{id} already exists."),
        )),
        Some(id) => Ok(id.clone()),
        None => Ok(new_id(call.state)),
    }
}

/// Stores the finished upload and returns `{"file": {…}}`.
fn store(
    call: &ResourceCall<'_>,
    project: &str,
    meta: FileMeta,
    mime_type: String,
    received: Received,
) -> Result<Value, ApiError> {
    let id = claim_id(call, &meta)?;
    let file = StoredFile::new(
        project.to_owned(),
        id,
        meta.display_name,
        mime_type,
        Source::Uploaded,
        received.finish(),
    );
    let resource = file.resource(&call.origin());
    lock(&call.state.resources).files.insert(file);
    Ok(json!({ "file": resource }))
}

/// The final answer of an upload: `{"file": {…}}`, `X-Goog-Upload-Status: final`.
fn finished(call: &ResourceCall<'_>, file: &Value) -> Response {
    let mut response = call.answer(file);
    set_header(&mut response, "x-goog-upload-status", "final");
    response
}

/// An empty 200 with upload-protocol headers.
fn status_only(status: &str, received: Option<u64>) -> Response {
    let mut response = StatusCode::OK.into_response();
    set_header(&mut response, "x-goog-upload-status", status);
    if let Some(size) = received {
        set_header(
            &mut response,
            "x-goog-upload-size-received",
            &size.to_string(),
        );
    }
    response
}

/// Opens a resumable session.
async fn start(
    call: &mut ResourceCall<'_>,
    project: &str,
    version: &str,
    body: Body,
) -> Result<Response, ApiError> {
    let command = header_str(call.headers, "x-goog-upload-command").unwrap_or_default();
    if !command.eq_ignore_ascii_case("start") {
        return Err(ApiError::invalid_argument(format!(
            "Invalid X-Goog-Upload-Command \"{command}\": a resumable upload starts with \"start\"."
        )));
    }
    let declared = match header_str(call.headers, "x-goog-upload-header-content-length") {
        None => None,
        Some(text) => Some(text.parse::<u64>().map_err(|_| {
            ApiError::invalid_argument(format!(
                "Invalid X-Goog-Upload-Header-Content-Length \"{text}\"."
            ))
        })?),
    };
    let bytes = call.json_body(body).await?;
    let meta = file_meta(&bytes)?;
    let declared = declared.or(meta.size);
    if let Some(size) = declared.filter(|s| *s > MAX_FILE) {
        return Err(too_large(size));
    }
    if let Some(id) = &meta.id {
        if lock(&call.state.resources).files.exists(id) {
            return Err(ApiError::new(
                409,
                "ALREADY_EXISTS",
                format!("File files/{id} already exists."),
            ));
        }
    }
    let mime_type = meta
        .mime_type
        .clone()
        .or_else(|| {
            header_str(call.headers, "x-goog-upload-header-content-type").map(str::to_owned)
        })
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let upload_id = format!("AU{}{}", new_id(call.state), new_id(call.state));
    let session = Session {
        project: project.to_owned(),
        meta: FileMeta {
            size: declared,
            ..meta
        },
        mime_type,
        started_ms: now_ms(),
        received: Received::default(),
        busy: false,
    };
    lock(&call.state.resources)
        .uploads
        .open(upload_id.clone(), session);
    let url = format!(
        "{}/upload/{version}/files?upload_id={upload_id}&upload_protocol=resumable",
        call.origin()
    );
    let mut response = status_only("active", None);
    set_header(&mut response, "x-goog-upload-url", &url);
    set_header(&mut response, "x-goog-upload-chunk-granularity", "8388608");
    Ok(response)
}

/// `upload`, `finalize`, `query` or `cancel` at a session's URL.
async fn continue_session(
    call: &mut ResourceCall<'_>,
    caller: Option<&str>,
    upload_id: &str,
    body: Body,
) -> Result<Response, ApiError> {
    let command = header_str(call.headers, "x-goog-upload-command")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let commands: Vec<&str> = command.split(',').map(str::trim).collect();
    let has = |c: &str| commands.contains(&c);
    let offset = header_str(call.headers, "x-goog-upload-offset").map(str::parse::<u64>);
    let (mut received, declared) = {
        let mut resources = lock(&call.state.resources);
        let Some(session) = resources.uploads.by_id.get_mut(upload_id) else {
            return Err(ApiError::new(
                404,
                "NOT_FOUND",
                "No upload session has this upload_id.",
            ));
        };
        if caller.is_some_and(|project| project != session.project) {
            return Err(ApiError::new(
                403,
                "PERMISSION_DENIED",
                "The caller does not have permission",
            ));
        }
        if session.busy {
            return Err(ApiError::new(
                409,
                "ABORTED",
                "Another request is uploading to this session.",
            ));
        }
        if has("cancel") {
            resources.uploads.by_id.remove(upload_id);
            return Ok(status_only("cancelled", None));
        }
        if has("query") {
            return Ok(status_only("active", Some(session.received.size)));
        }
        if !has("upload") && !has("finalize") {
            return Err(ApiError::invalid_argument(format!(
                "Invalid X-Goog-Upload-Command \"{command}\"."
            )));
        }
        match offset {
            Some(Ok(offset)) if offset == session.received.size => {}
            None if !has("upload") => {}
            _ => {
                let size = session.received.size;
                let mut error = ApiError::invalid_argument(format!(
                    "Invalid X-Goog-Upload-Offset: the upload has received {size} bytes; the \
                     next chunk must start at offset {size}."
                ))
                .to_response(false, crate::request::pretty(call.params));
                set_header(&mut error, "x-goog-upload-status", "active");
                set_header(&mut error, "x-goog-upload-size-received", &size.to_string());
                return Ok(error);
            }
        }
        session.busy = true;
        (std::mem::take(&mut session.received), session.meta.size)
    };
    let limit = declared.unwrap_or(MAX_FILE).min(MAX_FILE);
    let streamed = stream_into(body, &mut received, limit).await;
    let mut resources = lock(&call.state.resources);
    let Some(session) = resources.uploads.by_id.get_mut(upload_id) else {
        return Err(ApiError::new(404, "NOT_FOUND", "The upload was cancelled."));
    };
    session.busy = false;
    match streamed {
        Err(Stopped::TooLarge) => {
            let size = received.size;
            resources.uploads.by_id.remove(upload_id);
            return Err(match declared {
                Some(declared) if declared <= MAX_FILE => ApiError::invalid_argument(format!(
                    "The upload is larger than the {declared} bytes it declared (at least {size} \
                     bytes arrived)."
                )),
                _ => too_large(size),
            });
        }
        // What arrived of a broken chunk stays; the client asks with `query` where to resume.
        Err(Stopped::Broken) => {
            session.received = received;
            return Err(ApiError::invalid_argument(
                "The upload chunk was cut short.",
            ));
        }
        Ok(()) => {}
    }
    if !has("finalize") {
        session.received = received;
        return Ok(status_only("active", None));
    }
    if let Some(declared) = declared.filter(|d| *d != received.size) {
        let size = received.size;
        session.received = received;
        return Err(ApiError::invalid_argument(format!(
            "The upload was finalized with {size} bytes but declared {declared} bytes."
        )));
    }
    let Some(session) = resources.uploads.by_id.remove(upload_id) else {
        return Err(ApiError::new(404, "NOT_FOUND", "The upload was cancelled."));
    };
    drop(resources);
    let file = store(
        call,
        &session.project,
        session.meta,
        session.mime_type,
        received,
    )?;
    Ok(finished(call, &file))
}

/// A multipart upload: metadata, then the bytes.
async fn multipart(
    call: &mut ResourceCall<'_>,
    project: &str,
    content_type: &str,
    body: Body,
) -> Result<Response, ApiError> {
    let boundary = super::multipart::boundary(content_type).ok_or_else(|| {
        ApiError::invalid_argument(
            "A multipart upload needs Content-Type: multipart/related; boundary=…",
        )
    })?;
    let mut received = Received::default();
    let parts = super::multipart::read(body, &boundary, &mut received, MAX_FILE).await?;
    call.logged = parts.metadata.clone();
    let meta = file_meta(&parts.metadata)?;
    let mime_type = meta
        .mime_type
        .clone()
        .or(parts.media_type)
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let file = store(call, project, meta, mime_type, received)?;
    Ok(finished(call, &file))
}

/// A raw media upload: the body is the file.
async fn raw(
    call: &mut ResourceCall<'_>,
    project: &str,
    content_type: &str,
    body: Body,
) -> Result<Response, ApiError> {
    let mut received = Received::default();
    match stream_into(body, &mut received, MAX_FILE).await {
        Ok(()) => {}
        Err(Stopped::TooLarge) => return Err(too_large(received.size)),
        Err(Stopped::Broken) => {
            return Err(ApiError::invalid_argument("The upload was cut short."))
        }
    }
    let mime_type = match content_type {
        "" => "application/octet-stream".to_owned(),
        other => other.to_owned(),
    };
    let file = store(call, project, FileMeta::default(), mime_type, received)?;
    Ok(finished(call, &file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received_counts_hashes_and_keeps_the_head() {
        let mut received = Received::default();
        received.take(b"hello ");
        received.take(b"world");
        let (size, digest, kept) = received.finish();
        assert_eq!(size, 11);
        assert_eq!(digest, sha256_hex(b"hello world"));
        assert_eq!(kept, b"hello world");
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn metadata_is_checked_like_googles_file_message() {
        let meta =
            file_meta(br#"{"file": {"displayName": "a", "name": "files/x-1", "sizeBytes": "5"}}"#)
                .unwrap();
        assert_eq!(
            (meta.id.as_deref(), meta.display_name.as_deref(), meta.size),
            (Some("x-1"), Some("a"), Some(5))
        );
        assert!(file_meta(b"").unwrap().id.is_none());
        assert_eq!(file_meta(br#"{"file": {"nam": 1}}"#).unwrap_err().code, 400);
        assert_eq!(
            file_meta(br#"{"file": {"name": "files/-x"}}"#)
                .unwrap_err()
                .code,
            400
        );
    }
}
