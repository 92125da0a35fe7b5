//! Reading a content block without buffering it. serde's derived form of an internally tagged
//! enum (`"type": "text"`) first copies the whole block — every string of a 500 KB conversation —
//! into an intermediate tree, then reads the variant from that. Clients write `type` first, so
//! this reads the tag, then the variant's fields straight from the JSON; a block whose `type`
//! comes later is gathered as a JSON object first (the rare, slower path), with the same result.

use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::types::{ContentBlock, Source, ToolResultContent};
use crate::json::literal::without_position;

#[derive(Deserialize)]
struct Text {
    text: String,
}

#[derive(Deserialize)]
struct Image {
    source: Source,
}

#[derive(Deserialize)]
struct Document {
    source: Source,
    #[serde(default)]
    title: Option<String>,
}

#[derive(Deserialize)]
struct ToolUse {
    id: String,
    name: String,
    #[serde(default)]
    input: Value,
}

#[derive(Deserialize)]
struct ToolResult {
    tool_use_id: String,
    #[serde(default)]
    content: Option<ToolResultContent>,
    #[serde(default)]
    is_error: Option<bool>,
}

#[derive(Deserialize)]
struct Thinking {
    #[serde(default)]
    thinking: String,
    #[serde(default)]
    signature: String,
}

#[derive(Deserialize)]
struct SearchResult {
    #[serde(default)]
    source: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    content: Vec<ContentBlock>,
}

#[derive(Deserialize)]
struct ToolReference {
    tool_name: String,
}

#[derive(Deserialize)]
struct ServerToolUse {
    #[serde(default)]
    name: String,
    #[serde(default)]
    input: Value,
}

#[derive(Deserialize)]
struct WebSearchToolResult {
    #[serde(default)]
    content: Value,
}

/// The rest of a block's fields (after its `type`), read as the variant `tag` names.
fn variant<'de, M: MapAccess<'de>>(tag: &str, mut map: M) -> Result<ContentBlock, M::Error> {
    let fields = MapAccessDeserializer::new(&mut map);
    let block = match tag {
        "text" => Text::deserialize(fields).map(|v| ContentBlock::Text { text: v.text }),
        "image" => Image::deserialize(fields).map(|v| ContentBlock::Image { source: v.source }),
        "document" => Document::deserialize(fields).map(|v| ContentBlock::Document {
            source: v.source,
            title: v.title,
        }),
        "tool_use" => ToolUse::deserialize(fields).map(|v| ContentBlock::ToolUse {
            id: v.id,
            name: v.name,
            input: v.input,
        }),
        "tool_result" => ToolResult::deserialize(fields).map(|v| ContentBlock::ToolResult {
            tool_use_id: v.tool_use_id,
            content: v.content,
            is_error: v.is_error,
        }),
        "thinking" => Thinking::deserialize(fields).map(|v| ContentBlock::Thinking {
            thinking: v.thinking,
            signature: v.signature,
        }),
        "search_result" => SearchResult::deserialize(fields).map(|v| ContentBlock::SearchResult {
            source: v.source,
            title: v.title,
            content: v.content,
        }),
        "tool_reference" => {
            ToolReference::deserialize(fields).map(|v| ContentBlock::ToolReference {
                tool_name: v.tool_name,
            })
        }
        "server_tool_use" => {
            ServerToolUse::deserialize(fields).map(|v| ContentBlock::ServerToolUse {
                name: v.name,
                input: v.input,
            })
        }
        "web_search_tool_result" => WebSearchToolResult::deserialize(fields)
            .map(|v| ContentBlock::WebSearchToolResult { content: v.content }),
        _ => {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(ContentBlock::Other)
        }
    }?;
    Ok(block)
}

struct BlockVisitor;

/// A block's members but its `type` (`.0`), read as that variant.
struct Rest<'a>(&'a str);

impl<'de> Visitor<'de> for Rest<'_> {
    type Value = ContentBlock;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a content block's fields")
    }

    fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<ContentBlock, M::Error> {
        variant(self.0, map)
    }
}

