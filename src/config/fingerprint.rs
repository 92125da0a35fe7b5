//! Which settings differ between two readings of the configuration (a reload's report), without
//! keeping their values: some are credentials, so each is kept only as a digest.

use std::collections::{BTreeMap, HashMap};

use sha2::{Digest, Sha256};

use super::{setting, SETTINGS};

/// Every known setting's value at one reading, as a digest (absent: unset).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Fingerprint(BTreeMap<&'static str, [u8; 32]>);

impl Fingerprint {
    pub fn of(vars: &HashMap<String, String>) -> Fingerprint {
        Fingerprint(
            SETTINGS
                .iter()
                .filter_map(|(name, _, _)| {
                    setting(vars, name).map(|v| (*name, Sha256::digest(v.as_bytes()).into()))
                })
                .collect(),
        )
    }

    /// The settings whose value differs in `other` (set, unset or changed), in the order of
    /// `SETTINGS`.
    pub fn changed(&self, other: &Fingerprint) -> Vec<&'static str> {
        SETTINGS
            .iter()
            .map(|(name, _, _)| *name)
            .filter(|name| self.0.get(name) != other.0.get(name))
            .collect()
    }
}

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::vars;

    #[test]
    fn names_what_was_set_unset_or_changed_and_shows_no_value() {
        let before = Fingerprint::of(&vars(&[
            ("PORT", "8082"),
            ("BIG_MODEL", "a"),
            ("NOT_OURS", "x"),
        ]));
        let after = Fingerprint::of(&vars(&[
            ("PORT", "9000"),
            ("LOG_LEVEL", "debug"),
            ("NOT_OURS", "y"),
        ]));
        let mut changed = before.changed(&after);
        changed.sort_unstable();
        assert_eq!(changed, ["BIG_MODEL", "LOG_LEVEL", "PORT"]);
        assert!(before.changed(&before.clone()).is_empty());
        let secret = Fingerprint::of(&vars(&[("ADMIN_API_KEY", "very-secret-admin")]));
        assert!(!format!("{secret:?}").contains("very-secret"));
    }
}
