//! A translated request written as Gemini's JSON. Its contents and system instruction are
//! nearly all of its bytes (a Claude Code turn: some 20 KB of prompt, conversation and tool
//! results), and serde_json escapes their strings one byte at a time; written here, strings go
//! through `json::escape`, eight bytes at a time. Every other member (generation config, tools,
//! safety settings …) and every part payload not written here is serde's. The bytes are
//! serde_json's own, member for member and escape for escape (tested on generated requests), so
//! Gemini sees no difference; a tool's text kept as the client's literal (`wire_answer`) is
//! written as the client escaped it, by serde too. Each struct is taken apart field by field, so
//! a field added to the wire types does not compile until it is written here too.

use serde::Serialize;
use serde_json::Value;

use super::wire::{
    Content, CountTokensRequest, FunctionCall, FunctionResponse, GenerateContentRequest,
    InlineData, Part,
};
use super::wire_answer::FunctionAnswer;
use crate::json::escape::push_str;

/// A request body as Gemini's JSON.
pub trait WireJson {
    /// Append the JSON to `out` (an error only from a member serde refuses to write).
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()>;
}

impl WireJson for GenerateContentRequest {
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        let Self {
            model,
            contents,
            system_instruction,
            tools,
            tool_config,
            generation_config,
            safety_settings,
            cached_content,
        } = self;
        let mut o = Members::open(out);
        if let Some(model) = model {
            push_str(o.key("model"), model);
        }
        write_contents(o.key("contents"), contents)?;
        if let Some(system) = system_instruction {
            write_content(o.key("systemInstruction"), system)?;
        }
        o.serde("tools", tools)?;
        o.serde("toolConfig", tool_config)?;
        o.serde("generationConfig", generation_config)?;
        o.serde("safetySettings", safety_settings)?;
        if let Some(name) = cached_content {
            push_str(o.key("cachedContent"), name);
        }
        o.close();
        Ok(())
    }
}

impl WireJson for CountTokensRequest {
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        let Self {
            contents,
            generate_content_request,
        } = self;
        let mut o = Members::open(out);
        if let Some(contents) = contents {
            write_contents(o.key("contents"), contents)?;
        }
        if let Some(request) = generate_content_request {
            request.write_json(o.key("generateContentRequest"))?;
        }
        o.close();
        Ok(())
    }
}

/// A request already built as a JSON value (the embeddings' batches).
impl WireJson for Value {
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        write_value(out, self)
    }
}

/// An object's members, written one after another.
struct Members<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Members<'a> {
    fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Self { out, first: true }
    }

    /// Writes `"name":` (after a comma but for the first) and hands back the output for the
    /// value. Names are the wire's own camelCase words: nothing to escape.
    fn key(&mut self, name: &str) -> &mut Vec<u8> {
        if !std::mem::replace(&mut self.first, false) {
            self.out.push(b',');
        }
        self.out.push(b'"');
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    /// A member serde writes, left out when absent (`skip_serializing_if = "Option::is_none"`).
    fn serde<T: Serialize>(&mut self, name: &str, value: &Option<T>) -> serde_json::Result<()> {
        match value {
            Some(value) => serde_json::to_writer(self.key(name), value),
            None => Ok(()),
        }
    }

    fn close(self) {
        self.out.push(b'}');
    }
}

/// A JSON array of `items`, each written by `write`.
fn write_list<T>(
    out: &mut Vec<u8>,
    items: &[T],
    write: fn(&mut Vec<u8>, &T) -> serde_json::Result<()>,
) -> serde_json::Result<()> {
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write(out, item)?;
    }
    out.push(b']');
    Ok(())
}

fn write_contents(out: &mut Vec<u8>, contents: &[Content]) -> serde_json::Result<()> {
    write_list(out, contents, write_content)
}

fn write_content(out: &mut Vec<u8>, content: &Content) -> serde_json::Result<()> {
    let Content { role, parts } = content;
    let mut o = Members::open(out);
    if let Some(role) = role {
        push_str(o.key("role"), role);
    }
    write_list(o.key("parts"), parts, write_part)?;
    o.close();
    Ok(())
}

fn write_part(out: &mut Vec<u8>, part: &Part) -> serde_json::Result<()> {
    let Part {
        text,
        inline_data,
        file_data,
        function_call,
        function_response,
        executable_code,
        code_execution_result,
        thought,
        thought_signature,
    } = part;
    let mut o = Members::open(out);
    if let Some(text) = text {
        push_str(o.key("text"), text);
    }
    if let Some(blob) = inline_data {
        let InlineData { mime_type, data } = &**blob;
        let mut b = Members::open(o.key("inlineData"));
        push_str(b.key("mimeType"), mime_type);
        push_str(b.key("data"), data);
        b.close();
    }
    o.serde("fileData", file_data)?;
    if let Some(call) = function_call {
        let FunctionCall { id, name, args } = &**call;
        let mut c = Members::open(o.key("functionCall"));
        if let Some(id) = id {
            push_str(c.key("id"), id);
        }
        push_str(c.key("name"), name);
        if let Some(args) = args {
            write_value(c.key("args"), args)?;
        }
        c.close();
    }
    if let Some(answer) = function_response {
        let FunctionResponse {
            id,
            name,
            response,
            parts,
        } = &**answer;
        let mut r = Members::open(o.key("functionResponse"));
        if let Some(id) = id {
            push_str(r.key("id"), id);
        }
        push_str(r.key("name"), name);
        match response {
            FunctionAnswer::Object(value) => write_value(r.key("response"), value)?,
            FunctionAnswer::Text { key, text } => {
                let mut answer = Members::open(r.key("response"));
                answer.key(key).extend_from_slice(text.literal());
                answer.close();
            }
        }
        r.serde("parts", parts)?;
        r.close();
    }
    o.serde("executableCode", executable_code)?;
    o.serde("codeExecutionResult", code_execution_result)?;
    if let Some(thought) = thought {
        let literal: &[u8] = if *thought { b"true" } else { b"false" };
        o.key("thought").extend_from_slice(literal);
    }
    if let Some(signature) = thought_signature {
        push_str(o.key("thoughtSignature"), signature);
    }
    o.close();
    Ok(())
}

/// A JSON value (a call's arguments, a function's answer: tool output, often long text).
fn write_value(out: &mut Vec<u8>, value: &Value) -> serde_json::Result<()> {
    match value {
        Value::String(s) => push_str(out, s),
        Value::Array(items) => write_list(out, items, write_value)?,
        Value::Object(members) => {
            out.push(b'{');
            for (i, (key, item)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_str(out, key);
                out.push(b':');
                write_value(out, item)?;
            }
            out.push(b'}');
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => serde_json::to_writer(out, value)?,
    }
    Ok(())
}

#[cfg(test)]
#[path = "wire_json_tests.rs"]
mod tests;
