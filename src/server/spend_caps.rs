//! Project groups' own monthly caps (`[[projects]] spend_cap_usd_per_month`), kept by the
//! gateway before Google's cap trips (Google enforces its own about ten minutes late). Once a
//! second, when any cap is set, the month's cost of each capped group's keys (this UTC month,
//! from the usage book: every gateway's on one Redis) is held against its cap; a group at its
//! cap rests exactly as one Google refused for its project spend cap — every key of it, every
//! model, until the cap resets on the first of next month — and the rest of the pool serves.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::clock::{month_so_far, utc_day};
use crate::config::money::ProjectCap;
use crate::pool::{Because, KeyHealth, KeyPool, Scope};
use crate::store::Owner;
use crate::telemetry::prices::usd;
use crate::telemetry::{Telemetry, UsageQuery};
use crate::upstream::billing::{Billing, BillingKind};
use crate::upstream::classify::{Cooldown, Verdict};

/// The caps in force (replaced by a reload).
#[derive(Debug, Default)]
pub struct SpendCaps {
    caps: ArcSwap<Vec<ProjectCap>>,
}

impl SpendCaps {
    pub fn new(caps: Vec<ProjectCap>) -> SpendCaps {
        SpendCaps {
            caps: ArcSwap::from_pointee(caps),
        }
    }

    pub fn set(&self, caps: Vec<ProjectCap>) {
        self.caps.store(Arc::new(caps));
    }

    /// Rests every capped group that has reached its cap and is not resting yet.
    pub async fn enforce(&self, pool: &KeyPool, telemetry: &Telemetry) {
        let caps = self.caps.load_full();
        if caps.is_empty() {
            return;
        }
        let query = UsageQuery {
            days: month_so_far(&utc_day(pool.clock().now())),
            ..UsageQuery::default()
        };
        let Ok(rows) = telemetry.usage.query(&query).await else {
            return;
        };
        let mut by_key: HashMap<Arc<str>, u64> = HashMap::new();
        for (k, c) in rows {
            if let Owner::Key(id) = k.owner {
                *by_key.entry(id).or_default() += c.cost_nanousd;
            }
        }
        let keys = pool.snapshot().keys;
        for cap in caps.iter() {
            let members: Vec<_> = keys.iter().filter(|k| k.group == cap.project).collect();
            let spent: u64 = members
                .iter()
                .map(|k| by_key.get(k.id.as_str()).copied().unwrap_or(0))
                .sum();
            let resting = members
                .iter()
                .all(|k| !matches!(k.health, KeyHealth::Available | KeyHealth::Cooling { .. }));
            if spent < cap.per_month_nanousd || resting {
                continue;
            }
            let Some(index) = members.first().and_then(|k| pool.index_of(&k.id)) else {
                continue;
            };
            let because = Because {
                words: format!(
                    "the gateway's spend cap for project {}: ${:.2} of ${:.2} this month (UTC)",
                    cap.project,
                    usd(spent),
                    usd(cap.per_month_nanousd)
                )
                .into(),
                request_id: None,
            };
            tracing::warn!(project = %cap.project, spent_usd = usd(spent), cap_usd = usd(cap.per_month_nanousd), "project at its spend cap; it rests until the cap resets");
            let verdict = Verdict::Billing(Billing {
                kind: BillingKind::ProjectCap,
                cooldown: Cooldown::UntilMonthlyReset,
            });
            pool.record_failure_because(index, Scope::Resources, &verdict, &because)
                .await;
        }
    }
}
