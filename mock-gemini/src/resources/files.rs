//! The Files API's `File` resources: what each project uploaded (`source: UPLOADED`) or the
//! service made for it (`source: GENERATED`, e.g. a batch's results), for 48 hours. `files.get`,
//! `files.list` (only the caller's project, newest first), `files.delete` and `files.download`
//! (generated files only) answer here; a file of another project is Google's 403, like one that
//! does not exist. Files are kept whole up to 8 MiB (so a batch can read its input file), larger
//! ones only as their size and SHA-256.

use std::collections::HashMap;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use serde_json::{json, Value};

use super::{new_id, now_ms, page_of, set_header, timestamp, ResourceCall};
use crate::errors::ApiError;
use crate::request::check_params;
use crate::state::{lock, State};

/// Uploaded files live 48 hours.
const LIFETIME_MS: i64 = 48 * 3600 * 1000;
/// Files up to this size are kept whole.
pub const KEEP_WHOLE: usize = 8 * 1024 * 1024;

/// Where a file came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Uploaded,
    Generated,
}

/// One stored file.
#[derive(Debug)]
pub struct StoredFile {
    pub project: String,
    pub id: String,
    pub display_name: Option<String>,
    pub mime_type: String,
    pub size: u64,
    /// The SHA-256 of the bytes, as lowercase hex.
    pub sha256_hex: String,
    pub created_ms: i64,
    pub source: Source,
    /// The bytes, when the file is small enough to be kept.
    pub bytes: Option<Bytes>,
    /// Creation order (lists are newest first).
    seq: u64,
}

/// A file the service made for a project, e.g. a batch's results (`source: GENERATED`); it can
/// be downloaded by the keys of that project.
#[derive(Clone, Debug)]
pub struct GeneratedFile {
    /// The owning project (a key's project as `POST /_mock/quotas` maps it, or the key itself).
    pub project: String,
    /// The id after `files/` (e.g. `batch-abc123`); a fresh 12-character id when `None`.
    pub id: Option<String>,
    pub display_name: Option<String>,
    pub mime_type: String,
    pub bytes: Bytes,
}

/// Every project's files.
#[derive(Debug, Default)]
pub struct FileStore {
    files: HashMap<String, StoredFile>,
    seq: u64,
}

/// Google's 403 for a file the caller's project does not have (or that does not exist).
pub fn denied(id: &str) -> ApiError {
    ApiError::new(
        403,
        "PERMISSION_DENIED",
        format!("You do not have permission to access the File {id} or it may not exist."),
    )
}

