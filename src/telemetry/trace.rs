//! Requests as OpenTelemetry traces, sent over OTLP/HTTP (protobuf) when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set — and nothing at all when it is not: no span is made,
//! nothing is allocated, each hook is one branch on an `Option`.
//!
//! Nothing here runs while a request is served. When traces are on, the request's [`Tally`]
//! keeps a small [`TraceLog`]: when the request arrived (and the client's `traceparent`), and per
//! upstream attempt when it started and ended, the key's id and group, why the key was picked
//! and how the attempt went. When the response has been sent, [`Telemetry::finish`] turns the log
//! into spans with their recorded times: one SERVER span for the request (named
//! `{gen_ai.operation.name} {model}` after the GenAI semantic conventions) and one CLIENT span
//! per attempt, handed to the SDK's batch processor, which exports them from its own thread.
//!
//! What goes in an attribute is what `/metrics` and the recent-requests list already show: key
//! ids (never a key), group names, verdict labels (never upstream text), model names, token
//! counts. No prompt, answer or key ever does.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{
    Span as _, SpanContext, SpanKind, Status, TraceContextExt as _, Tracer as _,
    TracerProvider as _,
};
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracer, SdkTracerProvider};
use opentelemetry_sdk::Resource;

use super::{Finished, Tally, TallyRef, Telemetry};
use crate::config::otel;
use crate::upstream::classify::Verdict;

/// How long one export may take.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// The tracer requests are recorded with, and its provider (flushed at shutdown).
pub struct Traces {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
}

impl fmt::Debug for Traces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Traces")
    }
}

/// Why traces cannot be sent as configured.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the OTLP trace exporter: {0}")]
pub struct TraceSetupError(String);

impl Traces {
    /// Exports to the configured collector, through a batch processor. Call from within the
    /// tokio runtime: the exports are sent on it.
    pub fn start(settings: &otel::Traces) -> Result<Traces, TraceSetupError> {
        // Straight to the collector: the proxy settings are Gemini's (UPSTREAM_PROXY) and the
        // environment's HTTPS_PROXY is not meant for a collector beside the gateway.
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(|e| TraceSetupError(e.to_string()))?;
        let sender = Sender {
            client,
            runtime: tokio::runtime::Handle::try_current()
                .map_err(|e| TraceSetupError(e.to_string()))?,
        };
        let headers = settings
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.expose().to_string()))
            .collect();
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(settings.endpoint.clone())
            .with_timeout(EXPORT_TIMEOUT)
            .with_headers(headers)
            .with_http_client(sender)
            .build()
            .map_err(|e| TraceSetupError(crate::secret::redact(&e.to_string()).into_owned()))?;
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_sampler(sampler(settings.sampler))
            .with_resource(
                Resource::builder()
                    .with_service_name(settings.service_name.clone())
                    .build(),
            )
            .build();
        Ok(Traces::with_provider(provider))
    }

    /// Records with `provider` (tests give one with an in-memory exporter).
    pub fn with_provider(provider: SdkTracerProvider) -> Traces {
        let scope = InstrumentationScope::builder("gemini-gateway")
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        Traces {
            tracer: provider.tracer_with_scope(scope),
            provider,
        }
    }

    /// Sends the spans still waiting and stops the exporter (at shutdown). The SDK blocks its
    /// caller while it flushes, so it does so off the runtime's workers.
    pub async fn shutdown(&self) {
        let provider = self.provider.clone();
        let done = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        if let Ok(Err(e)) = done {
            tracing::warn!(error = %e, "traces not flushed at shutdown");
        }
    }
}

fn sampler(s: otel::Sampler) -> Sampler {
    let root = if s.ratio >= 1.0 {
        Sampler::AlwaysOn
    } else if s.ratio <= 0.0 {
        Sampler::AlwaysOff
    } else {
        Sampler::TraceIdRatioBased(s.ratio)
    };
    if s.parent_based {
        Sampler::ParentBased(Box::new(root))
    } else {
        root
    }
}

