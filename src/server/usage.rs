//! `GET /v1/usage`: usage totals per pool key × model × day, per project group × model × day
//! (its keys' rows added up) and per client × model × day, each with what it cost by the price
//! table (`cost_usd`), as JSON or (`format=csv`) CSV. Filters: `from` and `to` (UTC dates,
//! default today; at most 400 days), `key` (a key id), `client`, `model`. Keys appear by id only.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};

use super::status::Ops;
use crate::clock::{days_between, utc_day};
use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::store::{Counts, Owner, UsageRow, COUNTERS};
use crate::surfaces::gemini::{Code, GoogleError};
use crate::telemetry::prices::usd;
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
    let group_of: HashMap<String, String> = ops
        .pool
        .snapshot()
        .keys
        .into_iter()
        .map(|k| (k.id, k.group))
        .collect();
    let pricing = ops.telemetry.pricing();
    let (mut keys, mut clients) = (Vec::new(), Vec::new());
    let mut projects: BTreeMap<(&str, &str, &str), Counts> = BTreeMap::new();
    let mut unpriced = BTreeSet::new();
    // Every cost lands on a key row and on a client row: the total is either side's (a filter
    // may hide one side).
    let (mut by_keys, mut by_clients) = (0u64, 0u64);
    for (k, c) in &rows {
        if pricing.prices.of(&k.model).is_none() && c.input_tokens > 0 {
            unpriced.insert(&*k.model);
        }
        match &k.owner {
            Owner::Key(id) => {
                by_keys += c.cost_nanousd;
                keys.push(row(json!({"key": id}), &k.day, &k.model, c));
                let group = group_of.get(&**id).map_or("-", String::as_str);
                projects
                    .entry((&*k.day, group, &*k.model))
                    .or_default()
                    .add(c);
            }
            Owner::Client(name) => {
                by_clients += c.cost_nanousd;
                clients.push(row(json!({"client": name}), &k.day, &k.model, c))
            }
        }
    }
    let projects: Vec<Value> = projects
        .iter()
        .map(|((day, group, model), c)| row(json!({"project": group}), day, model, c))
        .collect();
    axum::Json(json!({
        "from": from, "to": to, "cost_usd": usd(by_keys.max(by_clients)),
        "keys": keys, "projects": projects, "clients": clients, "unpriced": unpriced,
    }))
    .into_response()
}

fn row(mut owner: Value, day: &str, model: &str, c: &Counts) -> Value {
    owner["day"] = json!(day);
    owner["model"] = json!(model);
    for (name, n) in COUNTERS.iter().zip(c.values()) {
        match *name {
            "cost_nanousd" => owner["cost_usd"] = json!(usd(n)),
            _ => owner[*name] = json!(n),
        }
    }
    owner
}

/// The CSV header's counter columns: the counters, cost in dollars.
fn csv_columns() -> String {
    COUNTERS
        .map(|c| if c == "cost_nanousd" { "cost_usd" } else { c })
        .join(",")
}

/// One line per row: `day,scope,name,model,` then the counters (cost in dollars).
fn csv(rows: &[UsageRow]) -> String {
    let mut out = format!("day,scope,name,model,{}\n", csv_columns());
    for (k, c) in rows {
        let (scope, name) = match &k.owner {
            Owner::Key(id) => ("key", &**id),
            Owner::Client(name) => ("client", &**name),
        };
        let mut values: Vec<String> = c.values().iter().map(u64::to_string).collect();
        if let Some(last) = values.last_mut() {
            *last = usd(c.cost_nanousd).to_string();
        }
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
                cost_nanousd: 1_500,
                ..Counts::default()
            },
        )];
        let text = csv(&rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "day,scope,name,model,requests,failures,rate_limited,input_tokens,output_tokens,thought_tokens,cached_tokens,cost_usd");
        assert_eq!(
            lines[1],
            "2026-12-01,client,\"team,a\",gemini-2.5-flash,2,0,0,30,0,0,0,0.0000015"
        );
    }
}
