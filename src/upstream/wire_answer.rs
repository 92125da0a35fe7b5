//! A function's answer as Gemini's request carries it (`functionResponse.response`): a JSON
//! object, or a tool's text output under one key (`{"output": …}`) kept as the client's own JSON
//! literal. An agent's conversation is mostly tool output (files read, commands run); kept as
//! its literal it goes to Gemini as it came, neither taken out of its escapes nor escaped again
//! (`json::literal`). Both forms read and compare as the JSON object they stand for.

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::json::literal::JsonString;

/// `functionResponse.response`.
#[derive(Debug, Clone)]
pub enum FunctionAnswer {
    /// Any JSON object.
    Object(Value),
    /// `{key: text}`, the text as the client wrote it.
    Text { key: &'static str, text: JsonString },
}

impl FunctionAnswer {
    /// The answer as a JSON value (its text read out of its literal).
    pub fn to_value(&self) -> Value {
        match self {
            Self::Object(value) => value.clone(),
            Self::Text { key, text } => {
                let mut members = Map::new();
                members.insert((*key).to_owned(), Value::String(text.plain().into_owned()));
                Value::Object(members)
            }
        }
    }
}

impl Default for FunctionAnswer {
    fn default() -> Self {
        Self::Object(Value::Null)
    }
}

impl From<Value> for FunctionAnswer {
    fn from(value: Value) -> Self {
        Self::Object(value)
    }
}

impl PartialEq for FunctionAnswer {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Object(a), Self::Object(b)) => a == b,
            _ => self.to_value() == other.to_value(),
        }
    }
}

impl PartialEq<Value> for FunctionAnswer {
    fn eq(&self, other: &Value) -> bool {
        match self {
            Self::Object(value) => value == other,
            Self::Text { .. } => self.to_value() == *other,
        }
    }
}

impl Serialize for FunctionAnswer {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Object(value) => value.serialize(serializer),
            Self::Text { key, text } => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry(key, text)?;
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for FunctionAnswer {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(Self::Object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_text_answer_reads_writes_and_compares_as_the_object_it_stands_for() {
        let literal = r#""line one\nsaid \"hi\" \u00e9""#;
        let answer = FunctionAnswer::Text {
            key: "output",
            text: JsonString::from_literal(literal).unwrap(),
        };
        let object = json!({"output": "line one\nsaid \"hi\" é"});
        assert_eq!(answer.to_value(), object);
        assert_eq!(answer, object);
        assert_eq!(answer, FunctionAnswer::Object(object.clone()));
        // serde writes the client's literal as it came, escapes and all.
        assert_eq!(
            serde_json::to_string(&answer).unwrap(),
            format!(r#"{{"output":{literal}}}"#)
        );
        assert_eq!(serde_json::to_value(&answer).unwrap(), object);
        let other = FunctionAnswer::Text {
            key: "error",
            text: JsonString::from_plain("line one\nsaid \"hi\" é"),
        };
        assert_ne!(answer, other);
    }
}