/// The OTLP exporter's HTTP client: the gateway's own reqwest (one TLS stack, one reqwest), each
/// export sent on the gateway's runtime (the batch processor calls from its own thread).
#[derive(Debug)]
struct Sender {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for Sender {
    async fn send_bytes(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, opentelemetry_http::HttpError> {
        let client = self.client.clone();
        let sent = self.runtime.spawn(async move {
            let (parts, body) = request.into_parts();
            let resp = client
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await?;
            let (status, headers) = (resp.status(), resp.headers().clone());
            let body = resp.bytes().await?;
            let mut out = http::Response::new(body);
            *out.status_mut() = status;
            *out.headers_mut() = headers;
            Ok::<_, reqwest::Error>(out)
        });
        Ok(sent.await??)
    }
}

/// What a traced request's spans are made of, gathered while it runs.
#[derive(Debug, Clone)]
pub struct TraceLog {
    start: SystemTime,
    /// The client's `traceparent` (invalid when it sent none).
    parent: SpanContext,
    method: http::Method,
    /// `gen_ai.operation.name`, when the path is a model call.
    operation: Option<&'static str>,
    attempts: Vec<AttemptLog>,
}

/// One upstream attempt.
#[derive(Debug, Clone)]
struct AttemptLog {
    start: SystemTime,
    end: Option<SystemTime>,
    pick: Pick,
    /// `ok`, or the failure's class as the metrics name it (`key_rejected`, `rate_limited`, …).
    outcome: &'static str,
    /// The verdict's own label when the attempt failed (`key_invalid`, `rate_limited_daily`, …).
    failure: Option<&'static str>,
}

/// The key dispatch picked for an attempt, and why.
#[derive(Debug, Clone)]
pub struct Pick {
    pub key_id: Arc<str>,
    /// The key's quota group (its project), declared or learned.
    pub group: String,
    pub model: Arc<str>,
    /// `affinity` (the conversation's key), `placement` (a resource owner's keys) or
    /// `round_robin`.
    pub reason: &'static str,
    /// A half-open probe of a key or model known to be failing.
    pub probe: bool,
    /// Picked after the request waited in its model's line.
    pub after_wait: bool,
    /// A broken stream's continuation.
    pub continuation: bool,
}

impl Pick {
    /// Why dispatch took key `index`: the `preferred` one (a placement's owner or the
    /// conversation's key), another of a placement, or the pool's turn.
    pub fn reason(index: usize, preferred: Option<usize>, placed: bool) -> &'static str {
        match (placed, preferred == Some(index)) {
            (true, _) => "placement",
            (false, true) => "affinity",
            (false, false) => "round_robin",
        }
    }
}

/// The GenAI operation a request path is, when it is a model call.
fn operation(path: &str) -> Option<&'static str> {
    if path.contains("embed") || path.contains("Embed") {
        Some("embeddings")
    } else if path.ends_with(":generateContent") || path.ends_with(":streamGenerateContent") {
        Some("generate_content")
    } else if path.ends_with("/messages")
        || path.ends_with("/chat/completions")
        || path.ends_with("/responses")
    {
        Some("chat")
    } else {
        None
    }
}

impl Telemetry {
    /// Sends the spans still waiting (at shutdown).
    pub async fn shutdown_traces(&self) {
        if let Some(t) = &self.traces {
            t.shutdown().await;
        }
    }

    /// Whether requests are traced.
    pub fn traces(&self) -> bool {
        self.traces.is_some()
    }

    /// Starts the trace log of a request that just arrived (traces on only).
    #[inline]
    pub fn trace_request(&self, tally: &Tally, req: &http::Request<axum::body::Body>) {
        if self.traces.is_some() {
            let now = self.clock.system_time();
            tally.begin_trace(begin(now, req.method(), req.uri().path(), req.headers()));
        }
    }

    /// Starts the trace log of one response of a WebSocket (`headers`: the upgrade's).
    #[inline]
    pub fn trace_socket_response(&self, tally: &Tally, headers: &http::HeaderMap) {
        if self.traces.is_some() {
            let now = self.clock.system_time();
            tally.begin_trace(begin(now, &http::Method::GET, "/responses", headers));
        }
    }

