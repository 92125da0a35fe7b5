//! Damage done to valid requests: a value dropped or replaced at a random path of the JSON, and
//! bytes truncated, flipped or inserted in a captured fixture.

use proptest::prelude::*;
use proptest::sample::{select, Index};
use serde_json::Value;

use super::{FIRST_TURN, TOOL_RESULT_TURN};

/// Every path (as indices into arrays/objects) of `v`, the root included.
pub fn paths(v: &Value, here: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
    out.push(here.clone());
    let children: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        Value::Object(o) => o.values().collect(),
        _ => return,
    };
    for (i, c) in children.into_iter().enumerate() {
        here.push(i);
        paths(c, here, out);
        here.pop();
    }
}

pub fn at_mut<'a>(v: &'a mut Value, path: &[usize]) -> &'a mut Value {
    match path.split_first() {
        None => v,
        Some((&i, rest)) => match v {
            Value::Array(a) => at_mut(&mut a[i], rest),
            Value::Object(o) => at_mut(o.values_mut().nth(i).unwrap(), rest),
            _ => unreachable!(),
        },
    }
}

/// Drop the value at a random path (from its parent) or replace it with `with`.
pub fn mutate(mut v: Value, pick: &Index, drop: bool, with: Value) -> Value {
    let mut all = Vec::new();
    paths(&v, &mut Vec::new(), &mut all);
    let path = pick.get(&all).clone();
    match path.split_last() {
        Some((&last, parent)) if drop => match at_mut(&mut v, parent) {
            Value::Array(a) => {
                a.remove(last);
            }
            Value::Object(o) => {
                let key = o.keys().nth(last).unwrap().clone();
                o.remove(&key);
            }
            _ => unreachable!(),
        },
        _ => *at_mut(&mut v, &path) = with,
    }
    v
}

pub fn fixture_value(first: bool) -> Value {
    serde_json::from_slice(if first { FIRST_TURN } else { TOOL_RESULT_TURN }).unwrap()
}

/// Byte-level damage to a fixture.
#[derive(Debug, Clone)]
pub enum Damage {
    Truncate(Index),
    Flip(Vec<(Index, u8)>),
    Insert(Index, Vec<u8>),
}

pub fn arb_damage() -> BoxedStrategy<Damage> {
    prop_oneof![
        any::<Index>().prop_map(Damage::Truncate),
        prop::collection::vec((any::<Index>(), any::<u8>()), 1..8).prop_map(Damage::Flip),
        (
            any::<Index>(),
            prop_oneof![
                prop::collection::vec(any::<u8>(), 1..8),
                select(vec![
                    b"[[[[".to_vec(),
                    b"\"".to_vec(),
                    b"\\".to_vec(),
                    b"\xff".to_vec(),
                    b"\xc3".to_vec(),
                    b",".to_vec(),
                    b"}".to_vec(),
                    b"null".to_vec(),
                    b"-1".to_vec(),
                    b"1e999".to_vec(),
                ])
            ]
        )
            .prop_map(|(i, b)| Damage::Insert(i, b)),
    ]
    .boxed()
}

pub fn damage(bytes: &[u8], d: &Damage) -> Vec<u8> {
    let mut out = bytes.to_vec();
    match d {
        Damage::Truncate(i) => out.truncate(i.index(bytes.len())),
        Damage::Flip(flips) => {
            for (i, b) in flips {
                let at = i.index(out.len());
                out[at] ^= b | 1;
            }
        }
        Damage::Insert(i, b) => {
            let at = i.index(out.len() + 1);
            out.splice(at..at, b.iter().copied());
        }
    }
    out
}
