//! Schema node preparation shared by both outputs: `$ref` inlining with a cycle guard, `allOf`
//! merging, `oneOf` → `anyOf`, `const` → `enum`, `examples` → `example`, exclusive bounds →
//! inclusive ones; plus small map helpers.
//!
//! Inlining can blow a small schema up exponentially (a `$def` whose properties all refer to the
//! next `$def`, 24 levels deep, is 2^24 nodes from 3 KB), and a node visited many times copies
//! its strings each time. Every visit is therefore charged to a work budget ([`Ctx::new`]) with
//! what it copies ([`cost`]: one unit per JSON value plus one per 64 bytes of text); once the
//! budget is spent, nodes come out as plain objects at no cost and the caller is told
//! ([`Ctx::exhausted`]).

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::{json, Map, Value};

/// Deeper schemas are cut (replaced by a plain object) to bound the output.
pub(super) const MAX_DEPTH: usize = 24;

/// Shared state: the root (for `$ref`), the refs being expanded (cycle guard) and the work
/// budget.
pub(super) struct Ctx<'a> {
    root: &'a Value,
    expanding: Vec<String>,
    /// Work units left (see [`cost`]).
    budget: usize,
    exhausted: bool,
    /// Sizes (in JSON values) of referenced targets, computed once each.
    sizes: HashMap<String, usize>,
    /// Nesting of `allOf` members being merged (their `$ref`s can chain without end).
    flat_depth: usize,
}

impl<'a> Ctx<'a> {
    pub(super) fn new(root: &'a Value, budget: usize) -> Self {
        Self {
            root,
            expanding: Vec::new(),
            budget,
            exhausted: false,
            sizes: HashMap::new(),
            flat_depth: 0,
        }
    }

    /// True once the budget ran out (the output is then cut short).
    pub(super) fn exhausted(&self) -> bool {
        self.exhausted
    }

    /// Work units left.
    pub(super) fn remaining(&self) -> usize {
        self.budget
    }

    /// Spend `units`; false (and exhausted from now on) when they are not there.
    pub(super) fn charge(&mut self, units: usize) -> bool {
        if self.exhausted || units > self.budget {
            self.budget = 0;
            self.exhausted = true;
            return false;
        }
        self.budget -= units;
        true
    }

    fn size_of(&mut self, reference: &str, target: &Map<String, Value>) -> usize {
        if let Some(n) = self.sizes.get(reference) {
            return *n;
        }
        let n = map_cost(target);
        self.sizes.insert(reference.to_owned(), n);
        n
    }

    /// Look up a local reference (`#/$defs/X`, `#/definitions/X`, any `#/a/b` pointer).
    fn lookup(&self, reference: &str) -> Option<&'a Value> {
        let pointer = reference.strip_prefix('#')?;
        if pointer.is_empty() {
            return Some(self.root);
        }
        self.root.pointer(pointer)
    }
}

/// Keywords that make [`prepare`] rewrite a node (otherwise the node is borrowed as is).
const REWRITTEN: &[&str] = &[
    "$ref",
    "allOf",
    "oneOf",
    "const",
    "examples",
    "exclusiveMinimum",
    "exclusiveMaximum",
];

/// A schema node after reference resolution and keyword rewrites common to both outputs.
pub(super) struct Prepared<'n> {
    pub(super) map: Cow<'n, Map<String, Value>>,
    /// Reference pushed on `Ctx::expanding` while the node's children are processed.
    pub(super) pushed: Option<String>,
    /// A reference cycle was cut here.
    pub(super) cyclic: bool,
}

/// What a node becomes once the budget is spent: a cut (plain object), at no cost.
fn spent<'n>() -> Prepared<'n> {
    Prepared {
        map: Cow::Owned(Map::new()),
        pushed: None,
        cyclic: true,
    }
}

