//! `POST /v1/responses/compact`: remote compaction (placeholder until written).

use axum::response::{IntoResponse, Response};

use super::errors::OpenAiError;

pub(super) async fn compact() -> Response {
    OpenAiError::invalid("not yet").into_response()
}
