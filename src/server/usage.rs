//! `GET /v1/usage`: usage totals per pool key × model × day and per client × model × day, as
//! JSON or (`format=csv`) CSV. Filters: `from` and `to` (UTC dates, default today; at most 400
//! days), `key` (a key id), `client`, `model`. Keys appear by id only.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};

use super::status::Ops;
use crate::clock::{days_between, utc_day};
use crate::store::{Counts, Owner, UsageRow, COUNTERS};
use crate::surfaces::gemini::{Code, GoogleError};
use crate::telemetry::usage::MAX_DAYS;
use crate::telemetry::UsageQuery;

#[derive(Debug, Default, Deserialize)]
pub struct Params {
    from: Option<String>,
    to: Option<String>,
    key: Option<String>,
    client: Option<String>,
    model: Option<String>,
    format: Option<String>,
}

pub async fn usage(
    State(ops): State<Ops>,
    params: Result<Query<Params>, QueryRejection>,
) -> Response {
    let p = match params {
        Ok(Query(p)) => p,
        Err(e) => return GoogleError::new(Code::InvalidArgument, e.body_text()).into_response(),
    };
    let today = utc_day(ops.pool.clock().now());
    let from = p.from.clone().unwrap_or_else(|| today.clone());
    let to = p.to.clone().unwrap_or(today);
    let Some(days) = days_between(&from, &to, MAX_DAYS) else {
        return GoogleError::new(
            Code::InvalidArgument,
            format!(
                "from and to are UTC dates (YYYY-MM-DD), from ≤ to, at most {MAX_DAYS} days apart."
            ),
        )
        .into_response();
    };
    let query = UsageQuery {
        days,
        key: p.key,
        client: p.client,
        model: p.model,
    };
    let rows = match ops.telemetry.usage.query(&query).await {
        Ok(rows) => rows,
        Err(e) => {
            return GoogleError::new(Code::Unavailable, format!("usage could not be read: {e}"))
                .into_response()
        }
    };
    if p.format.as_deref() == Some("csv") {
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            csv(&rows),
        )
            .into_response();
    }
    let (mut keys, mut clients) = (Vec::new(), Vec::new());
    for (k, c) in &rows {
        match &k.owner {
            Owner::Key(id) => keys.push(row(json!({"key": id}), &k.day, &k.model, c)),
            Owner::Client(name) => clients.push(row(json!({"client": name}), &k.day, &k.model, c)),
        }
    }
    axum::Json(json!({"from": from, "to": to, "keys": keys, "clients": clients})).into_response()
}

fn row(mut owner: Value, day: &str, model: &str, c: &Counts) -> Value {
    owner["day"] = json!(day);
    owner["model"] = json!(model);
    for (name, n) in COUNTERS.iter().zip(c.values()) {
        owner[*name] = json!(n);
    }
    owner
}

/// One line per row: `day,scope,name,model,` then the counters.
fn csv(rows: &[UsageRow]) -> String {
    let mut out = format!("day,scope,name,model,{}\n", COUNTERS.join(","));
    for (k, c) in rows {
        let (scope, name) = match &k.owner {
            Owner::Key(id) => ("key", &**id),
            Owner::Client(name) => ("client", &**name),
        };
        let values: Vec<String> = c.values().iter().map(u64::to_string).collect();
        out.push_str(&format!(
            "{},{scope},{},{},{}\n",
            k.day,
            csv_field(name),
            csv_field(&k.model),
            values.join(",")
        ));
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::UsageKey;

    #[test]
    fn csv_has_a_header_and_one_line_per_row() {
        let rows = vec![(
            UsageKey {
                day: "2026-12-01".into(),
                owner: Owner::Client("team,a".into()),
                model: "gemini-2.5-flash".into(),
            },
            Counts {
                requests: 2,
                input_tokens: 30,
                ..Counts::default()
            },
        )];
        let text = csv(&rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "day,scope,name,model,requests,failures,rate_limited,input_tokens,output_tokens,thought_tokens,cached_tokens");
        assert_eq!(
            lines[1],
            "2026-12-01,client,\"team,a\",gemini-2.5-flash,2,0,0,30,0,0,0"
        );
    }
}
