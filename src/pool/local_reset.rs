//! What an operator says to the pool's local view: a key's model rules, and taking back each
//! decision the pool made on evidence — a key's learned group, the models its answers said it
//! lacks, a group's learned limits. (A cooldown, an ejection and a disable are cleared with the
//! store's own changes.)

use super::*;

impl LocalView {
    /// Sets what an operator says about key `key_id`'s models; false when it is not in the pool.
    pub fn set_key_models(&self, key_id: &str, rules: Option<KeyModels>) -> bool {
        let mut state = self.lock();
        let Some(k) = state
            .keys
            .iter_mut()
            .find(|k| !k.removed && k.key.id() == key_id)
        else {
            return false;
        };
        k.rules = rules.filter(|r| !r.is_default()).map(Box::new);
        true
    }

    /// Takes key `key_id` out of its learned group into one of its own; `None` when no such
    /// key is in the pool. A declared group is the operator's own word and stays.
    pub fn ungroup(&self, key_id: &str) -> Option<Vec<Change>> {
        let mut guard = self.lock();
        let state = &mut *guard;
        let index = state
            .keys
            .iter()
            .position(|k| !k.removed && k.key.id() == key_id)?;
        let split = state.groups.split(index, key_id);
        state.keys[index].why.group = None;
        Some(regroup(state, split))
    }

    /// Forgets that key `key_id`'s tier lacks `model` (every model when `None`): it is asked
    /// again. False when no such key is in the pool.
    pub fn forget_lacking(&self, key_id: &str, model: Option<&str>) -> bool {
        let mut state = self.lock();
        let Some(k) = state
            .keys
            .iter_mut()
            .find(|k| !k.removed && k.key.id() == key_id)
        else {
            return false;
        };
        match model {
            Some(m) => {
                k.why.lacking.remove(m);
            }
            None => k.why.lacking.clear(),
        }
        true
    }

    /// The changes that forget group `group`'s learned limits for `model` (every model when
    /// `None`); `None` when no key is in such a group. Declared limits stay.
    pub fn learned_limits_of(&self, group: &str, model: Option<&str>) -> Option<Vec<Change>> {
        let state = self.lock();
        let g = (0..state.keys.len())
            .filter(|&i| !state.keys[i].removed)
            .map(|i| state.groups.of(i))
            .find(|&g| state.groups.name(g) == group)?;
        let models = match model {
            Some(m) => vec![m.to_string()],
            None => state.pacing.learned_models(g),
        };
        Some(
            models
                .into_iter()
                .flat_map(|m| {
                    state
                        .pacing
                        .learned_kinds(g, &m)
                        .into_iter()
                        .map(move |kind| Change::ForgetLimit {
                            group: group.to_string(),
                            model: m.clone(),
                            kind,
                        })
                })
                .collect(),
        )
    }
}
