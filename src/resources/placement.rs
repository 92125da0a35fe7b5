//! Where a request that names stored resources may go: the keys of the project that owns them
//! (the owner key first). A request naming resources of two projects cannot be served by any
//! key; a resource whose owner key is disabled or removed, with no other key of its project
//! left, went with its key. Names this gateway never saw made leave the request free to go
//! anywhere, as before.

use super::{Owner, Owners, ResourceName};
use crate::dispatch::Placement;
use crate::pool::KeyPool;

/// Why a request naming resources cannot be placed on a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Misplaced {
    /// It names resources of two projects; no key can reach both.
    TwoProjects {
        first: (ResourceName, Owner),
        second: (ResourceName, Owner),
    },
    /// The owner key can no longer serve and no other key of its project is in the pool.
    Gone { name: ResourceName, why: String },
}

impl Misplaced {
    /// The explanation a client reads.
    pub fn message(&self) -> String {
        match self {
            Misplaced::TwoProjects { first, second } => format!(
                "This request names resources of two Google projects: {} (of {}) and {} (of {}). \
                 Gemini serves a request only with resources of one project; re-create one of them \
                 with the other (for a file, upload it again in the same conversation).",
                first.0,
                first.1.project_label(),
                second.0,
                second.1.project_label()
            ),
            Misplaced::Gone { name, why } => format!(
                "The {} {name} was created with a gateway key that is now {why}, and no other key of \
                 its project is in the pool. Gemini keeps a {} only in the project that created it, so \
                 it went with its key: create it again.",
                name.kind().noun(),
                name.kind().noun()
            ),
        }
    }
}

/// A request's place: the keys that may serve it, and the resource it is about (for messages).
#[derive(Debug, Clone)]
pub struct Placed {
    pub placement: Placement,
    pub about: ResourceName,
    pub owner: Owner,
}

/// The keys that may serve a request naming `names`: `Ok(None)` when the book knows none of
/// them (any key may try).
pub async fn place(
    owners: &Owners,
    pool: &KeyPool,
    names: &[ResourceName],
) -> Result<Option<Placed>, Misplaced> {
    let mut first: Option<(ResourceName, Owner)> = None;
    for name in names {
        let Some(owner) = owners.lookup(name).await else {
            continue;
        };
        match &first {
            None => first = Some((name.clone(), owner)),
            Some((_, o)) if o.same_project(&owner) => {}
            Some(f) => {
                return Err(Misplaced::TwoProjects {
                    first: f.clone(),
                    second: (name.clone(), owner),
                })
            }
        }
    }
    let Some((about, owner)) = first else {
        return Ok(None);
    };
    let keys = pool.owner_keys(&owner.key, owner.project.as_deref());
    if keys.keys.is_empty() {
        return Err(Misplaced::Gone {
            name: about,
            why: keys
                .owner_gone
                .unwrap_or_else(|| "out of the pool".to_string()),
        });
    }
    Ok(Some(Placed {
        placement: Placement::new(keys.keys),
        about,
        owner,
    }))
}
