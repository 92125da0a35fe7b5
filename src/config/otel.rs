//! The OpenTelemetry settings, read under their standard names (`OTEL_EXPORTER_OTLP_ENDPOINT`,
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_EXPORTER_OTLP_HEADERS`,
//! `OTEL_EXPORTER_OTLP_PROTOCOL`, `OTEL_SERVICE_NAME`, `OTEL_TRACES_SAMPLER`(`_ARG`),
//! `OTEL_SDK_DISABLED`) like every other setting: from the environment, `.env` or the config
//! file, validated once, the error naming the variable. Traces are off unless an endpoint is
//! set. Only OTLP over HTTP with protobuf is spoken: a gRPC (or JSON) protocol stops startup
//! rather than export nothing in silence.

use super::settings::{boolean, invalid};
use super::ConfigError;
use crate::secret::Secret;

/// Where and how finished requests are sent as traces.
#[derive(Debug, Clone, PartialEq)]
pub struct Traces {
    /// The full URL spans are posted to (`…/v1/traces`).
    pub endpoint: String,
    /// Headers sent with every export (often a credential: kept as secrets).
    pub headers: Vec<(String, Secret)>,
    /// `service.name` of the resource.
    pub service_name: String,
    pub sampler: Sampler,
}

/// Which requests are traced (`OTEL_TRACES_SAMPLER`): a share of trace ids, and whether an
/// incoming `traceparent`'s sampled flag decides instead.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampler {
    /// 1.0: every trace (`always_on`), 0.0: none (`always_off`), between: `traceidratio`.
    pub ratio: f64,
    /// `parentbased_*`: a request that arrives with a parent follows its decision.
    pub parent_based: bool,
}

/// Reads the trace settings: `None` when no endpoint is set or `OTEL_SDK_DISABLED=true`.
pub(super) fn traces<'a>(
    get: impl Fn(&str) -> Option<&'a str> + Copy,
) -> Result<Option<Traces>, ConfigError> {
    if boolean(get, "OTEL_SDK_DISABLED")? {
        return Ok(None);
    }
    let endpoint = match (
        get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
        get("OTEL_EXPORTER_OTLP_ENDPOINT"),
    ) {
        (Some(url), _) => checked_url(get, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", url)?.to_string(),
        (None, Some(base)) => {
            let base = checked_url(get, "OTEL_EXPORTER_OTLP_ENDPOINT", base)?;
            format!("{}/v1/traces", base.trim_end_matches('/'))
        }
        (None, None) => return Ok(None),
    };
    for name in [
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    ] {
        match get(name) {
            None | Some("http/protobuf") => {}
            Some(_) => {
                return Err(invalid(
                    name,
                    get,
                    "must be http/protobuf (this gateway exports OTLP over HTTP only, not grpc or http/json)",
                ))
            }
        }
    }
    let mut headers = header_list(get, "OTEL_EXPORTER_OTLP_HEADERS")?;
    headers.extend(header_list(get, "OTEL_EXPORTER_OTLP_TRACES_HEADERS")?);
    Ok(Some(Traces {
        endpoint,
        headers,
        service_name: get("OTEL_SERVICE_NAME")
            .unwrap_or("gemini-gateway")
            .to_string(),
        sampler: sampler(get)?,
    }))
}

fn checked_url<'a>(
    get: impl Fn(&str) -> Option<&'a str>,
    name: &'static str,
    url: &'a str,
) -> Result<&'a str, ConfigError> {
    let ok = url::Url::parse(url)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
    if ok {
        Ok(url)
    } else {
        Err(invalid(
            name,
            get,
            "must be an http:// or https:// URL, e.g. http://127.0.0.1:4318",
        ))
    }
}

/// `key1=value1,key2=value2`, values percent-decoded (the OTLP exporter spec's form).
fn header_list<'a>(
    get: impl Fn(&str) -> Option<&'a str> + Copy,
    name: &'static str,
) -> Result<Vec<(String, Secret)>, ConfigError> {
    let Some(raw) = get(name) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for pair in raw.split(',').filter(|p| !p.trim().is_empty()) {
        let bad = || ConfigError::Invalid {
            name,
            value: "(hidden: it may hold a credential)".into(),
            problem: "must be key=value pairs, comma-separated (values percent-encoded)",
        };
        let (k, v) = pair.split_once('=').ok_or_else(bad)?;
        let k = k.trim();
        let v = percent_encoding::percent_decode_str(v.trim())
            .decode_utf8()
            .map_err(|_| bad())?;
        if http::HeaderName::from_bytes(k.as_bytes()).is_err()
            || http::HeaderValue::from_str(&v).is_err()
        {
            return Err(bad());
        }
        out.push((k.to_ascii_lowercase(), Secret::new(&v)));
    }
    Ok(out)
}

fn sampler<'a>(get: impl Fn(&str) -> Option<&'a str> + Copy) -> Result<Sampler, ConfigError> {
    let ratio = || -> Result<f64, ConfigError> {
        match get("OTEL_TRACES_SAMPLER_ARG") {
            None => Ok(1.0),
            Some(v) => match v.parse::<f64>() {
                Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
                _ => Err(invalid(
                    "OTEL_TRACES_SAMPLER_ARG",
                    get,
                    "must be a ratio from 0 to 1",
                )),
            },
        }
    };
    let name = get("OTEL_TRACES_SAMPLER").map(str::to_ascii_lowercase);
    let (ratio, parent_based) =
        match name.as_deref() {
            None | Some("parentbased_always_on") => (1.0, true),
            Some("always_on") => (1.0, false),
            Some("always_off") => (0.0, false),
            Some("parentbased_always_off") => (0.0, true),
            Some("traceidratio") => (ratio()?, false),
            Some("parentbased_traceidratio") => (ratio()?, true),
            Some(_) => return Err(invalid(
                "OTEL_TRACES_SAMPLER",
                get,
                "must be always_on, always_off, traceidratio, or parentbased_ before one of them",
            )),
        };
    Ok(Sampler {
        ratio,
        parent_based,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::setting;
    use crate::config::tests::vars;

    fn read(pairs: &[(&str, &str)]) -> Result<Option<Traces>, ConfigError> {
        let v = vars(pairs);
        traces(|n| setting(&v, n))
    }

    #[test]
    fn traces_are_off_without_an_endpoint_or_when_disabled() {
        assert_eq!(read(&[]).unwrap(), None);
        let on = [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")];
        assert!(read(&on).unwrap().is_some());
        let off = [on[0], ("OTEL_SDK_DISABLED", "true")];
        assert_eq!(read(&off).unwrap(), None);
    }

    #[test]
    fn the_traces_endpoint_is_the_base_with_its_path_unless_given_whole() {
        let t = read(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/")])
            .unwrap()
            .unwrap();
        assert_eq!(t.endpoint, "http://c:4318/v1/traces");
        assert_eq!(t.service_name, "gemini-gateway");
        assert_eq!(
            t.sampler,
            Sampler {
                ratio: 1.0,
                parent_based: true
            }
        );
        let t = read(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://x/traces"),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "authorization=Bearer%20abc, x-tenant=t1",
            ),
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(t.endpoint, "https://x/traces");
        assert_eq!(t.headers[0].0, "authorization");
        assert_eq!(t.headers[0].1.expose(), "Bearer abc");
        assert_eq!(t.headers[1].1.expose(), "t1");
        assert_eq!(t.sampler.ratio, 0.25);
    }

    #[test]
    fn bad_trace_settings_name_their_variable() {
        let base = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318");
        for (name, bad) in [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "c:4318"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "novalue"),
            ("OTEL_TRACES_SAMPLER", "sometimes"),
            ("OTEL_SDK_DISABLED", "perhaps"),
        ] {
            let e = read(&[base, (name, bad)]).unwrap_err();
            assert!(e.to_string().starts_with(name), "{name}: {e}");
        }
        let e = read(&[
            base,
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "2"),
        ])
        .unwrap_err();
        assert!(e.to_string().starts_with("OTEL_TRACES_SAMPLER_ARG"));
        let e = read(&[base, ("OTEL_EXPORTER_OTLP_HEADERS", "a=b,zzz")]).unwrap_err();
        assert!(!e.to_string().contains("a=b"), "{e}");
    }
}
