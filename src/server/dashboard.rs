//! `GET /dashboard`: one self-contained page (no CDN, no build step) that shows the pool live —
//! each key masked with its state, cooldowns with countdowns, ejections, request rates, today's
//! usage per key and model, the recent requests — and, given the admin key, offers the admin
//! actions. The page holds no data: it reads the protected endpoints (`/v1/keys/status`,
//! `/v1/usage`, `/v1/requests`, `/admin/…`) with the key the operator types in, sent as a header
//! and kept only in the tab's session storage.

use axum::http::header;
use axum::response::{IntoResponse, Response};

const PAGE: &str = include_str!("dashboard.html");

pub async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:",
            ),
            (header::X_FRAME_OPTIONS, "DENY"),
        ],
        PAGE,
    )
        .into_response()
}
