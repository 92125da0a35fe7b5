//! What one client request did, gathered while it runs: the house creates a [`Tally`] when the
//! request arrives, the client-key check names the client, the surface hands it to dispatch with
//! the route, and dispatch notes the model, each attempt's key and the tokens Gemini reported.
//! When the response has been sent (a stream: its last byte), the house records it once —
//! metrics, usage, the recent-requests list, the request's log line.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::prices::ServiceTier;

/// Token counts from Gemini's `usageMetadata`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tokens {
    pub input: u64,
    pub output: u64,
    pub thought: u64,
    pub cached: u64,
}

impl Tokens {
    pub fn add(&mut self, other: Tokens) {
        self.input += other.input;
        self.output += other.output;
        self.thought += other.thought;
        self.cached += other.cached;
    }

    pub fn is_zero(&self) -> bool {
        *self == Tokens::default()
    }

    /// The counts in a `usageMetadata` object (input includes the tool-use prompt; output is
    /// the candidates' tokens, thoughts apart).
    pub fn from_usage(u: &crate::upstream::wire::UsageMetadata) -> Tokens {
        Tokens {
            input: u.prompt_token_count.unwrap_or(0) + u.tool_use_prompt_token_count.unwrap_or(0),
            output: u.candidates_token_count.unwrap_or(0),
            thought: u.thoughts_token_count.unwrap_or(0),
            cached: u.cached_content_token_count.unwrap_or(0),
        }
    }
}

/// What the request's parts have learned so far.
#[derive(Debug, Clone, Default)]
pub struct TallyState {
    pub client: Option<Arc<str>>,
    pub model: Option<Arc<str>>,
    /// The key that served (the last attempt's).
    pub key_id: Option<Arc<str>>,
    pub attempts: u32,
    pub tokens: Tokens,
    /// Dispatch found no key available (the answer is a 503 with `Retry-After`).
    pub exhausted: bool,
    /// Time spent waiting in the model's line for a key.
    pub waited: Duration,
    /// The only models the client may use (its `models` allow-list), when it has one.
    pub allowed_models: Option<Arc<[String]>>,
    /// What the tokens cost, in nano-dollars.
    pub cost_nanousd: u64,
    /// The service tier asked for (the request's, else its client's), when one was.
    pub service_tier: Option<ServiceTier>,
    /// The tier Gemini says it served (`x-gemini-service-tier`), when it said.
    pub served_tier: Option<ServiceTier>,
    /// What the request's trace is made of; only when traces are on (see [`super::trace`]).
    pub trace: Option<Box<super::trace::TraceLog>>,
}

/// One request's tally, shared by the layers that see it.
#[derive(Debug, Default)]
pub struct Tally {
    state: Mutex<TallyState>,
    /// The request's id (what its error bodies and the recent list call it), to name it as the
    /// evidence of what it taught the pool.
    request_id: Arc<str>,
}

impl Tally {
    pub fn new() -> Arc<Tally> {
        Arc::new(Tally::default())
    }

    /// The tally of the request called `request_id`.
    pub fn of_request(request_id: Arc<str>) -> Arc<Tally> {
        Arc::new(Tally {
            request_id,
            ..Tally::default()
        })
    }

    /// A tally for another request of the same client (a WebSocket's next response): its
    /// name and allowed models carried over.
    pub fn sibling(&self, request_id: Arc<str>) -> Arc<Tally> {
        let (client, allowed_models, service_tier) =
            self.with(|s| (s.client.clone(), s.allowed_models.clone(), s.service_tier));
        Arc::new(Tally {
            state: Mutex::new(TallyState {
                client,
                allowed_models,
                service_tier,
                ..TallyState::default()
            }),
            request_id,
        })
    }

    pub fn request_id(&self) -> &Arc<str> {
        &self.request_id
    }

