//! What a request asks of the pool: keys for a model, for the model catalog or for Gemini's
//! stored resources; the session whose key it should stay on; and, for a request about a
//! resource Gemini keeps per project, the only keys that may serve it (its owner's).

use std::sync::Arc;

use super::queue::Manner;
use crate::pool::Scope;
use crate::telemetry::TallyRef;

/// What a request asks of the pool: keys for a model (or the model catalog), and the session
/// whose key it should stay on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub(super) target: Target,
    pub(super) session: Option<String>,
    /// The request's tally, when the house observes it.
    tally: Option<TallyRef>,
    /// It may wait in its model's line when no key can serve it now.
    queued: bool,
    /// Only these keys may serve it (a resource's owner's), when it names one.
    placement: Option<Placement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Target {
    Model(Arc<str>),
    Catalog,
    Resources,
}

/// The keys that may serve a request about resources one project owns: the owner key first,
/// then the other keys of its declared project. `once`: the request's body can be sent only
/// once (an upload streamed through), so it gets one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub keys: Arc<[usize]>,
    pub once: bool,
}

impl Placement {
    /// The first key is preferred (the owner).
    pub fn new(keys: Vec<usize>) -> Placement {
        Placement {
            keys: keys.into(),
            once: false,
        }
    }

    /// Exactly one attempt, on the first of `keys` that can serve (a body sent only once).
    pub fn once(keys: Vec<usize>) -> Placement {
        Placement {
            keys: keys.into(),
            once: true,
        }
    }

    /// Whether key `index` may serve.
    pub fn admits(&self, index: usize) -> bool {
        self.keys.contains(&index)
    }

    /// The key to try first.
    pub fn first(&self) -> Option<usize> {
        self.keys.first().copied()
    }
}

impl Route {
    /// Keys usable for `model` (a validated, non-empty model id).
    pub fn model(model: &str) -> Route {
        debug_assert!(!model.is_empty(), "a route names its model");
        Route {
            target: Target::Model(model.into()),
            session: None,
            tally: None,
            queued: true,
            placement: None,
        }
    }

    /// Keys usable for the model catalog (listing models names no model).
    pub fn catalog() -> Route {
        Route {
            target: Target::Catalog,
            session: None,
            tally: None,
            queued: true,
            placement: None,
        }
    }

    /// Keys usable for calls about stored resources (files, caches, batches, interactions)
    /// that name no model.
    pub fn resources() -> Route {
        Route {
            target: Target::Resources,
            session: None,
            tally: None,
            queued: true,
            placement: None,
        }
    }

    /// Only the keys of `placement` may serve (they are tried owner first), and the request
    /// does not wait in a line: its answer says why its owner's keys cannot serve now.
    pub fn placed(mut self, placement: Option<Placement>) -> Route {
        if placement.is_some() {
            self.queued = false;
        }
        self.placement = placement;
        self
    }

    pub fn placement(&self) -> Option<&Placement> {
        self.placement.as_ref()
    }

    /// Stays on the key that served `session` last, while it is usable.
    pub fn with_session(mut self, session: Option<String>) -> Route {
        self.session = session;
        self
    }

    /// Without a session, the one `make` gives (a request's stable prefix): computed only then.
    pub fn session_or_else(mut self, make: impl FnOnce() -> Option<String>) -> Route {
        if self.session.is_none() {
            self.session = make();
        }
        self
    }

    /// Notes the request's model, keys and tokens in `tally`.
    pub fn with_tally(mut self, tally: Option<TallyRef>) -> Route {
        if let (Some(t), Target::Model(m)) = (&tally, &self.target) {
            t.0.set_model(m);
        }
        self.tally = tally;
        self
    }

    /// Whether the request may wait in its model's line when no key can serve it now (the
    /// default). A request with a fallback model to go to may not: it takes no key ahead of
    /// those waiting, and its fallback serves at once.
    pub fn queued(mut self, may_wait: bool) -> Route {
        self.queued = may_wait;
        self
    }

    pub(super) fn manner(&self) -> Manner {
        if self.queued {
            Manner::Waits
        } else {
            Manner::Yields
        }
    }

    pub fn tally(&self) -> Option<&TallyRef> {
        self.tally.as_ref()
    }

    pub fn scope(&self) -> Scope<'_> {
        match &self.target {
            Target::Model(m) => Scope::Model(m),
            Target::Catalog => Scope::Catalog,
            Target::Resources => Scope::Resources,
        }
    }

    /// The name its scope goes by in the pool (and its line in the queue).
    pub(super) fn scope_name(&self) -> &str {
        match &self.target {
            Target::Model(m) => m,
            Target::Catalog => crate::pool::CATALOG,
            Target::Resources => crate::pool::RESOURCES,
        }
    }

    /// The model's name, or `-` for the catalog, as telemetry labels it.
    pub fn label(&self) -> &Arc<str> {
        static CATALOG: std::sync::LazyLock<Arc<str>> = std::sync::LazyLock::new(|| Arc::from("-"));
        match &self.target {
            Target::Model(m) => m,
            Target::Catalog | Target::Resources => &CATALOG,
        }
    }

    /// The model's name, or the catalog's, for messages and logs.
    pub fn name(&self) -> &str {
        match &self.target {
            Target::Model(m) => m,
            Target::Catalog => "the model list",
            Target::Resources => "stored resources",
        }
    }
}
