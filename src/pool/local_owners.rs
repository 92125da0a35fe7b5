//! Which keys may act for a resource's owner. Gemini keeps files, caches, batches and
//! interactions in the Google project of the key that created them; any key of that project may
//! use them, a key of another project gets a 403. A project is known for certain only when the
//! operator declared it (`project:key`): a learned group is evidence of a shared quota, not of a
//! shared project, so it never widens the set. The owner key itself first, then its declared
//! project's other keys, each while it is in the pool and not disabled.

use super::LocalView;

/// The keys that may serve a resource created by one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerKeys {
    /// The owner key's index, when it is still in the pool.
    pub owner: Option<usize>,
    /// Keys that may serve it now (owner first), none disabled or removed.
    pub keys: Vec<usize>,
    /// Why the owner key itself cannot serve (`disabled: …`, `removed`), when it cannot.
    pub owner_gone: Option<String>,
}

impl LocalView {
    /// The keys that may act for a resource made by the key `key_id`, of the declared `project`
    /// (the project as it was declared when the resource was made).
    pub fn owner_keys(&self, key_id: &str, project: Option<&str>) -> OwnerKeys {
        let state = self.lock();
        let owner = state.keys.iter().position(|k| k.key.id() == key_id);
        let mut keys = Vec::new();
        let owner_gone = match owner.map(|i| &state.keys[i]) {
            None => Some("removed from the pool".to_string()),
            Some(k) if k.removed => Some("removed from the pool".to_string()),
            Some(k) => match &k.disabled {
                Some(d) => Some(format!("disabled ({})", d.reason)),
                None => {
                    keys.extend(owner);
                    None
                }
            },
        };
        if let Some(project) = project {
            let groups = &state.groups;
            keys.extend((0..state.keys.len()).filter(|&i| {
                let (k, g) = (&state.keys[i], groups.of(i));
                Some(i) != owner
                    && !k.removed
                    && k.disabled.is_none()
                    && groups.is_declared(g)
                    && groups.name(g) == project
            }));
        }
        OwnerKeys {
            owner: owner.filter(|_| owner_gone.is_none()),
            keys,
            owner_gone,
        }
    }

    /// The project `index` was declared in (`project:key`), if any.
    pub fn declared_project(&self, index: usize) -> Option<String> {
        let state = self.lock();
        let g = state.groups.of(index);
        state
            .groups
            .is_declared(g)
            .then(|| state.groups.name(g).to_string())
    }
}
