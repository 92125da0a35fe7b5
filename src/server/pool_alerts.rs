//! The pool's conditions as alerts: once a second, when alerts are on, each key's state is
//! held against what was last said — a key disabled raises `key_disabled` (and its return, the
//! recovery), a project group whose keys all rest on a billing refusal raises
//! `project_capped` — and once a minute the upstream error share is judged. The alerts' own
//! book turns a state that holds into one webhook call per change.

use std::collections::BTreeMap;

use crate::pool::{KeyHealth, KeyPool};
use crate::telemetry::alerts::Condition;
use crate::telemetry::Telemetry;

/// Says the pool's conditions to the alerts (nothing when they are off).
pub fn watch(pool: &KeyPool, telemetry: &Telemetry) {
    if telemetry.alerts().is_none() {
        return;
    }
    let snap = pool.snapshot();
    let mut groups: BTreeMap<&str, (bool, Option<&str>)> = BTreeMap::new();
    for k in &snap.keys {
        let disabled = match &k.health {
            KeyHealth::Disabled(d) => Some(d.reason.as_str()),
            _ => None,
        };
        telemetry.alert(
            Condition::KeyDisabled { key: k.id.clone() },
            disabled.is_some(),
            || {
                format!(
                    "Key {} ({}) was disabled: {}.",
                    k.id,
                    k.masked,
                    disabled.unwrap_or("")
                )
            },
        );
        let billing = matches!(k.health, KeyHealth::Billing { .. });
        let g = groups.entry(k.group.as_str()).or_insert((true, None));
        g.0 &= billing;
        if billing {
            g.1 = k.last_error.as_deref().or(g.1);
        }
    }
    for (group, (all_billing, why)) in groups {
        telemetry.alert(
            Condition::ProjectCapped {
                project: group.to_string(),
            },
            all_billing,
            || {
                format!(
                    "Project {group} is at a spend cap ({}): its keys rest until it resets.",
                    why.unwrap_or("billing")
                )
            },
        );
    }
}
