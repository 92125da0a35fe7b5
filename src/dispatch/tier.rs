//! The service tier on the wire: a generation request goes at the tier its request or client
//! asked for (in its tally), else the one `MODEL_SERVICE_TIERS` gives its model, written into
//! Gemini's body as `serviceTier` (flex and priority; standard is Gemini's default and is not
//! written). A body that already names one (a native client's own) is left as it is. The tier
//! Gemini served comes back in `x-gemini-service-tier` (a priority request may be served at
//! standard) and is what the request is priced at.

use bytes::{Bytes, BytesMut};
use http::{HeaderName, HeaderValue};

use super::route::{Route, Target};
use crate::telemetry::prices::SERVICE_TIER_HEADER;
use crate::telemetry::{Pricing, ServiceTier};
use crate::upstream::UpstreamRequest;

/// `req` with the tier written in, when one applies and its body does not name one.
pub(super) fn tiered(
    pricing: &Pricing,
    route: &Route,
    req: &UpstreamRequest,
) -> Option<UpstreamRequest> {
    let Target::Model(model) = &route.target else {
        return None;
    };
    let path = &req.path_and_query;
    if !(path.contains(":generateContent") || path.contains(":streamGenerateContent")) {
        return None;
    }
    let tally = route.tally();
    let tier = match tally.and_then(|t| t.0.service_tier()) {
        Some(t) => t,
        None => {
            let t = pricing.tier_for(model)?;
            if let Some(tally) = tally {
                tally.0.ask_service_tier(t);
            }
            t
        }
    };
    if tier == ServiceTier::Standard {
        return None;
    }
    let body = req.body.as_ref()?;
    if memchr::memmem::find(body, b"\"serviceTier\"").is_some() {
        return None;
    }
    let mut out = req.clone();
    out.body = Some(with_tier(body, tier)?);
    Some(out)
}

/// `{"serviceTier":"flex", …the body's members…}`; `None` for a body that is not an object.
fn with_tier(body: &Bytes, tier: ServiceTier) -> Option<Bytes> {
    let open = body.iter().position(|b| !b.is_ascii_whitespace())?;
    if body[open] != b'{' {
        return None;
    }
    let rest = &body[open + 1..];
    let empty = rest
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'}');
    let mut out = BytesMut::with_capacity(body.len() + 32);
    out.extend_from_slice(b"{\"serviceTier\":\"");
    out.extend_from_slice(tier.as_str().as_bytes());
    out.extend_from_slice(if empty { b"\"" } else { b"\"," });
    out.extend_from_slice(rest);
    Some(out.freeze())
}

/// Notes the tier Gemini says it served, if it said.
pub(super) fn note_served(route: &Route, headers: &[(HeaderName, HeaderValue)]) {
    let Some(tally) = route.tally() else { return };
    if let Some(tier) = headers
        .iter()
        .find(|(n, _)| n.as_str() == SERVICE_TIER_HEADER)
        .and_then(|(_, v)| v.to_str().ok())
        .and_then(ServiceTier::parse)
    {
        tally.0.served_tier(tier);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tier_leads_the_body() {
        let b = with_tier(
            &Bytes::from_static(b" {\"contents\":[]}"),
            ServiceTier::Flex,
        )
        .unwrap();
        assert_eq!(&b[..], b"{\"serviceTier\":\"flex\",\"contents\":[]}");
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["serviceTier"], "flex");
        let e = with_tier(&Bytes::from_static(b"{ }"), ServiceTier::Priority).unwrap();
        assert!(
            serde_json::from_slice::<serde_json::Value>(&e).is_ok(),
            "{e:?}"
        );
        assert!(with_tier(&Bytes::from_static(b"[1]"), ServiceTier::Flex).is_none());
    }
}