    /// An attempt starts on the key `pick` describes (made only when traces are on).
    #[inline]
    pub fn trace_pick(&self, tally: Option<&TallyRef>, pick: impl FnOnce() -> Pick) {
        if let (Some(_), Some(t)) = (&self.traces, tally) {
            let start = self.clock.system_time();
            let pick = pick();
            t.0.with_trace(|log| {
                log.attempts.push(AttemptLog {
                    start,
                    end: None,
                    pick,
                    outcome: "ok",
                    failure: None,
                })
            });
        }
    }

    /// The attempt under way ended: `verdict` is `None` when it succeeded.
    #[inline]
    pub(super) fn trace_outcome(&self, tally: Option<&TallyRef>, verdict: Option<&Verdict>) {
        if let (Some(_), Some(t)) = (&self.traces, tally) {
            let end = self.clock.system_time();
            t.0.with_trace(|log| {
                if let Some(a) = log.attempts.last_mut().filter(|a| a.end.is_none()) {
                    a.end = Some(end);
                    a.outcome = super::outcome(verdict);
                    a.failure = verdict.map(Verdict::label);
                }
            });
        }
    }

    /// Sends a finished request's spans (when it was traced).
    #[inline]
    pub(super) fn trace_finish(&self, done: &Finished, client: &Arc<str>) {
        if let (Some(traces), Some(log)) = (&self.traces, &done.tally.trace) {
            traces.record(done, log, client, self.clock.system_time());
        }
    }
}

fn begin(
    start: SystemTime,
    method: &http::Method,
    path: &str,
    headers: &http::HeaderMap,
) -> TraceLog {
    let cx = TraceContextPropagator::new().extract(&opentelemetry_http::HeaderExtractor(headers));
    TraceLog {
        start,
        parent: cx.span().span_context().clone(),
        method: method.clone(),
        operation: operation(path),
        attempts: Vec::new(),
    }
}