    fn with<T>(&self, f: impl FnOnce(&mut TallyState) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn set_client(&self, name: Arc<str>) {
        self.with(|s| s.client = Some(name));
    }

    /// The client key's name, once the client-key check has named it.
    pub fn client(&self) -> Option<Arc<str>> {
        self.with(|s| s.client.clone())
    }

    pub fn set_model(&self, model: &Arc<str>) {
        self.with(|s| s.model = Some(model.clone()));
    }

    /// An attempt went to key `key_id`.
    pub fn attempt(&self, key_id: &Arc<str>) {
        self.with(|s| {
            s.attempts += 1;
            s.key_id = Some(key_id.clone());
        });
    }

    pub fn add_tokens(&self, tokens: Tokens) {
        if !tokens.is_zero() {
            self.with(|s| s.tokens.add(tokens));
        }
    }

    /// Adds what an attempt's tokens cost.
    pub fn add_cost(&self, nanousd: u64) {
        if nanousd > 0 {
            self.with(|s| s.cost_nanousd += nanousd);
        }
    }

    /// The tier asked for; a later call (the request's own choice) wins over an earlier one
    /// (its client's).
    pub fn ask_service_tier(&self, tier: ServiceTier) {
        self.with(|s| s.service_tier = Some(tier));
    }

    pub fn service_tier(&self) -> Option<ServiceTier> {
        self.with(|s| s.service_tier)
    }

    /// The tier Gemini served; the price follows it.
    pub fn served_tier(&self, tier: ServiceTier) {
        self.with(|s| s.served_tier = Some(tier));
    }

    /// The tier the tokens are priced at: the served one, else the one asked for.
    pub fn priced_tier(&self) -> ServiceTier {
        self.with(|s| s.served_tier.or(s.service_tier).unwrap_or_default())
    }

    pub fn allow_models(&self, models: Arc<[String]>) {
        self.with(|s| s.allowed_models = Some(models));
    }

    /// Whether the client may use `model`.
    pub fn may_use(&self, model: &str) -> bool {
        self.with(|s| {
            s.allowed_models
                .as_ref()
                .is_none_or(|m| m.iter().any(|x| x == model))
        })
    }

    /// The request waited `d` in its model's line.
    pub fn waited(&self, d: Duration) {
        if !d.is_zero() {
            self.with(|s| s.waited += d);
        }
    }

    pub fn exhausted(&self) {
        self.with(|s| s.exhausted = true);
    }

    pub fn snapshot(&self) -> TallyState {
        self.with(|s| s.clone())
    }

    /// Runs `f` on the request's trace log, when it has one (traces on).
    pub(super) fn with_trace<T>(
        &self,
        f: impl FnOnce(&mut super::trace::TraceLog) -> T,
    ) -> Option<T> {
        self.with(|s| s.trace.as_deref_mut().map(f))
    }

    /// Starts the request's trace log.
    pub(super) fn begin_trace(&self, log: super::trace::TraceLog) {
        self.with(|s| s.trace = Some(Box::new(log)));
    }
}

/// A tally as a route carries it: compared by identity, so routes stay comparable.
#[derive(Debug, Clone)]
pub struct TallyRef(pub Arc<Tally>);

impl PartialEq for TallyRef {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for TallyRef {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tally_gathers_attempts_tokens_and_the_serving_key() {
        let t = Tally::new();
        t.set_model(&"gemini-2.5-flash".into());
        t.attempt(&"k1".into());
        t.attempt(&"k2".into());
        t.add_tokens(Tokens {
            input: 10,
            output: 3,
            thought: 2,
            cached: 1,
        });
        t.add_tokens(Tokens {
            input: 5,
            ..Tokens::default()
        });
        let s = t.snapshot();
        assert_eq!((s.attempts, s.key_id.as_deref()), (2, Some("k2")));
        assert_eq!(s.tokens.input, 15);
        assert_eq!(s.model.as_deref(), Some("gemini-2.5-flash"));
        assert_ne!(TallyRef(Tally::new()), TallyRef(t.clone()));
        assert_eq!(TallyRef(t.clone()), TallyRef(t));
    }
}