impl<'de> Visitor<'de> for BlockVisitor {
    type Value = ContentBlock;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a content block (an object with a `type`)")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<ContentBlock, M::Error> {
        let Some(first) = map.next_key::<String>()? else {
            return Err(de::Error::missing_field("type"));
        };
        if first == "type" {
            let tag: String = map.next_value()?;
            return variant(&tag, map);
        }
        // `type` is not first: gather the object, then read its JSON text as if `type` had come
        // first (a tool result's text kept as its literal is then a copy).
        let mut object = Map::new();
        object.insert(first, map.next_value()?);
        while let Some((k, v)) = map.next_entry::<String, Value>()? {
            object.insert(k, v);
        }
        let tag = match object.remove("type") {
            Some(Value::String(tag)) => tag,
            Some(_) => return Err(de::Error::custom("`type` must be a string")),
            None => return Err(de::Error::missing_field("type")),
        };
        let rest = serde_json::to_string(&object).map_err(de::Error::custom)?;
        // The rewritten text's positions mean nothing to the client: the body's own is added.
        serde_json::Deserializer::from_str(&rest)
            .deserialize_map(Rest(&tag))
            .map_err(|e| de::Error::custom(without_position(&e)))
    }
}

impl<'de> Deserialize<'de> for ContentBlock {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(BlockVisitor)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn block(json: &str) -> Result<ContentBlock, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn type_first_or_later_reads_the_same_and_unknown_types_are_other() {
        let first = block(
            r#"{"type":"tool_use","id":"t1","name":"Read","input":{"a":1},"cache_control":{}}"#,
        )
        .unwrap();
        let later =
            block(r#"{"id":"t1","input":{"a":1},"name":"Read","type":"tool_use"}"#).unwrap();
        assert_eq!(first, later);
        assert!(matches!(first, ContentBlock::ToolUse { ref name, .. } if name == "Read"));
        assert_eq!(
            block(r#"{"type":"web_fetch_tool_result","id":"x","content":{"deep":[1,{"b":2}]}}"#)
                .unwrap(),
            ContentBlock::Other
        );
        assert_eq!(
            block(
                r#"{"type":"server_tool_use","id":"x","name":"web_search","input":{"query":"q"}}"#
            )
            .unwrap(),
            ContentBlock::ServerToolUse {
                name: "web_search".into(),
                input: serde_json::json!({"query": "q"}),
            }
        );
        let nested = block(
            r#"{"type":"tool_result","tool_use_id":"t1","content":[{"text":"ok","type":"text"}]}"#,
        )
        .unwrap();
        assert_eq!(
            nested,
            ContentBlock::ToolResult {
                tool_use_id: "t1".into(),
                content: Some(ToolResultContent::Blocks(vec![ContentBlock::Text {
                    text: "ok".into()
                }])),
                is_error: None,
            }
        );
    }

    #[test]
    fn a_block_whose_type_comes_later_reads_its_tool_text_and_errs_at_the_bodys_position() {
        let later =
            block(r#"{"content":"a \"quoted\"\nline","tool_use_id":"t1","type":"tool_result"}"#)
                .unwrap();
        let ContentBlock::ToolResult {
            content: Some(ToolResultContent::Text(text)),
            ..
        } = later
        else {
            panic!("{later:?}");
        };
        assert_eq!(text.plain(), "a \"quoted\"\nline");
        let e = block(r#"{"text":5,"type":"text"}"#)
            .unwrap_err()
            .to_string();
        // The body's position (the block's end), not one in the block's rewritten text.
        assert!(e.ends_with(" at line 1 column 24"), "{e}");
        assert!(
            e.contains("invalid type: integer `5`, expected a string"),
            "{e}"
        );
    }

    #[test]
    fn a_known_block_with_a_wrong_field_or_no_type_is_an_error() {
        let e = block(r#"{"type":"text","text":5}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("invalid type"), "{e}");
        assert!(block(r#"{"text":"no type"}"#)
            .unwrap_err()
            .to_string()
            .contains("type"));
        assert!(block(r#"{"type":"text"}"#)
            .unwrap_err()
            .to_string()
            .contains("text"));
        assert!(block(r#"{}"#).is_err());
        assert!(block(r#""a string""#).is_err());
    }
}