pub(super) fn prepare<'n>(node: &'n Value, ctx: &mut Ctx<'_>) -> Prepared<'n> {
    if !ctx.charge(1) {
        return spent();
    }
    let mut map = match node {
        Value::Object(m) if !REWRITTEN.iter().any(|k| m.contains_key(*k)) => {
            // The caller copies the node's own keywords (not its subschemas, charged when
            // visited).
            if !ctx.charge(node_cost(m)) {
                return spent();
            }
            return Prepared {
                map: Cow::Borrowed(m),
                pushed: None,
                cyclic: false,
            };
        }
        Value::Object(m) => {
            if !ctx.charge(map_cost(m)) {
                return spent();
            }
            m.clone()
        }
        _ => Map::new(),
    };
    let mut pushed = None;
    let mut hops = 0;
    while let Some(reference) = map.get("$ref").and_then(Value::as_str).map(str::to_owned) {
        map.remove("$ref");
        hops += 1;
        let target = ctx.lookup(&reference);
        if hops > 8 || ctx.expanding.contains(&reference) {
            if let Some(d) = target.and_then(|t| t.get("description")) {
                map.entry("description").or_insert_with(|| d.clone());
            }
            return Prepared {
                map: Cow::Owned(map),
                pushed,
                cyclic: true,
            };
        }
        let Some(Value::Object(target)) = target else {
            break;
        };
        // Inlining copies the whole target: charge its size.
        let size = ctx.size_of(&reference, target);
        if !ctx.charge(size) {
            return Prepared {
                map: Cow::Owned(Map::new()),
                pushed,
                cyclic: true,
            };
        }
        for (k, v) in target {
            map.entry(k.clone()).or_insert_with(|| v.clone());
        }
        if pushed.is_none() {
            ctx.expanding.push(reference.clone());
            pushed = Some(reference);
        }
    }
    if let Some(Value::Array(parts)) = map.remove("allOf") {
        for part in &parts {
            merge_all_of(&mut map, prepare_flat(part, ctx));
        }
    }
    if let Some(one_of) = map.remove("oneOf") {
        map.entry("anyOf").or_insert(one_of);
    }
    if let Some(c) = map.remove("const") {
        map.entry("enum").or_insert_with(|| Value::Array(vec![c]));
    }
    if let Some(Value::Array(examples)) = map.remove("examples") {
        if let Some(first) = examples.into_iter().next() {
            map.entry("example").or_insert(first);
        }
    }
    let integer = map.get("type").and_then(Value::as_str) == Some("integer");
    if let Some(v) = map.remove("exclusiveMinimum").filter(Value::is_number) {
        let bound = shift(&v, integer, 1);
        if !map.get("minimum").is_some_and(|m| ge(m, &bound)) {
            map.insert("minimum".into(), bound);
        }
    }
    if let Some(v) = map.remove("exclusiveMaximum").filter(Value::is_number) {
        let bound = shift(&v, integer, -1);
        if !map.get("maximum").is_some_and(|m| ge(&bound, m)) {
            map.insert("maximum".into(), bound);
        }
    }
    Prepared {
        map: Cow::Owned(map),
        pushed,
        cyclic: false,
    }
}

/// `allOf` members are merged shallowly after their own `$ref`s are resolved. Members whose
/// own `allOf`s nest deeper than [`MAX_DEPTH`] are dropped (a `$ref` chain through `allOf`s
/// would otherwise recurse once per definition).
fn prepare_flat(node: &Value, ctx: &mut Ctx<'_>) -> Map<String, Value> {
    if ctx.flat_depth >= MAX_DEPTH {
        return Map::new();
    }
    ctx.flat_depth += 1;
    let p = prepare(node, ctx);
    ctx.flat_depth -= 1;
    if p.pushed.is_some() {
        ctx.expanding.pop();
    }
    match p.map {
        // A borrowed member is copied whole, subschemas included.
        Cow::Borrowed(m) if !ctx.charge(map_cost(m)) => Map::new(),
        map => map.into_owned(),
    }
}

/// Keywords whose values are subschemas (visited, and charged, one by one).
const SUBSCHEMAS: &[&str] = &[
    "properties",
    "items",
    "prefixItems",
    "anyOf",
    "oneOf",
    "allOf",
    "additionalProperties",
    "$defs",
    "definitions",
];

/// Copy cost of a value: one unit per JSON value plus one per 64 bytes of text (keys included).
pub(super) fn cost(v: &Value) -> usize {
    match v {
        Value::String(s) => 1 + s.len() / 64,
        Value::Array(a) => a.iter().fold(1, |n, x| n.saturating_add(cost(x))),
        Value::Object(m) => map_cost(m),
        _ => 1,
    }
}

/// [`cost`] of an object.
pub(super) fn map_cost(m: &Map<String, Value>) -> usize {
    m.iter()
        .fold(1, |n, (k, v)| n.saturating_add(k.len() / 64 + cost(v)))
}

