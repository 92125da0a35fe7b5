//! The embedded store's quota tables: the groups the pool learned (key id → group), the limits
//! it learned (`group|model|kind` → value) and each (group, model)'s count for the Pacific day
//! (`group|model` → `day_ends|count`), so daily counts survive restarts.

use redb::{ReadTransaction, ReadableTable, TableDefinition, WriteTransaction};

use super::{Change, DailyCount, LearnedLimit, StoredQuota};

const GROUPS: TableDefinition<&str, &str> = TableDefinition::new("groups");
const LIMITS: TableDefinition<&str, u64> = TableDefinition::new("limits");
const DAILY: TableDefinition<&str, &str> = TableDefinition::new("daily");

/// A database error, boxed (redb's is large).
pub(super) type DbError = Box<redb::Error>;

fn boxed(e: impl Into<redb::Error>) -> DbError {
    Box::new(e.into())
}

pub(super) fn create_tables(txn: &WriteTransaction) -> Result<(), DbError> {
    txn.open_table(GROUPS).map_err(boxed)?;
    txn.open_table(LIMITS).map_err(boxed)?;
    txn.open_table(DAILY).map_err(boxed)?;
    Ok(())
}

/// Writes a learned membership or limit inside `txn`.
pub(super) fn apply(txn: &WriteTransaction, change: &Change) -> Result<(), DbError> {
    match change {
        Change::Group { key_id, group } => {
            txn.open_table(GROUPS)
                .map_err(boxed)?
                .insert(key_id.as_str(), group.as_str())
                .map_err(boxed)?;
        }
        Change::Limit {
            group,
            model,
            kind,
            value,
        } => {
            let field = LearnedLimit::field(group, model, *kind);
            txn.open_table(LIMITS)
                .map_err(boxed)?
                .insert(field.as_str(), *value)
                .map_err(boxed)?;
        }
        Change::ForgetLimit { group, model, kind } => {
            let field = LearnedLimit::field(group, model, *kind);
            txn.open_table(LIMITS)
                .map_err(boxed)?
                .remove(field.as_str())
                .map_err(boxed)?;
        }
        _ => {}
    }
    Ok(())
}

/// Keeps today's counts inside `txn` (the larger count of a day wins; a newer day replaces an
/// older).
pub(super) fn flush_daily(txn: &WriteTransaction, counts: &[DailyCount]) -> Result<(), DbError> {
    let mut daily = txn.open_table(DAILY).map_err(boxed)?;
    for c in counts {
        let field = format!("{}|{}", c.group, c.model);
        let old = daily
            .get(field.as_str())
            .map_err(boxed)?
            .and_then(|v| parse_daily(v.value()));
        let keep = match old {
            Some((ends, n)) if ends == c.day_ends && n >= c.count => continue,
            Some((ends, _)) if ends > c.day_ends => continue,
            _ => format!("{}|{}", c.day_ends, c.count),
        };
        daily.insert(field.as_str(), keep.as_str()).map_err(boxed)?;
    }
    Ok(())
}

/// Everything stored about quotas.
pub(super) fn load(txn: &ReadTransaction) -> Result<StoredQuota, DbError> {
    let mut out = StoredQuota::default();
    for entry in txn
        .open_table(GROUPS)
        .map_err(boxed)?
        .iter()
        .map_err(boxed)?
    {
        let (k, v) = entry.map_err(boxed)?;
        out.groups
            .push((k.value().to_string(), v.value().to_string()));
    }
    for entry in txn
        .open_table(LIMITS)
        .map_err(boxed)?
        .iter()
        .map_err(boxed)?
    {
        let (k, v) = entry.map_err(boxed)?;
        out.limits
            .extend(LearnedLimit::from_field(k.value(), v.value()));
    }
    for entry in txn
        .open_table(DAILY)
        .map_err(boxed)?
        .iter()
        .map_err(boxed)?
    {
        let (k, v) = entry.map_err(boxed)?;
        let (Some((group, model)), Some((day_ends, count))) =
            (k.value().rsplit_once('|'), parse_daily(v.value()))
        else {
            continue;
        };
        out.daily.push(DailyCount {
            group: group.to_string(),
            model: model.to_string(),
            day_ends,
            count,
        });
    }
    Ok(out)
}

fn parse_daily(v: &str) -> Option<(i64, u64)> {
    let (ends, count) = v.split_once('|')?;
    Some((ends.parse().ok()?, count.parse().ok()?))
}