/// The file id a `fileUri` names: `files/{id}`, or any URI ending in `/files/{id}`.
pub fn file_id(uri: &str) -> Option<&str> {
    let tail = match uri.strip_prefix("files/") {
        Some(tail) => tail,
        None if uri.starts_with("http://") || uri.starts_with("https://") => {
            uri.rsplit_once("/files/")?.1
        }
        None => return None,
    };
    let id = tail.split(['?', ':', '#']).next().unwrap_or_default();
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

impl FileStore {
    fn purge(&mut self, now: i64) {
        self.files.retain(|_, f| f.created_ms + LIFETIME_MS > now);
    }

    /// Whether any project has a file with this id (ids are global).
    pub fn exists(&mut self, id: &str) -> bool {
        self.purge(now_ms());
        self.files.contains_key(id)
    }

    /// Stores a file (replacing one with the same id).
    pub fn insert(&mut self, mut file: StoredFile) {
        self.seq += 1;
        file.seq = self.seq;
        self.files.insert(file.id.clone(), file);
    }

    /// `project`'s file `id`, or Google's 403.
    pub fn owned(&mut self, project: &str, id: &str) -> Result<&StoredFile, ApiError> {
        self.purge(now_ms());
        self.files
            .get(id)
            .filter(|f| f.project == project)
            .ok_or_else(|| denied(id))
    }

    fn remove(&mut self, project: &str, id: &str) -> Result<(), ApiError> {
        self.owned(project, id)?;
        self.files.remove(id);
        Ok(())
    }

    /// `project`'s files, newest first.
    fn of_project(&mut self, project: &str) -> Vec<&StoredFile> {
        self.purge(now_ms());
        let mut files: Vec<&StoredFile> = self
            .files
            .values()
            .filter(|f| f.project == project)
            .collect();
        files.sort_by_key(|file| std::cmp::Reverse(file.seq));
        files
    }
}

impl StoredFile {
    /// A file as received (`size`, hex SHA-256, and the first bytes: all of them when the file
    /// is small enough to be kept).
    pub fn new(
        project: String,
        id: String,
        display_name: Option<String>,
        mime_type: String,
        source: Source,
        received: (u64, String, Vec<u8>),
    ) -> StoredFile {
        let (size, sha256_hex, first_bytes) = received;
        let bytes = (size <= KEEP_WHOLE as u64).then(|| Bytes::from(first_bytes));
        StoredFile {
            project,
            id,
            display_name,
            mime_type,
            size,
            sha256_hex,
            created_ms: now_ms(),
            source,
            bytes,
            seq: 0,
        }
    }

    /// The `File` resource as Google returns it; URIs point at `origin`.
    pub fn resource(&self, origin: &str) -> Value {
        let mut file = json!({
            "name": format!("files/{}", self.id),
            "mimeType": self.mime_type,
            "sizeBytes": self.size.to_string(),
            "createTime": timestamp(self.created_ms),
            "updateTime": timestamp(self.created_ms),
            "expirationTime": timestamp(self.created_ms + LIFETIME_MS),
            // Google's `sha256Hash` is the base64 of the hex digest.
            "sha256Hash": STANDARD.encode(&self.sha256_hex),
            "uri": format!("{origin}/v1beta/files/{}", self.id),
            "state": "ACTIVE",
            "source": match self.source {
                Source::Uploaded => "UPLOADED",
                Source::Generated => "GENERATED",
            },
        });
        if let Some(name) = &self.display_name {
            file["displayName"] = json!(name);
        }
        if self.source == Source::Generated {
            file["downloadUri"] = json!(format!(
                "{origin}/download/v1beta/files/{}:download?alt=media",
                self.id
            ));
        }
        file
    }
}

impl State {
    /// Stores a file the service generated for `file.project` (e.g. a batch's results) and
    /// returns its name, `files/{id}`. Its keys can get, list and download it.
    pub fn add_generated_file(&self, file: GeneratedFile) -> String {
        let id = file.id.unwrap_or_else(|| new_id(self));
        let digest = super::upload::sha256_hex(&file.bytes);
        let stored = StoredFile {
            project: file.project,
            id: id.clone(),
            display_name: file.display_name,
            mime_type: file.mime_type,
            size: file.bytes.len() as u64,
            sha256_hex: digest,
            created_ms: now_ms(),
            source: Source::Generated,
            bytes: Some(file.bytes),
            seq: 0,
        };
        lock(&self.resources).files.insert(stored);
        format!("files/{id}")
    }

    /// The bytes of file `name` (`files/{id}`, an id, or a URI) of `project`: `None` when the
    /// file was too large to be kept whole; Google's 403 when the project does not have it.
    pub fn file_bytes(&self, project: &str, name: &str) -> Result<Option<Bytes>, ApiError> {
        let id = file_id(name).unwrap_or(name);
        let mut resources = lock(&self.resources);
        Ok(resources.files.owned(project, id)?.bytes.clone())
    }
}

/// `GET /{v}/files`: the caller's project's files, newest first.
pub fn list(call: &ResourceCall<'_>) -> Result<Response, ApiError> {
    let project = call.project()?;
    let (size, start) = call.page_request(10, 100)?;
    let origin = call.origin();
    let files: Vec<Value> = lock(&call.state.resources)
        .files
        .of_project(&project)
        .into_iter()
        .map(|f| f.resource(&origin))
        .collect();
    let (page, next) = page_of(files, size, start);
    let mut answer = json!({});
    if !page.is_empty() {
        answer["files"] = json!(page);
    }
    if let Some(token) = next {
        answer["nextPageToken"] = json!(token);
    }
    Ok(call.answer(&answer))
}

/// `GET /{v}/files/{id}`.
pub fn get(call: &ResourceCall<'_>, id: &str) -> Result<Response, ApiError> {
    let project = call.project()?;
    check_params(call.params, &[])?;
    let file = lock(&call.state.resources)
        .files
        .owned(&project, id)?
        .resource(&call.origin());
    Ok(call.answer(&file))
}

/// `DELETE /{v}/files/{id}`: `{}`.
pub fn delete(call: &ResourceCall<'_>, id: &str) -> Result<Response, ApiError> {
    let project = call.project()?;
    check_params(call.params, &[])?;
    lock(&call.state.resources).files.remove(&project, id)?;
    Ok(call.answer(&json!({})))
}

/// `GET /{v}/files/{id}:download?alt=media`: the bytes of a generated file.
pub fn download(call: &ResourceCall<'_>, id: &str) -> Result<Response, ApiError> {
    let project = call.project()?;
    check_params(call.params, &[])?;
    let mime_type = {
        let mut resources = lock(&call.state.resources);
        let file = resources.files.owned(&project, id)?;
        if file.source != Source::Generated {
            return Err(ApiError::invalid_argument(format!(
                "Only generated files can be downloaded. File files/{id} was uploaded \
                 (source: UPLOADED)."
            )));
        }
        file.mime_type.clone()
    };
    let bytes = call.state.file_bytes(&project, id)?.unwrap_or_default();
    let mut response = (StatusCode::OK, bytes).into_response();
    set_header(&mut response, header::CONTENT_TYPE.as_str(), &mime_type);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_ids_come_from_names_and_uris_of_any_host() {
        assert_eq!(file_id("files/abc123"), Some("abc123"));
        assert_eq!(
            file_id("https://generativelanguage.googleapis.com/v1beta/files/abc123"),
            Some("abc123")
        );
        assert_eq!(
            file_id("http://127.0.0.1:9/download/v1beta/files/x-1:download?alt=media"),
            Some("x-1")
        );
        assert_eq!(file_id("gs://bucket/files/abc"), None);
        assert_eq!(file_id("https://www.youtube.com/watch?v=1"), None);
        assert_eq!(file_id("files/"), None);
    }

    #[test]
    fn a_file_is_its_projects_alone() {
        let mut store = FileStore::default();
        let received = (3, "ab".to_owned(), b"abc".to_vec());
        store.insert(StoredFile::new(
            "p1".into(),
            "f1".into(),
            None,
            "text/plain".into(),
            Source::Uploaded,
            received,
        ));
        assert!(store.owned("p1", "f1").is_ok());
        let denied = store.owned("p2", "f1").unwrap_err();
        assert_eq!((denied.code, denied.status), (403, "PERMISSION_DENIED"));
        assert_eq!(
            denied.message,
            "You do not have permission to access the File f1 or it may not exist."
        );
        assert!(store.remove("p2", "f1").is_err());
        assert_eq!(store.of_project("p1").len(), 1);
        assert!(store.remove("p1", "f1").is_ok());
        assert!(!store.exists("f1"));
    }
}
