//! Schema node preparation shared by both outputs: `$ref` inlining with a cycle guard, `allOf`
//! merging, `oneOf` → `anyOf`, `const` → `enum`, `examples` → `example`, exclusive bounds →
//! inclusive ones; plus small map helpers.

use std::borrow::Cow;

use serde_json::{json, Map, Value};

/// Deeper schemas are cut (replaced by a plain object) to bound the output.
pub(super) const MAX_DEPTH: usize = 24;

/// Shared state: the root (for `$ref`) and the refs being expanded (cycle guard).
pub(super) struct Ctx<'a> {
    root: &'a Value,
    expanding: Vec<String>,
}

impl<'a> Ctx<'a> {
    pub(super) fn new(root: &'a Value) -> Self {
        Self {
            root,
            expanding: Vec::new(),
        }
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

pub(super) fn prepare<'n>(node: &'n Value, ctx: &mut Ctx<'_>) -> Prepared<'n> {
    let mut map = match node {
        Value::Object(m) if !REWRITTEN.iter().any(|k| m.contains_key(*k)) => {
            return Prepared {
                map: Cow::Borrowed(m),
                pushed: None,
                cyclic: false,
            }
        }
        Value::Object(m) => m.clone(),
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
            merge_all_of(&mut map, &prepare_flat(part, ctx));
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

/// `allOf` members are merged shallowly after their own `$ref`s are resolved.
fn prepare_flat(node: &Value, ctx: &mut Ctx<'_>) -> Map<String, Value> {
    let p = prepare(node, ctx);
    if p.pushed.is_some() {
        ctx.expanding.pop();
    }
    p.map.into_owned()
}

fn merge_all_of(into: &mut Map<String, Value>, part: &Map<String, Value>) {
    for (k, v) in part {
        match (k.as_str(), into.get_mut(k)) {
            ("properties", Some(Value::Object(existing))) => {
                if let Value::Object(more) = v {
                    for (pk, pv) in more {
                        existing.entry(pk.clone()).or_insert_with(|| pv.clone());
                    }
                }
            }
            ("required", Some(Value::Array(existing))) => {
                if let Value::Array(more) = v {
                    existing.extend(more.iter().cloned());
                }
            }
            (_, Some(_)) => {}
            (_, None) => {
                into.insert(k.clone(), v.clone());
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
    for name in required.as_array()?.iter().filter_map(Value::as_str) {
        if props.contains_key(name) && !seen.contains(&name) {
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