impl Traces {
    fn record(&self, done: &Finished, log: &TraceLog, client: &Arc<str>, end: SystemTime) {
        let t = &done.tally;
        let requested = log
            .attempts
            .first()
            .map(|a| a.pick.model.clone())
            .or_else(|| t.model.clone());
        let served = log
            .attempts
            .iter()
            .rev()
            .find(|a| a.end.is_some() && a.failure.is_none())
            .map(|a| a.pick.model.clone());
        let name = match (log.operation, &requested) {
            (Some(op), Some(m)) => format!("{op} {m}"),
            (Some(op), None) => op.to_string(),
            (None, _) => format!("{} {}", log.method, done.surface),
        };
        let mut attrs = vec![
            KeyValue::new("http.request.method", log.method.to_string()),
            KeyValue::new("http.response.status_code", i64::from(done.status)),
            KeyValue::new("gateway.surface", done.surface),
            KeyValue::new("gateway.client", client.clone()),
            KeyValue::new("gateway.request.id", done.request_id.clone()),
            KeyValue::new("gateway.attempts", i64::from(t.attempts)),
            KeyValue::new("gateway.completed", done.completed),
        ];
        if t.model.is_some() || log.operation.is_some() {
            attrs.extend([
                KeyValue::new("gen_ai.system", "gemini"),
                KeyValue::new("gen_ai.provider.name", "gcp.gemini"),
            ]);
        }
        if let Some(op) = log.operation {
            attrs.push(KeyValue::new("gen_ai.operation.name", op));
        }
        if let Some(m) = requested {
            attrs.push(KeyValue::new("gen_ai.request.model", m));
        }
        if let Some(m) = served {
            attrs.push(KeyValue::new("gen_ai.response.model", m));
        }
        if t.attempts > 0 {
            attrs.extend([
                KeyValue::new("gen_ai.usage.input_tokens", t.tokens.input as i64),
                KeyValue::new("gen_ai.usage.output_tokens", t.tokens.output as i64),
            ]);
            if t.tokens.thought > 0 {
                attrs.push(KeyValue::new(
                    "gateway.usage.thought_tokens",
                    t.tokens.thought as i64,
                ));
            }
            if t.tokens.cached > 0 {
                attrs.push(KeyValue::new(
                    "gateway.usage.cached_tokens",
                    t.tokens.cached as i64,
                ));
            }
        }
        if !t.waited.is_zero() {
            attrs.push(KeyValue::new(
                "gateway.queue.waited_ms",
                t.waited.as_millis() as i64,
            ));
        }
        if t.exhausted {
            attrs.push(KeyValue::new("gateway.no_key", true));
        }
        let parent = if log.parent.is_valid() {
            Context::new().with_remote_span_context(log.parent.clone())
        } else {
            Context::new()
        };
        let mut server = self.tracer.build_with_context(
            self.tracer
                .span_builder(name.clone())
                .with_kind(SpanKind::Server)
                .with_start_time(log.start)
                .with_attributes(attrs),
            &parent,
        );
        if done.status >= 500 {
            server.set_status(Status::error(""));
        }
        if !server.span_context().is_sampled() {
            server.end_with_timestamp(end);
            return;
        }
        let cx = parent.with_span(server);
        let mut previous: Option<&'static str> = None;
        for (n, a) in log.attempts.iter().enumerate() {
            let p = &a.pick;
            let mut attrs = vec![
                KeyValue::new("gen_ai.system", "gemini"),
                KeyValue::new("gen_ai.provider.name", "gcp.gemini"),
                KeyValue::new("gen_ai.request.model", p.model.clone()),
                KeyValue::new("gateway.attempt.number", n as i64 + 1),
                KeyValue::new("gateway.key.id", p.key_id.clone()),
                KeyValue::new("gateway.project_group", p.group.clone()),
                KeyValue::new("gateway.pick.reason", p.reason),
                KeyValue::new("gateway.attempt.outcome", a.outcome),
            ];
            if let Some(op) = log.operation {
                attrs.push(KeyValue::new("gen_ai.operation.name", op));
            }
            if let Some(f) = a.failure {
                attrs.push(KeyValue::new("gateway.attempt.failure", f));
            }
            if let Some(f) = previous {
                attrs.push(KeyValue::new("gateway.previous_failure", f));
            }
            for (flag, on) in [
                ("gateway.pick.probe", p.probe),
                ("gateway.pick.after_wait", p.after_wait),
                ("gateway.attempt.continuation", p.continuation),
            ] {
                if on {
                    attrs.push(KeyValue::new(flag, true));
                }
            }
            let span_name = match log.operation {
                Some(op) => format!("{op} {}", p.model),
                None => format!("attempt {}", p.model),
            };
            let mut span = self.tracer.build_with_context(
                self.tracer
                    .span_builder(span_name)
                    .with_kind(SpanKind::Client)
                    .with_start_time(a.start)
                    .with_attributes(attrs),
                &cx,
            );
            if let Some(f) = a.failure {
                span.set_status(Status::error(f));
            }
            span.end_with_timestamp(a.end.unwrap_or(end));
            previous = a.failure;
        }
        cx.span().end_with_timestamp(end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_paths_name_their_operation() {
        assert_eq!(operation("/v1/messages"), Some("chat"));
        assert_eq!(operation("/v1/chat/completions"), Some("chat"));
        assert_eq!(operation("/v1/responses"), Some("chat"));
        assert_eq!(
            operation("/v1beta/models/gemini-2.5-flash:streamGenerateContent"),
            Some("generate_content")
        );
        assert_eq!(operation("/v1/embeddings"), Some("embeddings"));
        assert_eq!(
            operation("/v1beta/models/x:batchEmbedContents"),
            Some("embeddings")
        );
        assert_eq!(operation("/v1/models"), None);
    }

    #[test]
    fn a_pick_says_why() {
        assert_eq!(Pick::reason(2, Some(2), false), "affinity");
        assert_eq!(Pick::reason(1, Some(2), false), "round_robin");
        assert_eq!(Pick::reason(1, Some(2), true), "placement");
        assert_eq!(Pick::reason(0, None, false), "round_robin");
    }
}