/// Cost of a visit: the node's own keywords in full, its subschemas one unit each (property
/// names included, they are copied).
fn node_cost(m: &Map<String, Value>) -> usize {
    m.iter().fold(1, |n, (k, v)| {
        let own = if SUBSCHEMAS.contains(&k.as_str()) {
            match v {
                Value::Object(props) => props
                    .keys()
                    .fold(1usize, |n, name| n.saturating_add(1 + name.len() / 64)),
                Value::Array(list) => 1 + list.len(),
                _ => 1,
            }
        } else {
            cost(v)
        };
        n.saturating_add(k.len() / 64 + own)
    })
}

/// Moves (never copies) the member's keywords into the node: a chain of `allOf`s would
/// otherwise copy the deepest member's values once per level.
fn merge_all_of(into: &mut Map<String, Value>, part: Map<String, Value>) {
    for (k, v) in part {
        match (k.as_str(), into.get_mut(&k)) {
            ("properties", Some(Value::Object(existing))) => {
                if let Value::Object(more) = v {
                    for (pk, pv) in more {
                        existing.entry(pk).or_insert(pv);
                    }
                }
            }
            ("required", Some(Value::Array(existing))) => {
                if let Value::Array(more) = v {
                    existing.extend(more);
                }
            }
            (_, Some(_)) => {}
            (_, None) => {
                into.insert(k, v);
            }
        }
    }
}

fn shift(v: &Value, integer: bool, delta: i64) -> Value {
    match (integer, v.as_i64()) {
        (true, Some(i)) => json!(i.saturating_add(delta)),
        _ => v.clone(),
    }
}

fn ge(a: &Value, b: &Value) -> bool {
    matches!((a.as_f64(), b.as_f64()), (Some(x), Some(y)) if x >= y)
}

/// A node's prepared keywords and the reference pushed while its children are processed.
pub(super) type Entered<'n> = (Cow<'n, Map<String, Value>>, Option<String>);

/// How both converters enter a node: `Err` is their whole answer for it (too deep, or a
/// reference cycle cut here, typed `object_type`); `Ok` gives the prepared keywords and the
/// reference to [`finish`] once the node's children are done.
pub(super) fn enter<'n>(
    node: &'n Value,
    ctx: &mut Ctx<'_>,
    depth: usize,
    object_type: &str,
) -> Result<Entered<'n>, Map<String, Value>> {
    if depth > MAX_DEPTH {
        return Err(json_object(json!({ "type": object_type })));
    }
    let Prepared {
        map,
        pushed,
        cyclic,
    } = prepare(node, ctx);
    if cyclic {
        finish(ctx, pushed);
        return Err(cut_marker(&map, object_type));
    }
    Ok((map, pushed))
}

pub(super) fn finish(ctx: &mut Ctx<'_>, pushed: Option<String>) {
    if pushed.is_some() {
        ctx.expanding.pop();
    }
}

pub(super) fn is_null_schema(v: &Value) -> bool {
    match v {
        Value::Object(m) => {
            m.get("type").and_then(Value::as_str) == Some("null")
                || m.get("const") == Some(&Value::Null)
                || m.get("enum") == Some(&json!([null]))
        }
        _ => false,
    }
}

/// Dedupe `required` and keep only names present in `properties`.
pub(super) fn clean_required(
    required: &Value,
    properties: Option<&Map<String, Value>>,
) -> Option<Value> {
    let props = properties?;
    let mut seen: Vec<&str> = Vec::new();
    let mut dedup = std::collections::HashSet::new();
    for name in required.as_array()?.iter().filter_map(Value::as_str) {
        if props.contains_key(name) && dedup.insert(name) {
            seen.push(name);
        }
    }
    (!seen.is_empty()).then(|| json!(seen))
}

pub(super) fn json_object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

pub(super) fn cut_marker(map: &Map<String, Value>, object_type: &str) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("type".into(), json!(object_type));
    copy_str(map, &mut out, &["description"]);
    out
}

pub(super) fn copy_str(from: &Map<String, Value>, to: &mut Map<String, Value>, keys: &[&str]) {
    for k in keys {
        if let Some(v) = from.get(*k).filter(|v| v.is_string()) {
            to.insert((*k).to_owned(), v.clone());
        }
    }
}

pub(super) fn copy_uint(from: &Map<String, Value>, to: &mut Map<String, Value>, keys: &[&str]) {
    for k in keys {
        if let Some(n) = from.get(*k).and_then(Value::as_u64) {
            to.insert((*k).to_owned(), json!(n));
        }
    }
}
