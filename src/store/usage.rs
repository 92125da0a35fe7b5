//! Usage totals: per pool key × model × day and per client × model × day, the counts of
//! requests, failures and rate limits and the tokens Gemini reported. Gateways add deltas; the
//! store sums them (so totals survive restarts and add up across gateways on one Redis). Days are
//! UTC dates (`YYYY-MM-DD`). This file holds the types and the embedded store's table.

use std::sync::Arc;

use redb::{ReadTransaction, ReadableTable, TableDefinition, WriteTransaction};

/// Whose usage a row counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Owner {
    /// A pool key, by id.
    Key(Arc<str>),
    /// A client, by name.
    Client(Arc<str>),
}

impl Owner {
    fn tag(&self) -> (&'static str, &str) {
        match self {
            Owner::Key(id) => ("k", id),
            Owner::Client(name) => ("c", name),
        }
    }

    fn from_tag(tag: &str, name: &str) -> Option<Owner> {
        match tag {
            "k" => Some(Owner::Key(name.into())),
            "c" => Some(Owner::Client(name.into())),
            _ => None,
        }
    }
}

/// What a row counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub requests: u64,
    pub failures: u64,
    pub rate_limited: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub thought_tokens: u64,
    pub cached_tokens: u64,
    /// What the tokens cost, in nano-dollars (10⁻⁹ USD), as the price table had it then.
    pub cost_nanousd: u64,
}

/// The counters' names, in the order [`Counts::values`] gives them.
pub const COUNTERS: [&str; 8] = [
    "requests",
    "failures",
    "rate_limited",
    "input_tokens",
    "output_tokens",
    "thought_tokens",
    "cached_tokens",
    "cost_nanousd",
];

impl Counts {
    pub fn values(&self) -> [u64; 8] {
        [
            self.requests,
            self.failures,
            self.rate_limited,
            self.input_tokens,
            self.output_tokens,
            self.thought_tokens,
            self.cached_tokens,
            self.cost_nanousd,
        ]
    }

    pub fn from_values(v: [u64; 8]) -> Counts {
        Counts {
            requests: v[0],
            failures: v[1],
            rate_limited: v[2],
            input_tokens: v[3],
            output_tokens: v[4],
            thought_tokens: v[5],
            cached_tokens: v[6],
            cost_nanousd: v[7],
        }
    }

    pub fn add(&mut self, other: &Counts) {
        let mut v = self.values();
        for (a, b) in v.iter_mut().zip(other.values()) {
            *a += b;
        }
        *self = Counts::from_values(v);
    }

    /// One counter by its name in [`COUNTERS`].
    pub fn add_named(&mut self, name: &str, n: u64) {
        let mut v = self.values();
        if let Some(i) = COUNTERS.iter().position(|c| *c == name) {
            v[i] += n;
        }
        *self = Counts::from_values(v);
    }
}

/// Where a row's counts belong (shared names: a row is built per attempt without copying them).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UsageKey {
    pub day: Arc<str>,
    pub owner: Owner,
    pub model: Arc<str>,
}

impl UsageKey {
    /// `owner|name|model` (the day is the Redis hash's name, or the embedded key's prefix).
    pub fn field(&self) -> String {
        let (tag, name) = self.owner.tag();
        format!("{tag}|{name}|{}", self.model)
    }

    pub fn from_field(day: &str, field: &str) -> Option<UsageKey> {
        let mut it = field.splitn(3, '|');
        let (tag, name, model) = (it.next()?, it.next()?, it.next()?);
        Some(UsageKey {
            day: day.into(),
            owner: Owner::from_tag(tag, name)?,
            model: model.into(),
        })
    }
}

/// One row: a key and its counts.
pub type UsageRow = (UsageKey, Counts);

const USAGE: TableDefinition<&str, &str> = TableDefinition::new("usage");

pub(super) type DbError = Box<redb::Error>;

fn boxed(e: impl Into<redb::Error>) -> DbError {
    Box::new(e.into())
}

fn encode(c: &Counts) -> String {
    c.values().map(|v| v.to_string()).join(",")
}

fn decode(s: &str) -> Counts {
    // Rows written before a counter existed have fewer values: the rest read as 0.
    let mut v = [0u64; 8];
    for (slot, part) in v.iter_mut().zip(s.split(',')) {
        *slot = part.parse().unwrap_or(0);
    }
    Counts::from_values(v)
}

pub(super) fn create_table(txn: &WriteTransaction) -> Result<(), DbError> {
    txn.open_table(USAGE).map_err(boxed)?;
    Ok(())
}

/// Adds the deltas to the stored totals inside `txn`.
pub(super) fn add(txn: &WriteTransaction, rows: &[UsageRow]) -> Result<(), DbError> {
    let mut table = txn.open_table(USAGE).map_err(boxed)?;
    for (key, delta) in rows {
        let name = format!("{}|{}", key.day, key.field());
        let mut total = table
            .get(name.as_str())
            .map_err(boxed)?
            .map(|v| decode(v.value()))
            .unwrap_or_default();
        total.add(delta);
        table
            .insert(name.as_str(), encode(&total).as_str())
            .map_err(boxed)?;
    }
    Ok(())
}

/// The stored rows of the days `from..=to`.
pub(super) fn load(txn: &ReadTransaction, from: &str, to: &str) -> Result<Vec<UsageRow>, DbError> {
    let table = txn.open_table(USAGE).map_err(boxed)?;
    let mut out = Vec::new();
    // Keys start with the day, so the range is a prefix range.
    let end = format!("{to}|\u{10FFFF}");
    for entry in table.range(from..end.as_str()).map_err(boxed)? {
        let (k, v) = entry.map_err(boxed)?;
        let Some((day, field)) = k.value().split_once('|') else {
            continue;
        };
        if let Some(key) = UsageKey::from_field(day, field) {
            out.push((key, decode(v.value())));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_counts_round_trip() {
        let k = UsageKey {
            day: "2026-12-01".into(),
            owner: Owner::Client("team-a".into()),
            model: "gemini-2.5-flash".into(),
        };
        assert_eq!(UsageKey::from_field("2026-12-01", &k.field()), Some(k));
        let c = Counts {
            requests: 3,
            failures: 1,
            rate_limited: 1,
            input_tokens: 100,
            output_tokens: 20,
            thought_tokens: 7,
            cached_tokens: 4,
            cost_nanousd: 1_500,
        };
        assert_eq!(decode(&encode(&c)), c);
        assert_eq!(
            decode("3,1,1,100,20,7,4").cost_nanousd,
            0,
            "a row from before costs"
        );
        let mut twice = c;
        twice.add(&c);
        assert_eq!(twice.requests, 6);
        twice.add_named("cached_tokens", 2);
        assert_eq!(twice.cached_tokens, 10);
    }
}
